"""``emu lab``: the course's labs, listed, shown, checked and hinted.

A lab is a folder ``tutorials/NN-name/``: ``README.md`` (the text, whose
commands the test suite runs as written), the guests it uses, ``lab.toml``
(its metadata, below), one ``emu grade`` spec per exercise and
``answers/``, the instructor's answer key, which ``list``, ``show`` and
``hint`` never read.

``lab.toml``::

    [lab]
    title = "Getting started"
    time = "45 minutes"
    objectives = ["...", ...]
    prerequisites = ["..."]          # optional, may be empty

    [[exercise]]
    title = "Print your name over the UART"
    spec = "exercises/name.toml"     # an emu grade spec; its build.source is the file handed in
    hints = ["...", ...]

A mistake in ``lab.toml`` is one line, ``FILE:LINE: key: what is wrong;
expected ...`` (the line is found as the grader's spec errors find it).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field

from .asm import GAS_EXTENSIONS, NASM_EXTENSIONS
from .grade import report
from .grade.runner import grade
from .grade.spec import SpecError, load as load_spec, spec_error

TUTORIALS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tutorials")
ANSWERS = "answers"
#: what a lab's Makefile makes (lab 10's ARM ELF files): not the lab's files
BUILD = "build"
#: the grader's message for an output that is not the expected one
OUTPUT_DIFFERS = "output differs from the expected output"
_LAB_DIR = re.compile(r"^(\d\d)-[a-z0-9][a-z0-9-]*$")

SCHEMA = {
    (): {"lab": (dict, True), "exercise": (list, True)},
    ("lab",): {"title": (str, True), "time": (str, True), "objectives": (list, True),
               "prerequisites": (list, False)},
    ("exercise",): {"title": (str, True), "spec": (str, True), "hints": (list, True)},
}
_TYPES = {str: "a string", list: "an array", dict: "a table"}


class LabError(Exception):
    """Bad input (an unknown lab, a missing file, a malformed lab.toml): one line."""


@dataclass
class Exercise:
    number: int
    title: str
    spec_path: str
    hints: list
    spec: object = None

    @property
    def file(self) -> str:
        return self.spec.source

    @property
    def names(self) -> tuple:
        """The file names a student may hand in: the spec's, and for an x86
        exercise in kasou's dialect (``name.S``) the same name in NASM
        syntax (``name.asm``, ``name.nasm``), which nasm assembles."""
        stem, ext = os.path.splitext(self.file)
        if self.spec.arch != "x86" or ext not in GAS_EXTENSIONS:
            return (self.file,)
        return (self.file,) + tuple(stem + e for e in NASM_EXTENSIONS)


@dataclass
class Lab:
    number: int
    name: str
    folder: str
    title: str
    time: str
    objectives: list
    prerequisites: list = field(default_factory=list)
    exercises: list = field(default_factory=list)

    def exercise(self, n: int) -> Exercise:
        if not 1 <= n <= len(self.exercises):
            raise LabError(f"lab {self.number} has no exercise {n}; expected 1 to {len(self.exercises)}")
        return self.exercises[n - 1]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def lab_folders(root: str) -> dict:
    """Lab number -> folder, for every ``NN-name`` folder under ``root``."""
    found = {}
    for path in sorted(glob.glob(os.path.join(root, "*", ""))):
        m = _LAB_DIR.match(os.path.basename(os.path.normpath(path)))
        if m:
            found[int(m.group(1))] = os.path.normpath(path)
    return found


def _error(shown: str, text: str, keys: tuple, message: str) -> LabError:
    """A mistake in lab.toml at the line of ``keys``, named by its path ``shown``."""
    return LabError(f"{os.path.dirname(shown)}/{spec_error(shown, text, keys, message)}")


def _check_table(path, text, table, keys) -> None:
    schema = SCHEMA[tuple(k for k in keys if not isinstance(k, int))]
    for k in table:
        if k not in schema:
            raise _error(path, text, keys + (k,), f"unknown key; expected one of: {', '.join(schema)}")
    for k, (typ, required) in schema.items():
        if k not in table:
            if required:
                raise _error(path, text, keys, f"missing key '{k}'")
            continue
        if not isinstance(table[k], typ):
            raise _error(path, text, keys + (k,),
                         f"{type(table[k]).__name__} {table[k]!r}; expected {_TYPES[typ]}")
        if typ is list and k != "exercise" and not all(isinstance(s, str) for s in table[k]):
            raise _error(path, text, keys + (k,), "expected an array of strings")


def load_lab(root: str, number: int) -> Lab:
    """Lab ``number`` under ``root``, checked: its lab.toml and every exercise's spec."""
    folders = lab_folders(root)
    if number not in folders:
        have = ", ".join(str(n) for n in folders) or "none"
        raise LabError(f"no lab {number}; expected one of: {have}")
    folder = folders[number]
    path = os.path.join(folder, "lab.toml")
    shown = os.path.relpath(path, os.path.dirname(root))
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise LabError(f"{shown}: cannot read ({e.strerror}); expected the lab's metadata") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LabError(f"{shown}: not valid TOML: {e}") from None
    _check_table(shown, text, data, ())
    _check_table(shown, text, data["lab"], ("lab",))
    meta = data["lab"]
    lab = Lab(number, os.path.basename(folder), folder, meta["title"], meta["time"],
              meta["objectives"], meta.get("prerequisites", []))
    if not data["exercise"]:
        raise _error(shown, text, ("exercise",), "no exercises; expected at least one")
    for i, ex in enumerate(data["exercise"]):
        keys = ("exercise", i)
        if not isinstance(ex, dict):
            raise _error(shown, text, keys, "expected a table ([[exercise]])")
        _check_table(shown, text, ex, keys)
        spec_path = os.path.join(folder, ex["spec"])
        answers = os.path.abspath(os.path.join(folder, ANSWERS))
        if os.path.commonpath([os.path.abspath(spec_path), answers]) == answers:
            raise _error(shown, text, keys + ("spec",),
                         "inside answers/; expected a spec students may read")
        if not os.path.isfile(spec_path):
            raise _error(shown, text, keys + ("spec",),
                         f"no file {ex['spec']}; expected an emu grade spec")
        try:
            spec = load_spec(spec_path)
        except SpecError as e:
            raise LabError(f"{os.path.relpath(os.path.dirname(spec_path), os.path.dirname(root))}/{e}") from None
        if spec.source is None or any(c in spec.source for c in "*?["):
            raise _error(shown, text, keys + ("spec",),
                         "its build.source is not one file name; expected e.g. 'name.S'")
        lab.exercises.append(Exercise(i + 1, ex["title"], spec_path, ex["hints"], spec))
    return lab


