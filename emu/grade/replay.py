"""Open kasou's debugger where a graded test went wrong.

The test is started exactly as the grader starts it (:func:`.runner.start`
on a fresh machine), handed to a debugger :class:`~emu.debug.session.Session`
(which records from there, so ``reverse-stepi`` and ``reverse-continue``
go back through the test), and stepped the number of instructions the
graded run executed: the debugger stands at the instruction that faulted,
at the return to the caller, at the loop the grader found, or where the
limit stopped it.

Two ways in: ``emu grade SPEC DIR --debug-test NAME`` grades the test again
from the spec and the submission; ``emu grade ... --replay OUT`` writes a
*replay file* per failed visible test, and ``emu debug --replay FILE``
opens it with nothing else at hand.  A replay file is self-contained JSON
(:data:`FORMAT`): the image (base64, with its SHA-256), its labels, the
submission's own source lines, the test's start (the call, its
arguments, the setup registers and memory, the UART input), the engine,
the number of instructions to step, and the PC and registers the grader
saw there, which the opened replay must reproduce.  It holds nothing of
the spec but that one test: no expected values, no other test; the image
does contain the instructor's harness and data as bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re

from ..debug.repl import run_repl
from ..debug.session import Session
from ..loader import Image
from .runner import HarnessFailed, TestResult, build_spec, run_test, start
from .spec import Memory, Spec, Test
from .arches import get_arch
from .target import Build, BuildError

FORMAT = "kasou-grade-replay/1"
ENGINES = ("interp", "tcg")


class ReplayError(Exception):
    """The test cannot be opened (one line)."""


class Opened:
    """A test standing where the graded run stopped, in a recording
    debugger session (``session``); ``close()`` frees the machine."""

    def __init__(self, arch: str, bits: int, harness: bool, build: Build, test: Test, accel: str,
                 icount: int, history_size: int = 1_000_000, interrupts: bool = False):
        self.target = get_arch(arch).target(build, bits, accel, test.uart_input.encode("utf-8"))
        try:
            start(harness, build, test, self.target, interrupts)
        except HarnessFailed as e:
            self.target.close()
            raise ReplayError(str(e)) from None
        self.session = Session(self.target.machine, debug_image(build), history_size=history_size)
        if icount:
            self.session.step(icount)

    def state(self) -> dict:
        return self.target.state()

    def close(self) -> None:
        self.target.close()


def debug_image(build: Build) -> Image:
    """The image as the debugger knows one: a Thumb function's label at its
    address without bit 0 (the Build keeps the bit for the call), the
    student's file names as the report shows them."""
    symbols = {k: v & ~1 if v & ~1 in build.thumb else v for k, v in build.symbols.items()}
    return Image(build.data, "submission", build.base, symbols=symbols,
                 lines={a: (build.display(f), n) for a, (f, n) in build.lines.items()},
                 sources={build.display(f): text for f, text in build.sources.items()},
                 thumb=set(build.thumb))


def _header(name: str, outcome: str, icount: int, output: str) -> str:
    return f"{name}: {outcome} after {icount} instructions ({output.splitlines()[0]})"


def debug_test(spec: Spec, submission_dir: str, test_name: str, accel: str,
               stdin, stdout, interactive: bool) -> int:
    tests = {t.name: t for t in spec.tests}
    if test_name not in tests:
        raise ReplayError(f"no test named '{test_name}'; expected one of: {', '.join(tests)}")
    test = tests[test_name]
    try:
        build = build_spec(spec, submission_dir)
    except BuildError as e:
        raise ReplayError(f"build error: {e}") from None
    graded = run_test(spec, build, test, accel)
    opened = Opened(spec.arch, spec.bits, spec.harness is not None, build, test, accel, graded.icount,
                    interrupts=spec.interrupts)
    print(_header(test.name, graded.outcome, graded.icount, graded.output), file=stdout)
    try:
        return run_repl(opened.session, stdin, stdout, interactive=interactive,
                        echo=not interactive)
    finally:
        opened.close()


# -- replay files --------------------------------------------------------------------------

def file_name(test_name: str) -> str:
    """The replay file's name for a test: its name in letters, digits and '-'."""
    return (re.sub(r"[^A-Za-z0-9]+", "-", test_name).strip("-") or "test") + ".replay.json"


def document(spec: Spec, build: Build, test: Test, result: TestResult, accel: str) -> dict:
    """The replay file of ``test`` of a graded submission (see the module doc)."""
    student = {f for f, _ in (build.lines[a] for a in build.student if a in build.lines)}
    return {
        "format": FORMAT,
        "assignment": spec.name,
        "test": test.name,
        "outcome": result.outcome,
        "message": result.output.splitlines()[0] if result.output else "",
        "arch": spec.arch,
        "bits": spec.bits,
        "harness": spec.harness is not None,
        "interrupts": spec.interrupts,
        "engine": accel,
        "base": build.base,
        "entry": build.entry,
        "image": base64.b64encode(build.data).decode("ascii"),
        "image_sha256": hashlib.sha256(build.data).hexdigest(),
        "symbols": {k: v for k, v in build.symbols.items()},
        "thumb": sorted(build.thumb),
        "lines": {str(a): [build.display(f), n] for a, (f, n) in build.lines.items()
                  if f in student},
        "sources": {build.display(f): build.sources[f] for f in student if f in build.sources},
        "start": {
            "call": test.call,
            "args": test.args,
            "registers": test.registers,
            "memory": [{"at": m.at, "bytes": base64.b64encode(m.data).decode("ascii")}
                       for m in test.memory],
            "uart_input": test.uart_input,
            "instructions": test.instructions,
        },
        "instructions": result.icount,
        "state": result.state,
    }


