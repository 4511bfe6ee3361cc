"""Rewrite the generated part of a document between its markers (the text
around it is written by hand and kept).  Shared by the report tools."""

from __future__ import annotations

import sys

END = "<!-- END GENERATED -->"


def rewrite_generated(path: str, begin: str, text: str, end: str = END) -> int:
    """Replace the section from ``begin`` to ``end`` (markers included) in
    ``path`` with ``text``, which carries the markers itself.  Returns a process exit status (errors are one line on stderr)."""
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        print(f"error: {path}: no generated-section markers", file=sys.stderr)
        return 1
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(head + text + tail)
    print(f"{path}: tables rewritten")
    return 0