def _points(v: float) -> str:
    return f"{v:g}"


def list_labs(root: str, out) -> None:
    for n in lab_folders(root):
        lab = load_lab(root, n)
        out.write(f"{n:>2}  {lab.name:<16} {lab.title} ({lab.time}, "
                  f"{_count(len(lab.exercises), 'exercise')})\n")
    out.write("'emu lab show N' shows lab N; 'emu lab check N' checks your exercises\n")


def show_lab(root: str, number: int, out) -> None:
    """The lab's metadata, its files (never answers/) and its README."""
    lab = load_lab(root, number)
    out.write(f"Lab {lab.number}: {lab.title}\n")
    out.write(f"time: {lab.time}\n")
    out.write("prerequisites: " + ("; ".join(lab.prerequisites) or "none") + "\n")
    out.write("you will learn to:\n")
    for o in lab.objectives:
        out.write(f"  - {o}\n")
    out.write("exercises (emu lab check " + str(lab.number) + "):\n")
    for ex in lab.exercises:
        pts = sum(t.points for t in ex.spec.tests)
        out.write(f"  {ex.number}. {ex.title}: hand in {ex.file} ({_points(pts)} points)\n")
    files = []
    for dirpath, dirnames, filenames in os.walk(lab.folder):
        rel = os.path.relpath(dirpath, lab.folder)
        dirnames[:] = sorted(d for d in dirnames if not (rel == "." and d in (ANSWERS, BUILD)))
        files += [os.path.normpath(os.path.join(rel, f)) for f in sorted(filenames)]
    out.write("files: " + ", ".join(f"tutorials/{lab.name}/{f}" for f in files) + "\n\n")
    try:
        with open(os.path.join(lab.folder, "README.md"), encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise LabError(f"tutorials/{lab.name}/README.md: cannot read ({e.strerror}); "
                       "expected the lab's text") from None
    out.write(text)


def hint_lab(root: str, number: int, exercise: int | None, out) -> None:
    lab = load_lab(root, number)
    chosen = lab.exercises if exercise is None else [lab.exercise(exercise)]
    for ex in chosen:
        out.write(f"exercise {ex.number} ({ex.file}): {ex.title}\n")
        for k, h in enumerate(ex.hints, 1):
            out.write(f"  hint {k}: {h}\n")


def _submissions(lab: Lab, files: list) -> dict:
    """Exercise number -> (the folder holding its file, the file's name);
    absent: not handed in.  ``files`` are the student's files (matched by
    name, see :attr:`Exercise.names`) or folders."""
    by_name = {name: ex for ex in lab.exercises for name in ex.names}
    expected = ", ".join(ex.file for ex in lab.exercises)
    found = {}
    for f in files or ["."]:
        if os.path.isdir(f):
            for ex in lab.exercises:
                for name in ex.names:
                    if os.path.isfile(os.path.join(f, name)) and ex.number not in found:
                        found[ex.number] = (f, name)
        elif not os.path.exists(f):
            raise LabError(f"{f}: no such file; expected one of your files: {expected}")
        elif os.path.basename(f) not in by_name:
            raise LabError(f"{f}: not a file of lab {lab.number}; expected one of: {expected}"
                           + (" (or the same name .asm, in NASM syntax)"
                              if any(len(ex.names) > 1 for ex in lab.exercises) else ""))
        else:
            name = os.path.basename(f)
            found[by_name[name].number] = (os.path.dirname(f) or ".", name)
    return found


def _shown(line: str, room: int = 60) -> str:
    return repr(line) if len(line) <= room else repr(line[:room]) + "..."


def _output_difference(lines: list) -> str:
    """The first line that differs in the grader's unified diff of the
    output (``lines`` from ``--- expected`` on): ``output line N: expected
    '...', got '...'``; "" when there is none."""
    removed, added, number = [], [], 0
    for line in lines[2:]:                      # after '--- expected', '+++ your output'
        m = re.match(r"@@ -(\d+)", line)
        if m and not (removed or added):
            number = int(m.group(1))
        elif line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
        elif line.startswith(" ") and not (removed or added):
            number += 1
        else:
            break
    if not (removed or added):
        return ""
    want = _shown(removed[0]) if removed else "no line"
    got = _shown(added[0]) if added else "no line"
    return f"output line {number}: expected {want}, got {got}"


def _first_failure(text: str) -> str:
    """What a failing test's report says first, made specific: the first
    line of the output that differs (rather than only "output differs"),
    and for a program whose exit status was wrong, the last line it wrote
    to standard error (an unserved exit, a traceback's message) or else
    to its output (a checker's verdict)."""
    lines = text.splitlines()
    what = lines[0] if lines else "failed"
    if "--- expected" in lines:
        diff = _output_difference(lines[lines.index("--- expected"):])
        if diff:
            what = diff if what == OUTPUT_DIFFERS else f"{what}; {diff}"
    for section in ("standard error:", "output:"):
        if what.startswith("exit status:") and section in lines:
            rest = lines[lines.index(section) + 1:]
            rest = rest[:rest.index("standard error:")] if "standard error:" in rest else rest
            said = [s.strip() for s in rest if s.strip()]
            if said:
                return f"{what}; {section} {_shown(said[-1], 200)}"
    return what


def check_lab(root: str, number: int, files: list, accel, out) -> int:
    """Grade each exercise handed in; 0 when every test of every exercise passes."""
    lab = load_lab(root, number)
    handed = _submissions(lab, files)
    summary, failing, missing = [], None, None
    for ex in lab.exercises:
        folder, name = handed.get(ex.number, (None, None))
        pts = sum(t.points for t in ex.spec.tests)
        if folder is None:
            summary.append(f"  {ex.number}. {ex.file:<12} 0/{_points(pts)}  not handed in")
            missing = missing or (ex, f"write {ex.file} (in this folder, or name it: "
                                      f"emu lab check {lab.number} path/to/{ex.file})")
            continue
        spec = ex.spec if name == ex.file else dataclasses.replace(ex.spec, source=name)
        result = grade(spec, folder, os.path.normpath(os.path.join(folder, name)), accel)
        out.write(f"exercise {ex.number}: {ex.title}\n")
        out.write(report.text(ex.spec, result) + "\n")
        passed = sum(t.outcome == "pass" for t in result.tests)
        state = "passed" if passed == len(result.tests) else f"{passed} of {len(result.tests)} tests pass"
        summary.append(f"  {ex.number}. {name:<12} {_points(result.score)}/{_points(pts)}  {state}")
        if passed < len(result.tests) and failing is None:
            first = next(t for t in result.tests if t.outcome != "pass")
            failing = (ex, f"'{first.name}': {_first_failure(first.output)}")
    todo = failing or missing
    out.write(f"lab {lab.number}: {lab.title}\n")
    out.write("\n".join(summary) + "\n")
    if todo is None:
        out.write("the exercise passes\n" if len(lab.exercises) == 1
                  else f"all {len(lab.exercises)} exercises pass\n")
        return 0
    ex, what = todo
    out.write(f"next: exercise {ex.number}, {what}; a hint: emu lab hint {lab.number} {ex.number}\n")
    return 1


def add_arguments(p) -> None:
    p.add_argument("--labs", default=TUTORIALS, metavar="DIR",
                   help="the folder holding the labs (default: this checkout's tutorials/)")
    sub = p.add_subparsers(dest="lab_cmd", metavar="list|show|check|hint")
    sub.add_parser("list", help="the labs, with their titles and time estimates")
    s = sub.add_parser("show", help="a lab's objectives, exercises, files and text")
    s.add_argument("lab", type=int, help="the lab's number")
    c = sub.add_parser("check", help="grade your exercises of a lab")
    c.add_argument("lab", type=int, help="the lab's number")
    c.add_argument("files", nargs="*", help="your files or their folder (default: the current folder)")
    c.add_argument("-accel", "--accel", dest="lab_accel", choices=("interp", "tcg"),
                   help="engine (default: each exercise's spec's)")
    h = sub.add_parser("hint", help="the hints of a lab's exercises")
    h.add_argument("lab", type=int, help="the lab's number")
    h.add_argument("exercise", type=int, nargs="?", help="one exercise (default: all)")


def run(args) -> int:
    out = sys.stdout
    try:
        if args.lab_cmd == "list":
            list_labs(args.labs, out)
            return 0
        if args.lab_cmd == "show":
            show_lab(args.labs, args.lab, out)
            return 0
        if args.lab_cmd == "hint":
            hint_lab(args.labs, args.lab, args.exercise, out)
            return 0
        if args.lab_cmd == "check":
            return check_lab(args.labs, args.lab, args.files, args.lab_accel, out)
        print("emu lab: no subcommand given; expected list, show N, check N [FILES] or hint N",
              file=sys.stderr)
        return 2
    except LabError as e:
        print(f"emu lab: {e}", file=sys.stderr)
        return 2
