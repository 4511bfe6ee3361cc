"""The grading spec: one TOML file per assignment (docs/grading.md).

Read with ``tomllib``; every key is checked against the schema below, and a
mistake is reported as ``FILE:LINE: key: what is wrong, what was expected``
(tomllib gives no line numbers for keys, so :func:`locate` finds the line
of a key path in the TOML text itself).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field

from ..exits import EXIT_REASONS
from .arches import get_arch
from .target import Arch, BuildError

ARCHES = ("x86", "arm", "python")
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
NORMALISE = ("exact", "trailing-whitespace", "whitespace")


class SpecError(Exception):
    """A malformed spec: one line naming the file, the line and the key."""


# -- the schema: key -> (type, required) per table ------------------------------------
_INT = int
_STR = str
_LIST = list
_DICT = dict
_BOOL = bool
SCHEMA = {
    (): {"assignment": (_DICT, True), "build": (_DICT, True), "limits": (_DICT, False),
         "report": (_DICT, False), "defaults": (_DICT, False), "test": (_LIST, True)},
    ("assignment",): {"name": (_STR, True), "arch": (_STR, True), "board": (_STR, False),
                      "bits": (_INT, False), "accel": (_STR, False), "interrupts": (_BOOL, False)},
    ("build",): {"source": (_STR, False), "binary": (_STR, False), "harness": (_STR, False),
                 "after": (_STR, False), "provides": (_LIST, False)},
    ("limits",): {"instructions": (_INT, False), "seconds": (_INT, False)},
    ("report",): {"trace": (_INT, False), "leaderboard": (_BOOL, False)},
    ("test",): {"name": (_STR, True), "points": ((int, float), True), "visibility": (_STR, False),
                "tags": (_LIST, False), "call": (_STR, False), "args": (_LIST, False),
                "setup": (_DICT, False), "limits": (_DICT, False), "expect": (_DICT, False)},
    ("test", "setup"): {"registers": (_DICT, False), "memory": (_LIST, False),
                        "uart_input": (_STR, False)},
    ("test", "limits"): {"instructions": (_INT, False), "seconds": (_INT, False)},
    ("test", "expect"): {"output": (_STR, False), "output_regex": (_STR, False),
                         "normalise": (_STR, False), "registers": (_DICT, False),
                         "memory": (_LIST, False), "return": (_INT, False),
                         "return64": (_INT, False),
                         "exit_code": (_INT, False), "preserves": (_BOOL, False),
                         "stack_balanced": (_BOOL, False), "no_code_writes": (_BOOL, False),
                         "forbid": (_LIST, False), "allow": (_LIST, False),
                         "max_instructions": (_INT, False), "min_instructions": (_INT, False),
                         "exits": (_DICT, False), "max_exits": (_INT, False)},
    # arch = "python": a program (a VMM, a tool) graded by what it prints
    ("program",): {"assignment": (_DICT, True), "build": (_DICT, True), "limits": (_DICT, False),
                   "defaults": (_DICT, False), "test": (_LIST, True)},
    ("program", "assignment"): {"name": (_STR, True), "arch": (_STR, True)},
    ("program", "build"): {"source": (_STR, True)},
    ("program", "limits"): {"seconds": (_INT, False)},
    ("program", "test"): {"name": (_STR, True), "points": ((int, float), True),
                          "visibility": (_STR, False), "tags": (_LIST, False), "args": (_LIST, False),
                          "setup": (_DICT, False), "limits": (_DICT, False), "expect": (_DICT, False)},
    ("program", "test", "setup"): {"stdin": (_STR, False)},
    ("program", "test", "limits"): {"seconds": (_INT, False)},
    ("program", "test", "expect"): {"output": (_STR, False), "output_regex": (_STR, False),
                                    "normalise": (_STR, False), "exit_code": (_INT, False)},
    ("memory",): {"at": ((int, str), True), "bytes": (_LIST, False), "words": (_LIST, False),
                  "size": (_INT, False), "text": (_STR, False), "asciz": (_STR, False)},
}
_TYPE_NAMES = {int: "an integer", str: "a string", list: "an array", dict: "a table",
               bool: "true or false", (int, float): "a number", (int, str): "an integer or a label"}


@dataclass
class Memory:
    at: int | str
    data: bytes


@dataclass
class Test:
    name: str
    points: float
    index: int
    visibility: str = "visible"
    tags: list = field(default_factory=list)
    call: str | None = None
    args: list = field(default_factory=list)
    registers: dict = field(default_factory=dict)
    memory: list = field(default_factory=list)
    uart_input: str = ""
    stdin: str = ""                     # arch = "python": the program's standard input
    instructions: int = 100_000
    seconds: int = 10
    expect: dict = field(default_factory=dict)
    expect_memory: list = field(default_factory=list)


@dataclass
class Spec:
    path: str
    name: str
    arch: str
    board: str
    bits: int
    accel: str
    source: str | None
    binary: str | None
    harness: str | None
    after: str | None
    tests: list
    trace: int = 16
    leaderboard: bool = False
    text: str = ""
    provides: list = field(default_factory=list)
    interrupts: bool = False            # the program installs IVT handlers (the IVT stays open)

    @property
    def folder(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))

    def error(self, keys: tuple, message: str) -> SpecError:
        return spec_error(self.path, self.text, keys, message)


def spec_error(path: str, text: str, keys: tuple, message: str) -> SpecError:
    line = locate(text, keys)
    if keys[:1] == ("test",) and len(keys) > 2 and line == locate(text, keys[:2]):
        # not written in the test itself: a key merged from [defaults]
        there = locate(text, ("defaults",) + keys[2:])
        if there and there != locate(text, ("defaults",)):
            line = there
    dotted = ".".join(str(k) if not isinstance(k, int) else f"[{k}]" for k in keys).replace(".[", "[")
    where = f"{os.path.basename(path)}:{line}" if line else os.path.basename(path)
    return SpecError(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")


def locate(text: str, keys: tuple) -> int:
    """The line number (1-based) where the key path ``keys`` is written in
    the TOML ``text`` (an int in the path is an index into an array of
    tables or an array), or of its nearest enclosing table; 0 if unknown."""
    lines = text.splitlines()
    # segments: (header path with array indices, first line, last line)
    segments, counts = [((), 0)], {}
    for n, line in enumerate(lines):
        m = _HEADER.match(line)
        if not m:
            continue
        names = tuple(p.strip().strip('"') for p in m.group(2).split("."))
        if m.group(1) == "[[":
            counts[names] = counts.get(names, -1) + 1
        path = []
        for k in range(1, len(names) + 1):
            path.append(names[k - 1])
            if names[:k] in counts and (k < len(names) or m.group(1) == "[["):
                path.append(counts[names[:k]])
        segments.append((tuple(path), n))
    named = tuple(k for k in keys)
    best, best_len = None, -1
    for i, (path, start) in enumerate(segments):
        if named[:len(path)] == path and len(path) > best_len:
            end = segments[i + 1][1] if i + 1 < len(segments) else len(lines)
            best, best_len = (start, end), len(path)
    if best is None:
        return 0
    start, end = best
    rest = [k for k in named[best_len:] if not isinstance(k, int)]
    line_no = start + 1 if best_len else 0
    pos = start + (1 if best_len else 0)
    for key in rest:
        pat = re.compile(rf"(^|[{{,\s.]){re.escape(key)}\s*[=.]")
        for n in range(pos, end):
            if pat.search(lines[n].split("#", 1)[0]):
                line_no, pos = n + 1, n
                break
        else:
            break
    return line_no


def _check_table(spec_path, text, table: dict, schema_key: tuple, keys: tuple,
                 required: bool = True) -> None:
    """Unknown keys, wrong types and (if ``required``) missing keys."""
    schema = SCHEMA[schema_key]
    for k, v in table.items():
        if k not in schema:
            raise spec_error(spec_path, text, keys + (k,),
                             f"unknown key; expected one of: {', '.join(schema)}")
        want = schema[k][0]
        # TOML's true/false are Python bools, which are also ints
        if isinstance(v, bool) != (want is bool) or not isinstance(v, want):
            raise spec_error(spec_path, text, keys + (k,),
                             f"{type(v).__name__} {v!r}; expected {_TYPE_NAMES[want]}")
    for k, (_, needed) in schema.items():
        if required and needed and k not in table:
            raise spec_error(spec_path, text, keys, f"missing key '{k}'")


def _memory(spec_path, text, items, keys, arch: Arch) -> list:
    out = []
    for i, item in enumerate(items):
        where = keys + (i,)
        if not isinstance(item, dict):
            raise spec_error(spec_path, text, where, "expected a table {at = ..., bytes = [...]}")
        _check_table(spec_path, text, item, ("memory",), where)
        forms = [k for k in ("bytes", "words", "text", "asciz") if k in item]
        if len(forms) != 1:
            raise spec_error(spec_path, text, where,
                             "expected exactly one of bytes, words, text, asciz")
        form = forms[0]
        size = item.get("size", 2)
        if form == "bytes":
            data = _ints(spec_path, text, item["bytes"], where + ("bytes",), 1)
        elif form == "words":
            if size not in (1, 2, 4, 8):
                raise spec_error(spec_path, text, where + ("size",), f"{size}; expected 1, 2, 4 or 8")
            data = _ints(spec_path, text, item["words"], where + ("words",), size)
        else:
            data = item[form].encode("utf-8") + (b"\0" if form == "asciz" else b"")
        at = item["at"]
        lo, hi = arch.ram
        if isinstance(at, int) and not lo <= at <= hi - len(data):
            raise spec_error(spec_path, text, where + ("at",),
                             f"0x{at:x}: {len(data)} bytes there are outside RAM; expected an "
                             f"address from 0x{lo:x} to 0x{hi - len(data):x}")
        out.append(Memory(at, data))
    return out


def _ints(spec_path, text, values, keys, size) -> bytes:
    out = bytearray()
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not -(1 << (8 * size - 1)) <= v < (1 << (8 * size)):
            raise spec_error(spec_path, text, keys, f"{v!r}; expected integers of {size} byte(s)")
        out += (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return bytes(out)


def load(path: str) -> Spec:
    """Read and check a spec; raise :class:`SpecError` on any mistake."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise SpecError(f"{os.path.basename(path)}: cannot read the spec ({e.strerror})") from None
    text = raw.decode("utf-8", errors="replace")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        where = f"{os.path.basename(path)}:{m.group(1)}" if m else os.path.basename(path)
        raise SpecError(f"{where}: not valid TOML ({e})") from None
    if isinstance(doc.get("assignment"), dict) and doc["assignment"].get("arch") == "python":
        return _load_program(path, text, doc)
    _check_table(path, text, doc, (), ())
    a = doc["assignment"]
    _check_table(path, text, a, ("assignment",), ("assignment",))
    if a["arch"] not in ARCHES:
        raise spec_error(path, text, ("assignment", "arch"),
                         f"'{a['arch']}'; expected one of: {', '.join(ARCHES)}")
    arch = get_arch(a["arch"])
    board = a.get("board", arch.board)
    if board != arch.board:
        raise spec_error(path, text, ("assignment", "board"),
                         f"'{board}'; expected '{arch.board}' for {arch.name}")
    if "bits" not in a and arch.default_bits is None:
        raise spec_error(path, text, ("assignment",), "missing key 'bits'")
    bits = a.get("bits", arch.default_bits)
    if bits not in arch.bits:
        raise spec_error(path, text, ("assignment", "bits"),
                         f"{bits}; expected {' or '.join(str(b) for b in arch.bits)} "
                         f"for {arch.name}")
    accel = a.get("accel", "interp")
    engines = arch.engines()
    if accel not in engines:
        raise spec_error(path, text, ("assignment", "accel"),
                         f"'{accel}'; expected {' or '.join(repr(e) for e in engines)} "
                         f"(engines that count exactly and run {arch.name})")
    b = doc["build"]
    _check_table(path, text, b, ("build",), ("build",))
    if ("source" in b) == ("binary" in b):
        raise spec_error(path, text, ("build",), "expected exactly one of 'source' or 'binary'")
    if "binary" in b and ("harness" in b or "after" in b):
        raise spec_error(path, text, ("build", "harness" if "harness" in b else "after"),
                         "instructor code goes with an assembly 'source' only")
    for k in ("harness", "after"):
        if k in b and not os.path.isfile(os.path.join(os.path.dirname(os.path.abspath(path)), b[k])):
            raise spec_error(path, text, ("build", k), f"'{b[k]}': no such file next to the spec")
    limits = doc.get("limits", {})
    _check_table(path, text, limits, ("limits",), ("limits",))
    report = doc.get("report", {})
    _check_table(path, text, report, ("report",), ("report",))
    defaults = doc.get("defaults", {})
    _check_table(path, text, defaults, ("test",), ("defaults",), required=False)
    for sub in ("setup", "limits", "expect"):
        if sub in defaults:
            _check_table(path, text, defaults[sub], ("test", sub), ("defaults", sub))
    if not isinstance(doc["test"], list) or not all(isinstance(t, dict) for t in doc["test"]):
        raise spec_error(path, text, ("test",), "expected [[test]] tables")
    if not doc["test"]:
        raise spec_error(path, text, ("test",), "expected at least one [[test]]")
    tests = []
    names = set()
    for i, t in enumerate(doc["test"]):
        merged = dict(defaults)
        merged.update({k: v for k, v in t.items() if k not in ("expect", "setup", "limits")})
        for sub in ("expect", "setup", "limits"):
            d = dict(defaults.get(sub, {}))
            d.update(t.get(sub, {}))
            if d:
                merged[sub] = d
        keys = ("test", i)
        _check_table(path, text, {k: v for k, v in merged.items()}, ("test",), keys)
        for sub in ("setup", "limits", "expect"):
            if sub in merged:
                _check_table(path, text, merged[sub], ("test", sub), keys + (sub,))
        test = _test(path, text, merged, i, limits, arch, bits, "harness" in b)
        if test.name in names:
            raise spec_error(path, text, keys + ("name",), f"'{test.name}' is used twice; expected unique names")
        names.add(test.name)
        tests.append(test)
    provides = list(b.get("provides", []))
    spec = Spec(path, a["name"], a["arch"], board, bits, accel, b.get("source"),
                b.get("binary"), b.get("harness"), b.get("after"), tests,
                report.get("trace", 16), report.get("leaderboard", False), text,
                provides + sorted({t.call for t in tests if t.call} - set(provides)),
                a.get("interrupts", False))
    if spec.interrupts and spec.harness is not None:
        raise spec_error(path, text, ("assignment", "interrupts"),
                         "the harness sets up interrupts for a harnessed program; expected "
                         "interrupts only for a program started without a harness")
    _check_labels(spec)
    return spec