def write(path: str, doc: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def _field(doc: dict, key: str, kind, where: str = ""):
    v = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        raise ReplayError(f"'{where}{key}' is missing or malformed; expected a replay file "
                          f"written by emu grade --replay")
    return v


def read(path: str) -> dict:
    """A replay file, checked (raises :class:`ReplayError`, one line)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise ReplayError(f"cannot read ({e.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReplayError(f"not a replay file (not JSON: {e}); expected a file written by "
                          f"emu grade --replay") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ReplayError(f"not a replay file of this kasou (format "
                          f"{doc.get('format') if isinstance(doc, dict) else None!r}); "
                          f"expected '{FORMAT}'")
    for key, kind in (("test", str), ("outcome", str), ("message", str), ("bits", int),
                      ("harness", bool), ("engine", str), ("image", str), ("image_sha256", str),
                      ("symbols", dict), ("lines", dict), ("sources", dict), ("start", dict),
                      ("instructions", int), ("state", dict)):
        _field(doc, key, kind)
    arch = doc.setdefault("arch", "x86")
    if arch not in ("x86", "arm"):
        raise ReplayError(f"arch {arch!r}; expected 'x86' or 'arm'")
    if doc["bits"] not in get_arch(arch).bits:
        raise ReplayError(f"bits {doc['bits']}; expected "
                          f"{' or '.join(str(b) for b in get_arch(arch).bits)} for {arch}")
    if doc["engine"] not in ENGINES:
        raise ReplayError(f"engine '{doc['engine']}'; expected one of: {', '.join(ENGINES)}")
    try:
        doc["image"] = base64.b64decode(doc["image"], validate=True)
    except binascii.Error:
        raise ReplayError("the image is not base64; expected a file written by "
                          "emu grade --replay") from None
    if hashlib.sha256(doc["image"]).hexdigest() != doc["image_sha256"]:
        raise ReplayError("the image does not match its SHA-256 (the file was changed or "
                          "cut); expected the file as emu grade wrote it")
    return doc


def _test(doc: dict) -> Test:
    s = doc["start"]
    try:
        memory = [Memory(m["at"], base64.b64decode(m["bytes"], validate=True))
                  for m in _field(s, "memory", list, "start.")]
        return Test(name=doc["test"], points=0, index=0, call=s.get("call"),
                    args=_field(s, "args", list, "start."),
                    registers=_field(s, "registers", dict, "start."),
                    memory=memory, uart_input=_field(s, "uart_input", str, "start."),
                    instructions=_field(s, "instructions", int, "start."))
    except (KeyError, TypeError, binascii.Error):
        raise ReplayError("'start.memory' is malformed; expected a replay file written by "
                          "emu grade --replay") from None


def _build(doc: dict) -> Build:
    try:
        symbols = {str(k): int(v) for k, v in doc["symbols"].items()}
        lines = {int(a): (str(f), int(n)) for a, (f, n) in doc["lines"].items()}
        sources = {str(f): [str(x) for x in text] for f, text in doc["sources"].items()}
        thumb = {int(a) for a in doc.get("thumb", [])}      # none before Thumb functions
    except (TypeError, ValueError):
        raise ReplayError("'symbols', 'lines', 'sources' or 'thumb' is malformed; expected a "
                          "replay file written by emu grade --replay") from None
    try:
        # a file without them is from before ARM: an x86 image at 0x7C00
        base, entry = int(doc.get("base", 0x7C00)), doc.get("entry")
        entry = None if entry is None else int(entry)
    except (TypeError, ValueError):
        raise ReplayError("'base' or 'entry' is malformed; expected a replay file written by "
                          "emu grade --replay") from None
    return Build(doc["image"], symbols, lines, sources, base=base, entry=entry, thumb=thumb)


def open_replay(path: str, history_size: int = 1_000_000) -> tuple:
    """(the header line, an :class:`Opened` test) for replay file ``path``,
    checked to stand where the grader's run stopped."""
    doc = read(path)
    test = _test(doc)
    build = _build(doc)
    label = test.call
    if label is not None and label not in build.symbols:
        raise ReplayError(f"the call '{label}' is not a label of the image; expected a "
                          f"replay file written by emu grade --replay")
    try:
        opened = Opened(doc["arch"], doc["bits"], doc["harness"], build, test, doc["engine"],
                        doc["instructions"], history_size, bool(doc.get("interrupts", False)))
    except (KeyError, TypeError, ValueError) as e:
        raise ReplayError(f"the test's start is malformed ({e}); expected a replay file "
                          f"written by emu grade --replay") from None
    got = opened.state()
    want = doc["state"]
    diff = [k for k in got if want.get(k) != got[k]]
    if diff:
        opened.close()
        k = diff[0]
        shown = want.get(k)
        shown = f"0x{shown:x}" if isinstance(shown, int) else repr(shown)
        raise ReplayError(f"the replay does not reach the graded state ({k} is 0x{got[k]:x}, "
                          f"the grader saw {shown}); expected a replay of this kasou's grader")
    header = _header(doc["test"], doc["outcome"], doc["instructions"], doc["message"] or "-")
    return header, opened
