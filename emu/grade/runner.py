"""Grading one submission: build it, run every test on a fresh machine,
judge the checks, and say exactly where a failing program went wrong.

Outcomes (``TestResult.outcome``): ``pass``; ``fail`` (a check did not
hold: expected vs actual); ``timeout`` (the instruction or time limit);
``loop`` (the machine state -- registers and RAM -- repeated at the same
PC: "does not terminate: loop at ADDR"); ``fault`` (an exception the guest
did not handle, or control left the program); ``build-error``.

The calling conventions of ``call`` tests, the return trap and how a
fault is decoded are the architecture's (:func:`emu.grade.arches.get_arch`:
cdecl and System V AMD64 on x86, AAPCS on ARM); this module judges what
every architecture shares.
"""

from __future__ import annotations

import collections
import difflib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

from .spec import GUEST_EXITS, Spec, Test
from .arches import get_arch
from .target import Build, BuildError, Stop, Target


@dataclass
class TestResult:
    name: str
    max_score: float
    score: float
    outcome: str
    output: str
    visibility: str
    tags: list
    icount: int = 0
    state: dict = field(default_factory=dict)   # pc and general registers where it stopped

    @property
    def status(self) -> str:
        return "passed" if self.outcome == "pass" else "failed"


@dataclass
class SubmissionResult:
    submission: str
    tests: list = field(default_factory=list)
    seconds: float = 0.0
    build_error: str = ""

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    @property
    def icount(self) -> int:
        return sum(t.icount for t in self.tests)


def grade(spec: Spec, submission_dir: str, name: str | None = None,
          accel: str | None = None, on_failure=None) -> SubmissionResult:
    """Grade the submission in ``submission_dir`` against ``spec``;
    ``on_failure(build, test, result)`` (optional) is called for each test
    that ran and did not pass."""
    t0 = time.perf_counter()
    result = SubmissionResult(name or submission_dir)
    if spec.arch == "python":
        _grade_program(spec, submission_dir, result)
        result.seconds = time.perf_counter() - t0
        return result
    try:
        build = build_spec(spec, submission_dir)
        missing = [label for label in spec.provides if label not in build.symbols]
        if spec.source is not None and missing:
            raise BuildError(f"no label '{missing[0]}': the assignment expects the submission "
                             f"to define {', '.join(spec.provides)}")
    except BuildError as e:
        result.build_error = str(e)
        for t in spec.tests:
            result.tests.append(TestResult(t.name, t.points, 0, "build-error",
                                           f"build error: {e}", t.visibility, t.tags))
        result.seconds = time.perf_counter() - t0
        return result
    for t in spec.tests:
        r = run_test(spec, build, t, accel or spec.accel)
        result.tests.append(r)
        if on_failure is not None and r.outcome != "pass":
            on_failure(build, t, r)
    result.seconds = time.perf_counter() - t0
    return result


def build_spec(spec: Spec, submission_dir: str) -> Build:
    """The submission in ``submission_dir`` built as ``spec`` says (BuildError)."""
    return get_arch(spec.arch).build(submission_dir, spec.folder, spec.bits, spec.source,
                                     spec.binary, spec.harness, spec.after)


# -- arch = "python": a program judged by what it prints ----------------------------------
#: the checkout's top folder: a graded program imports kasou's packages
#: (``kvm``, ``emu``) from there, as the labs' commands do
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: a graded program's address space (KVM maps guest RAM into it)
PROGRAM_MEMORY = 4 << 30


def _limit_program(seconds: int):
    def limit():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (PROGRAM_MEMORY, PROGRAM_MEMORY))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds + 1, seconds + 1))
    return limit


def _grade_program(spec: Spec, folder: str, result: SubmissionResult) -> None:
    """Run the submitted Python file once per test (``python FILE ARGS``
    with the test's stdin, in the spec's folder -- so that ``args`` name the
    instructor's files relative to the spec -- with kasou importable)."""
    path = os.path.abspath(os.path.join(folder, spec.source))

    def every(outcome: str, text: str) -> None:
        for t in spec.tests:
            result.tests.append(TestResult(t.name, t.points, 0, outcome, text, t.visibility, t.tags))
    if not os.path.isfile(path):
        result.build_error = f"no file {spec.source} in {folder}; expected the program handed in"
        every("build-error", f"build error: {result.build_error}")
        return
    try:
        with open(path, "rb") as f:
            compile(f.read(), spec.source, "exec")
    except SyntaxError as e:
        result.build_error = f"{spec.source}:{e.lineno}: {e.msg}"
        every("build-error", f"build error: {result.build_error}")
        return
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for t in spec.tests:
        result.tests.append(_run_program(path, spec.folder, t, env))


