"""Single-stepping speed: ``-accel tcg -one-insn-per-tb`` stepped one
instruction per ``Machine.run()`` (as the debugger steps) against unicorn
running the same guest with a per-instruction Python hook (``UC_HOOK_CODE``,
the usual way to observe each instruction with unicorn).

    PYTHONPATH=. python tools/step_bench.py [GUEST] [--steps N]

Prints microseconds per instruction for each.  A measurement, never a test
(the exactness of stepping is tested in tests/differential/test_tcg.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emu.cli import GUESTS_DIR, load_guest  # noqa: E402
from emu.machine import Machine  # noqa: E402


def _machine(guest, accel, **kw):
    img = load_guest(os.path.join(GUESTS_DIR, guest + ".S"))
    m = Machine(accel=accel, cpu="max", **kw)
    m.load_image(img.data, img.name)
    return m


def step_tcg(guest: str, steps: int) -> tuple[int, float]:
    """(instructions stepped, seconds): one Machine.run() per instruction."""
    m = _machine(guest, "tcg", one_insn_per_tb=True)
    m.accel.set_single_step(True)
    done = 0
    t0 = time.perf_counter()
    while done < steps:
        r = m.run()
        done += r.icount
        if r.reason != "debug":
            break
    secs = time.perf_counter() - t0
    m.close()
    return done, secs


def step_tcg_accel(guest: str, steps: int) -> tuple[int, float]:
    """(instructions, seconds): one ``accel.run()`` per instruction, I/O exits
    served by the Machine -- the translator's own stepping cost, without the
    Machine run loop's per-call work (timers, result records)."""
    m = _machine(guest, "tcg", one_insn_per_tb=True)
    acc = m.accel
    acc.set_single_step(True)
    t0 = time.perf_counter()
    while acc.icount < steps:
        ex = acc.run(None)
        if ex.reason in ("IO", "MMIO"):
            m.dispatch_exit(ex)
            if m.stop_pending():
                break
        elif ex.reason != "DEBUG":
            break
    secs = time.perf_counter() - t0
    n = acc.icount
    m.close()
    return n, secs


def hook_unicorn(guest: str, steps: int) -> tuple[int, float]:
    """(instructions, seconds) on unicorn with a Python hook on every instruction."""
    import unicorn as uc_mod
    m = _machine(guest, "unicorn")
    m.run(icount_limit=1)                   # creates the Uc object
    seen = [0]

    def on_code(uc, address, size, user):
        seen[0] += 1

    m.accel.uc.hook_add(uc_mod.UC_HOOK_CODE, on_code)
    t0 = time.perf_counter()
    r = m.run(icount_limit=steps)
    secs = time.perf_counter() - t0
    m.close()
    return max(r.icount, seen[0]), secs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("guest", nargs="?", default="sieve")
    p.add_argument("--steps", type=int, default=20000)
    a = p.parse_args(argv)
    rows = [("tcg -one-insn-per-tb, Machine.run", step_tcg(a.guest, a.steps)),
            ("tcg -one-insn-per-tb, accel.run", step_tcg_accel(a.guest, a.steps))]
    try:
        rows.append(("unicorn + UC_HOOK_CODE", hook_unicorn(a.guest, a.steps)))
    except ImportError:
        print("unicorn not installed: no comparison")
    for name, (n, secs) in rows:
        print(f"{name:<32} {n:>8} insns {secs:8.3f} s {secs / n * 1e6:8.2f} us/insn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
