"""NASM sources assembled by ``nasm`` itself (NASM manual ch. 8, "The bin
output format"), the judge for NASM syntax.

Three runs of nasm, each bounded in time:

1. ``nasm -f bin`` on the source, with a pre-included ``[map all FILE]``
   (§8.1.4): the image's bytes, and from the map the program origin, each
   section's start and every label's address (local labels as
   ``start.loop``);
2. ``nasm -E``: the preprocessed source, whose ``%line N+K FILE`` markers
   say which file and line each line comes from (includes, macros);
3. ``nasm -f bin -l`` on that text with the markers blanked out: the
   listing gives each line's offset in its section.  Its bytes must equal
   run 1's, else the line map is left out rather than wrong.

Addresses in the image are where the board loads it (``base``) plus the
offset in the file, whatever ``org`` says: the debugger breaks on the
address the code runs at in memory.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from .base import LIBRARY, TIMEOUT, Image, ImageError, read_lines, run_tool

_ERROR = re.compile(r"^(.*?):(\d+): (?:error|fatal): (.*)$")
_LINE_MARK = re.compile(r"^%line\s+(\d+)\+(\d+)\s+(.*)$")
_LISTING = re.compile(r"^\s*(\d+)\s([0-9A-F]{8})\s")
_SECTION = re.compile(r"^\s*\[?\s*(?:section|segment)\s+([^\s\]]+)", re.I)


def available() -> bool:
    return shutil.which("nasm") is not None


def version() -> str:
    r = run_tool(["nasm", "-v"], "nasm -v")
    words = r.stdout.split()
    return f"nasm {words[2]}" if len(words) > 2 else "nasm"


def _error(r, path: str, what: str) -> ImageError:
    """nasm's first error as one line, with the file and line it names."""
    for line in (r.stderr or r.stdout).splitlines():
        m = _ERROR.match(line)
        if m:
            return ImageError(f"{m.group(1)}:{m.group(2)}: {m.group(3)} ({what})")
    text = " ".join((r.stderr or r.stdout).split()) or f"exit status {r.returncode}"
    return ImageError(f"{path}:1: {text} ({what})")


def assemble(source: str, path: str, base: int = 0x7C00, bits: int = 16,
             timeout: float = TIMEOUT) -> Image:
    """Assemble the NASM source in ``path`` (its text is ``source``)."""
    what = version()
    where = os.path.dirname(os.path.abspath(path))
    includes = [f"-I{where}{os.sep}", f"-I{LIBRARY}{os.sep}"]
    with tempfile.TemporaryDirectory(prefix="kasou-nasm-") as tmp:
        out, lst, mapfile = (os.path.join(tmp, n) for n in ("out.bin", "out.lst", "out.map"))
        pre = os.path.join(tmp, "map.inc")
        with open(pre, "w") as f:
            f.write(f"[map all {mapfile}]\n")
        if bits != 16:
            with open(pre, "a") as f:
                f.write(f"[bits {bits}]\n")
        r = run_tool(["nasm", "-f", "bin", *includes, "-p", pre, "-o", out, path], path,
                     timeout)
        if r.returncode != 0:
            raise _error(r, path, what)
        with open(out, "rb") as f:
            data = f.read()
        with open(mapfile) as f:
            origin, starts, symbols = _read_map(f.read())
        img = Image(data, path, base, assembler=what)
        img.symbols = {k: base + v - origin for k, v in symbols.items()}
        img.source = source.splitlines()
        img.sources = {path: img.source}
        r = run_tool(["nasm", "-E", *includes, "-p", pre, path], path, timeout)
        if r.returncode != 0:
            return img
        text, origins = _unmark(r.stdout)
        flat = os.path.join(tmp, "flat.asm")
        with open(flat, "w") as f:
            f.write("\n".join(text) + "\n")
        flat_out = os.path.join(tmp, "flat.bin")
        r = run_tool(["nasm", "-f", "bin", *includes, "-o", flat_out, "-l", lst, flat], path,
                     timeout)
        if r.returncode != 0 or not os.path.exists(flat_out):
            return img
        with open(flat_out, "rb") as f:
            if f.read() != data:
                return img
        with open(lst, errors="replace") as f:
            listing = f.read()
    img.lines = _line_map(listing, text, origins, starts, origin, base)
    for name, _ in img.lines.values():
        if name not in img.sources:
            img.sources[name] = read_lines(name, os.path.join(where, name))
    return img


def _read_map(text: str):
    """(origin, section -> start, label -> address) from a NASM map file."""
    origin, starts, symbols, part = 0, {}, {}, None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("-- Program origin"):
            origin = int(lines[i + 2].split()[0], 16)
        elif line.startswith("-- Sections (summary)"):
            part = "sections"
        elif line.startswith("-- Sections (detailed)"):
            part = None
        elif line.startswith("-- Symbols"):
            part = "symbols"
        elif part == "sections" and line.strip() and not line.startswith("Vstart"):
            fields = line.split()
            if len(fields) >= 6:
                starts[fields[5]] = int(fields[1], 16)
        elif part == "symbols" and line.strip() and not line.startswith(("Real", "----")):
            fields = line.split()
            if len(fields) >= 3:
                symbols[fields[2]] = int(fields[0], 16)
    return origin, starts, symbols


def _unmark(text: str):
    """The preprocessed source with its ``%line`` markers blanked, and for
    each line the (file, line number) it comes from."""
    out, origins = [], []
    name, n, step = None, 0, 1
    for line in text.splitlines():
        m = _LINE_MARK.match(line)
        if m:
            n, step, name = int(m.group(1)), int(m.group(2)), m.group(3).strip()
            out.append("")
            origins.append(None)
            continue
        out.append(line)
        origins.append((name, n) if name else None)
        n += step
    return out, origins


def _line_map(listing: str, text: list, origins: list, starts: dict, origin: int,
              base: int) -> dict:
    """address -> (file, line) from the listing of the flattened source:
    the listing's offsets count from the start of the line's section."""
    first = {}
    for line in listing.splitlines():
        m = _LISTING.match(line)
        if m:
            first.setdefault(int(m.group(1)), int(m.group(2), 16))
    section = ".text"
    lines = {}
    for k, src in enumerate(text, 1):
        m = _SECTION.match(src)
        if m:
            section = m.group(1)
        if k in first and origins[k - 1] is not None and section in starts:
            addr = base + starts[section] - origin + first[k]
            lines.setdefault(addr, origins[k - 1])
    return lines