def _run_program(path: str, cwd: str, test: Test, env: dict) -> TestResult:
    def result(outcome: str, text: str) -> TestResult:
        ok = outcome == "pass"
        return TestResult(test.name, test.points, test.points if ok else 0, outcome, text,
                          test.visibility, test.tags)
    try:
        r = subprocess.run([sys.executable, path, *test.args], cwd=cwd, env=env,
                           input=test.stdin.encode("utf-8"), capture_output=True,
                           timeout=test.seconds, preexec_fn=_limit_program(test.seconds))
    except subprocess.TimeoutExpired as e:
        return result("timeout", _text([f"time-out: still running after {test.seconds} s"],
                                       e.stdout or b"", []))
    exp = test.expect
    err = r.stderr.decode("utf-8", errors="replace")
    if r.returncode < 0 or "Traceback (most recent call last)" in err:
        lines = err.rstrip().splitlines()
        where = [ln.strip().replace(path, os.path.basename(path)) for ln in lines
                 if ln.strip().startswith(f'File "{path}"')]
        why = lines[-1] if lines else f"killed by signal {-r.returncode}"
        msg = f"the program failed: {why}" + (f" ({where[-1]})" if where else "")
        return result("fault", _text([msg], r.stdout, []))
    failures = []
    if "exit_code" in exp and r.returncode != exp["exit_code"]:
        failures.append(f"exit status: expected {exp['exit_code']}, got {r.returncode}")
    diff = _check_output(exp, r.stdout.decode("utf-8", errors="replace"), failures)
    if failures:
        text = _text(failures, r.stdout, [], diff)
        if err:
            text += "\n\nstandard error:\n" + (err if len(err) < 2000 else "... " + err[-2000:])
        return result("fail", text)
    return result("pass", "passed")


class _Watch:
    """The step hook: the last instructions executed, the mnemonics seen,
    and the call-specific stops (control leaving the program, a RET with
    the stack above the return address)."""

    def __init__(self, build: Build, keep: int, decode: bool, ret_slot: int | None):
        self.build = build
        self.trace = collections.deque(maxlen=max(keep, 1))
        self.mnemonics = {}             # mnemonic -> first address
        self.decode = decode
        self.ret_slot = ret_slot

    def __call__(self, target: Target):
        pc = target.pc
        build = self.build
        if self.ret_slot is not None and not (build.base <= pc < build.end) \
                and not target.is_trap(pc):
            return self._escaped(target, pc)
        self.trace.append((pc, target.flags()))
        if self.decode:
            what = target.decode(pc)
            if what is not None:
                self.mnemonics.setdefault(what[0], pc)
        if self.ret_slot is not None:
            why = target.return_fault(pc, self.ret_slot)
            if why is not None:
                return Stop("fault", why, pc=pc)
        return None

    def _escaped(self, target: Target, pc: int):
        prev, key = self.trace[-1] if self.trace else (None, None)
        msg = f"control left the program: jumped to 0x{pc:x}"
        if prev is not None:
            msg += f" from 0x{prev:x}" + target.at(prev, key) + target.escape_note(prev, self.ret_slot)
        return Stop("fault", msg, pc=pc)


def _address(build: Build, at) -> int:
    return build.symbols[at] if isinstance(at, str) else at


def new_target(spec: Spec, build: Build, test: Test, accel: str) -> Target:
    """A fresh machine of the spec's architecture for ``test``."""
    return get_arch(spec.arch).target(build, spec.bits, accel, test.uart_input.encode("utf-8"))


def run_test(spec: Spec, build: Build, test: Test, accel: str) -> TestResult:
    target = new_target(spec, build, test, accel)
    try:
        return _run(spec, build, test, target)
    finally:
        target.close()