def _check_output_rules(path, text, keys: tuple, expect: dict) -> None:
    """A test's ``expect.normalise`` and ``expect.output_regex``."""
    norm = expect.get("normalise", "exact")
    if norm not in NORMALISE:
        raise spec_error(path, text, keys + ("expect", "normalise"),
                         f"'{norm}'; expected one of: {', '.join(NORMALISE)}")
    if "output_regex" in expect:
        try:
            re.compile(expect["output_regex"])
        except re.error as e:
            raise spec_error(path, text, keys + ("expect", "output_regex"),
                             f"not a regular expression ({e})") from None


def _load_program(path: str, text: str, doc: dict) -> Spec:
    """``arch = "python"``: a Python program (a student's VMM, say), run
    once per test with ``args`` and ``setup.stdin``, judged by its output and
    exit status."""
    _check_table(path, text, doc, ("program",), ())
    a, b = doc["assignment"], doc["build"]
    _check_table(path, text, a, ("program", "assignment"), ("assignment",))
    _check_table(path, text, b, ("program", "build"), ("build",))
    if not b["source"].endswith(".py") or any(c in b["source"] for c in "*?[/"):
        raise spec_error(path, text, ("build", "source"),
                         f"'{b['source']}'; expected one Python file name, e.g. 'vmm.py'")
    limits = doc.get("limits", {})
    _check_table(path, text, limits, ("program", "limits"), ("limits",))
    defaults = doc.get("defaults", {})
    _check_table(path, text, defaults, ("program", "test"), ("defaults",), required=False)
    if not isinstance(doc["test"], list) or not doc["test"] \
            or not all(isinstance(t, dict) for t in doc["test"]):
        raise spec_error(path, text, ("test",), "expected at least one [[test]] table")
    tests, names = [], set()
    for i, t in enumerate(doc["test"]):
        keys = ("test", i)
        merged = dict(defaults) | {k: v for k, v in t.items() if k not in ("expect", "setup", "limits")}
        for sub in ("expect", "setup", "limits"):
            d = dict(defaults.get(sub, {})) | t.get(sub, {})
            if d:
                merged[sub] = d
        _check_table(path, text, merged, ("program", "test"), keys)
        for sub in ("setup", "limits", "expect"):
            if sub in merged:
                _check_table(path, text, merged[sub], ("program", "test", sub), keys + (sub,))
        vis = merged.get("visibility", "visible")
        if vis not in VISIBILITY:
            raise spec_error(path, text, keys + ("visibility",),
                             f"'{vis}'; expected one of: {', '.join(VISIBILITY)}")
        args = merged.get("args", [])
        if not all(isinstance(x, str) for x in args):
            raise spec_error(path, text, keys + ("args",), "expected an array of strings (command-line arguments)")
        expect = dict(merged.get("expect", {}))
        _check_output_rules(path, text, keys, expect)
        if merged["name"] in names:
            raise spec_error(path, text, keys + ("name",), f"'{merged['name']}' is used twice; expected unique names")
        names.add(merged["name"])
        tests.append(Test(name=merged["name"], points=merged["points"], index=i, visibility=vis,
                          tags=list(merged.get("tags", [])), args=list(args),
                          stdin=merged.get("setup", {}).get("stdin", ""),
                          seconds=merged.get("limits", {}).get("seconds", limits.get("seconds", 30)),
                          expect=expect | {"registers": {}}))
    return Spec(path, a["name"], "python", "", 0, "", b["source"], None, None, None, tests, text=text)


