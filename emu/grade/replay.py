"""Open kasou's debugger where a graded test went wrong.

The test is started exactly as the grader starts it (:func:`.runner.start`
on a fresh machine), handed to a debugger :class:`~emu.debug.session.Session`
(which records from there, so ``reverse-stepi`` and ``reverse-continue``
go back through the test), and stepped the number of instructions the
graded run executed: the debugger stands at the instruction that faulted,
at the return to the caller, at the loop the grader found, or where the
limit stopped it.
"""

from __future__ import annotations

from ..debug.repl import run_repl
from ..debug.session import Session
from ..loader import Image
from .runner import HarnessFailed, run_test, start
from .spec import Spec
from .target import LOAD_ADDR, BuildError, Target, build_image


class ReplayError(Exception):
    """The test cannot be opened (one line)."""


def debug_test(spec: Spec, submission_dir: str, test_name: str, accel: str,
               stdin, stdout, interactive: bool) -> int:
    tests = {t.name: t for t in spec.tests}
    if test_name not in tests:
        raise ReplayError(f"no test named '{test_name}'; expected one of: {', '.join(tests)}")
    test = tests[test_name]
    try:
        build = build_image(submission_dir, spec.folder, spec.bits, spec.source, spec.binary,
                            spec.harness, spec.after)
    except BuildError as e:
        raise ReplayError(f"build error: {e}") from None
    graded = run_test(spec, build, test, accel)
    target = Target(build, spec.bits, accel, test.uart_input.encode("utf-8"))
    try:
        start(spec, build, test, target)
    except HarnessFailed as e:
        target.close()
        raise ReplayError(str(e)) from None
    image = Image(build.data, "submission", LOAD_ADDR, symbols=dict(build.symbols),
                  lines={a: (build.display(f), n) for a, (f, n) in build.lines.items()},
                  sources={build.display(f): text for f, text in build.sources.items()})
    session = Session(target.machine, image)
    print(f"{test.name}: {graded.outcome} after {graded.icount} instructions "
          f"({graded.output.splitlines()[0]})", file=stdout)
    if graded.icount:
        session.step(graded.icount)
    try:
        return run_repl(session, stdin, stdout, interactive=interactive, echo=not interactive)
    finally:
        target.close()