def _run(spec: Spec, build: Build, test: Test, target: Target) -> TestResult:
    def result(outcome: str, text: str) -> TestResult:
        ok = outcome == "pass"
        return TestResult(test.name, test.points, test.points if ok else 0, outcome, text,
                          test.visibility, test.tags, target.icount, target.state())

    exp = test.expect
    arch = target.arch
    try:
        saved, sp0 = start(spec.harness is not None, build, test, target, spec.interrupts)
    except HarnessFailed as e:
        return result("fault", str(e))
    ret_slot = None if sp0 is None else sp0 - target.width
    code_before = _student_bytes(target, build)
    watch = _Watch(build, spec.trace, bool(exp.get("forbid") or exp.get("allow")), ret_slot)
    stop = target.run(test.instructions, step=watch, seconds=test.seconds)
    trace = _trace(target, build, watch)
    out = target.output()

    if stop.kind in ("loop", "limit", "fault"):
        outcome = {"loop": "loop", "limit": "timeout", "fault": "fault"}[stop.kind]
        msg = stop.message if stop.kind != "limit" else \
            f"time-out: {stop.message}, still running at 0x{stop.pc:x}{_where(build, stop.pc)}"
        return result(outcome, _text([msg], out, trace))
    failures = []
    if test.call and stop.kind != "returned":
        failures.append(f"the function did not return: {stop.kind} at 0x{stop.pc:x} "
                        f"({stop.message})")
    if "exit_code" in exp:
        if stop.kind != "exit":
            failures.append(f"exit code: expected {exp['exit_code']}, but the program ended "
                            f"with {stop.kind} ({stop.message})")
        elif stop.status != exp["exit_code"]:
            failures.append(f"exit code: expected {exp['exit_code']}, got {stop.status}")
    if test.call and "return" in exp:
        ret = arch.return_register(spec.bits)
        got = target.reg(ret)
        want = exp["return"] & ((1 << spec.bits) - 1)
        if got != want:
            failures.append(f"return value ({ret.upper()}): expected {_num(want)}, "
                            f"got {_num(got)}")
    if test.call and "return64" in exp:
        names = arch.return_registers64(spec.bits)
        got = sum(target.reg(n) << (k * spec.bits) for k, n in enumerate(names))
        want = exp["return64"] & ((1 << 64) - 1)
        if got != want:
            shown = ":".join(n.upper() for n in reversed(names))
            failures.append(f"64-bit return value ({shown}): expected {_num(want)}, "
                            f"got {_num(got)}")
    for name, want in exp["registers"].items():
        got = target.reg(name)
        want &= (1 << (8 * target.registers[name][1])) - 1
        if got != want:
            failures.append(f"register {name.upper()}: expected {_num(want)}, got {_num(got)}")
    for m in test.expect_memory:
        addr = _address(build, m.at)
        got = target.read(addr, len(m.data))
        if got != m.data:
            where = m.at if isinstance(m.at, str) else f"0x{addr:x}"
            failures.append(f"memory at {where}: expected {m.data.hex(' ')}, got {got.hex(' ')}")
    if test.call and exp.get("preserves", True) and stop.kind == "returned":
        for name, before in saved.items():
            after = target.reg(name)
            if after != before:
                failures.append(f"callee-saved register {name.upper()} not preserved: "
                                f"{_num(before)} before the call, {_num(after)} after")
    if test.call and exp.get("stack_balanced", True) and stop.kind == "returned":
        sp = target.reg(target.sp_name)
        if sp != sp0:
            failures.append(f"stack not balanced: {target.sp_name.upper()} is {_num(sp)} after "
                            f"the return, expected {_num(sp0)}")
    if exp.get("no_code_writes") and _student_bytes(target, build) != code_before:
        changed = _first_change(code_before, _student_bytes(target, build), build)
        failures.append(f"the program wrote to its own code (first at 0x{changed:x}"
                        f"{_where(build, changed)})")
    for name in exp.get("forbid", []):
        hit = _used(watch.mnemonics, name)
        if hit is not None:
            failures.append(f"uses {hit[0].upper()} at 0x{hit[1]:x}{_where(build, hit[1])}, "
                            f"which this test forbids")
    if exp.get("allow"):
        allowed = {a.lower() for a in exp["allow"]}
        for mn, pc in sorted(watch.mnemonics.items(), key=lambda kv: kv[1]):
            if mn.split()[-1] not in allowed:
                failures.append(f"uses {mn.upper()} at 0x{pc:x}{_where(build, pc)}; allowed: "
                                f"{', '.join(sorted(allowed))}")
                break
    if "max_instructions" in exp and target.icount > exp["max_instructions"]:
        failures.append(f"ran {target.icount} instructions; expected at most {exp['max_instructions']}")
    if "min_instructions" in exp and target.icount < exp["min_instructions"]:
        failures.append(f"ran {target.icount} instructions; expected at least {exp['min_instructions']}")
    _check_exits(exp, target.machine.stats.by_reason, failures)
    diff = _check_output(exp, out.decode("utf-8", errors="replace"), failures)
    if failures:
        return result("fail", _text(failures, out, trace, diff))
    return result("pass", f"passed ({target.icount} instructions)")


class HarnessFailed(Exception):
    """The harness did not reach its HLT (the test cannot start)."""