def _check_labels(spec: Spec) -> None:
    """Every label a test names must be defined by the instructor's code or
    be one the submission provides (``build.provides`` and called labels)."""
    try:
        known = get_arch(spec.arch).instructor_symbols(spec.folder, spec.bits, spec.harness,
                                                       spec.after)
    except BuildError as e:
        raise spec.error(("build",), f"the instructor's code does not assemble ({e})") from None
    known = set(known) | set(spec.provides)
    for t in spec.tests:
        uses = [(("args",), a) for a in t.args if isinstance(a, str)]
        uses += [(("setup", "memory", j, "at"), m.at) for j, m in enumerate(t.memory)]
        uses += [(("expect", "memory", j, "at"), m.at) for j, m in enumerate(t.expect_memory)]
        for where, label in uses:
            if isinstance(label, str) and label not in known:
                raise spec.error(("test", t.index) + where,
                                 f"label '{label}' is defined nowhere; expected a label of the "
                                 f"harness or one listed in build.provides")


def _check_mnemonics(path, text, names: list, keys: tuple, arch: Arch) -> None:
    """Each name in ``forbid``/``allow`` must be one the decoder gives an
    instruction, or the rule could never match (a typo passes silently)."""
    known = arch.mnemonics()
    for name in names:
        if name.lower() not in known:
            close = difflib.get_close_matches(name.lower(), sorted(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise spec_error(path, text, keys, f"'{name}' is not an instruction the decoder "
                             f"names{hint}; expected mnemonics such as {arch.example_mnemonics}")


#: the exit reasons ``expect.exits`` may count: those the guest causes (not
#: the host's single steps and instruction budgets)
GUEST_EXITS = tuple(r for r in EXIT_REASONS if r not in ("DEBUG", "BUDGET"))


def _test(path, text, t: dict, i: int, limits: dict, arch: Arch, bits: int,
          harness: bool) -> Test:
    keys = ("test", i)
    vis = t.get("visibility", "visible")
    if vis not in VISIBILITY:
        raise spec_error(path, text, keys + ("visibility",), f"'{vis}'; expected one of: {', '.join(VISIBILITY)}")
    if t["points"] < 0:
        raise spec_error(path, text, keys + ("points",), f"{t['points']}; expected a number >= 0")
    setup, lim, expect = t.get("setup", {}), t.get("limits", {}), dict(t.get("expect", {}))
    _check_output_rules(path, text, keys, expect)
    for k in ("forbid", "allow", "tags"):
        seq = expect.get(k) if k != "tags" else t.get(k)
        if seq is not None and not all(isinstance(x, str) for x in seq):
            where = keys + ((k,) if k == "tags" else ("expect", k))
            raise spec_error(path, text, where, "expected an array of strings")
        if k != "tags" and seq is not None:
            _check_mnemonics(path, text, seq, keys + ("expect", k), arch)
    for reason, n in expect.get("exits", {}).items():
        if reason not in GUEST_EXITS:
            raise spec_error(path, text, keys + ("expect", "exits", reason),
                             f"'{reason}' is not an exit the guest causes; expected one of: "
                             f"{', '.join(GUEST_EXITS)}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise spec_error(path, text, keys + ("expect", "exits", reason),
                             f"{n!r}; expected a count (an integer >= 0)")
    if "return64" in expect and not arch.return_registers64(bits):
        raise spec_error(path, text, keys + ("expect", "return64"),
                         f"{bits}-bit code has no 64-bit result registers; expected "
                         f"expect.return")
    for k in ("return", "return64", "preserves", "stack_balanced"):
        if k in expect and "call" not in t:
            raise spec_error(path, text, keys + ("expect", k), "only for a test that has 'call'")
    if "call" in t and arch.call_needs_harness(bits) and not harness:
        raise spec_error(path, text, keys + ("call",),
                         f"a call into {bits}-bit code needs build.harness (to enter that mode "
                         f"before the call); expected a harness, or bits = 16")
    if "args" in t and "call" not in t:
        raise spec_error(path, text, keys + ("args",), "only for a test that has 'call'")
    for j, arg in enumerate(t.get("args", [])):
        ok = isinstance(arg, (int, str)) and not isinstance(arg, bool) or (
            isinstance(arg, dict) and set(arg) in ({"asciz"}, {"text"}, {"bytes"}))
        if not ok:
            raise spec_error(path, text, keys + ("args",),
                             f"argument {j + 1} is {arg!r}; expected an integer, a label, "
                             f"or {{asciz = \"...\"}} / {{bytes = [...]}}")
    regs = dict(setup.get("registers", {}))
    regs_out = dict(expect.get("registers", {}))
    for where, table in ((("setup", "registers"), regs), (("expect", "registers"), regs_out)):
        for name, v in table.items():
            if name.lower() not in arch.registers():
                raise spec_error(path, text, keys + where + (name,),
                                 f"not a register name; expected e.g. {arch.example_registers}")
            if isinstance(v, bool) or not isinstance(v, int):
                raise spec_error(path, text, keys + where + (name,), f"{v!r}; expected an integer")
    return Test(
        name=t["name"], points=t["points"], index=i, visibility=vis, tags=list(t.get("tags", [])),
        call=t.get("call"), args=list(t.get("args", [])),
        registers={k.lower(): v for k, v in regs.items()},
        memory=_memory(path, text, setup.get("memory", []), keys + ("setup", "memory"), arch),
        uart_input=setup.get("uart_input", ""),
        instructions=lim.get("instructions", limits.get("instructions", 100_000)),
        seconds=lim.get("seconds", limits.get("seconds", 10)),
        expect={k: v for k, v in expect.items() if k not in ("memory", "registers")}
        | {"registers": {k.lower(): v for k, v in regs_out.items()}},
        expect_memory=_memory(path, text, expect.get("memory", []), keys + ("expect", "memory"), arch))