def start(harness: bool, build: Build, test: Test, target: Target, interrupts: bool = False):
    """Put ``target`` where ``test`` starts: at the entry, or called with
    its arguments and setup (after running the harness, if the image has
    one).  ``interrupts``: the program installs its own IVT handlers, so
    the IVT keeps its reset limit.  Returns (the preserved registers'
    values, SP before the return address was pushed) -- ({}, None) at the
    entry."""
    if test.call:
        stop = target.prepare(harness, test.instructions, interrupts)
        if stop is not None:
            raise HarnessFailed(f"the harness did not reach its HLT: {stop.message}")
    else:
        target.start_at_entry(interrupts)
    for name, value in test.registers.items():
        target.set_reg(name, value)
    for m in test.memory:
        target.write(_address(build, m.at), m.data)
    if not test.call:
        return {}, None
    saved = {}
    bits = target.bits
    for k, name in enumerate(target.arch.callee_saved(bits)):
        if name not in test.registers:
            target.set_reg(name, 0x5EED0000 + 0x1111 * (k + 1) & ((1 << bits) - 1))
        saved[name] = target.reg(name)
    target.pass_args(_arg_values(target, build, test))
    sp0 = target.reg(target.sp_name)
    target.call(build.symbols[test.call])
    return saved, sp0


def _arg_values(target: Target, build: Build, test: Test) -> list:
    """A call's arguments as integers: data arguments written to the scratch area."""
    values, scratch = [], target.scratch
    for arg in test.args:
        if isinstance(arg, dict):
            data = arg["asciz"].encode() + b"\0" if "asciz" in arg else (
                arg["text"].encode() if "text" in arg else bytes(v & 0xFF for v in arg["bytes"]))
            target.write(scratch, data)
            values.append(scratch)
            scratch += (len(data) + 16) & ~15
        else:
            values.append(_address(build, arg))
    return values


def _used(mnemonics: dict, name: str):
    name = name.lower()
    for mn, pc in sorted(mnemonics.items(), key=lambda kv: kv[1]):
        if mn == name or mn.split()[-1] == name:
            return mn, pc
    return None


def _student_bytes(target: Target, build: Build) -> bytes:
    if not build.student:
        return b""
    lo, hi = min(build.student), max(build.student) + 1
    return target.read(lo, hi - lo)


def _first_change(a: bytes, b: bytes, build: Build) -> int:
    lo = min(build.student)
    return lo + next(i for i in range(len(a)) if a[i] != b[i])


def _num(v: int) -> str:
    return f"{v} (0x{v:x})" if v > 9 else str(v)


def _where(build: Build, pc: int) -> str:
    where = build.where(pc)
    return f", {where}" if where else ""


def normalise(text: str, how: str) -> str:
    if how == "trailing-whitespace":
        return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))
    if how == "whitespace":
        return " ".join(text.split())
    return text


def _check_exits(exp: dict, by_reason: dict, failures: list) -> None:
    """``expect.exits`` (VM exits by reason, as ``-d exits`` names them) and
    ``expect.max_exits`` (all the guest caused)."""
    for reason, want in exp.get("exits", {}).items():
        got = by_reason.get(reason, 0)
        if got != want:
            failures.append(f"{reason} exits: expected {want}, got {got}")
    if "max_exits" in exp:
        got = sum(n for r, n in by_reason.items() if r in GUEST_EXITS)
        if got > exp["max_exits"]:
            failures.append(f"{got} VM exits; expected at most {exp['max_exits']}")


def _check_output(exp: dict, out: str, failures: list) -> str:
    how = exp.get("normalise", "exact")
    if "output" in exp:
        want, got = normalise(exp["output"], how), normalise(out, how)
        if want != got:
            failures.append("output differs from the expected output")
            return "\n".join(difflib.unified_diff(want.split("\n"), got.split("\n"),
                                                  "expected", "your output", lineterm=""))
    if "output_regex" in exp and not re.search(exp["output_regex"], normalise(out, how)):
        failures.append(f"output does not match {exp['output_regex']!r} (a regular expression): "
                        f"got {out!r}")
    return ""


def _trace(target: Target, build: Build, watch: _Watch) -> list:
    lines = []
    for pc, key in watch.trace:
        what = target.decode(pc, key)
        text = what[1] if what else "(undecodable)"
        where = build.where(pc)
        lines.append(f"  0x{pc:05x}  {text:<28} {where}".rstrip())
    return lines


def _text(messages: list, out: bytes, trace: list, diff: str = "") -> str:
    parts = list(messages)
    if diff:
        parts += ["", diff]
    shown = out.decode("utf-8", errors="replace")
    if shown:
        parts += ["", "output:", shown if len(shown) < 2000 else shown[:2000] + "... (cut)"]
    if trace:
        parts += ["", f"last {len(trace)} instructions executed:"] + trace
    return "\n".join(parts)
