"""A hardware interrupt whose delivery faults is a guest event, not an
engine crash: the fault is delivered in the interrupt's place, and with no
handler for it the CPU shuts down (triple fault), on every engine that
delivers interrupts itself."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GUEST = os.path.join(REPO, "tests", "guests", "x86", "irq_beyond_ivt.S")


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_interrupt_beyond_the_ivt_limit_is_a_triple_fault(accel):
    r = subprocess.run([sys.executable, "-m", "emu", "run", "-accel", accel, "-icount-limit",
                        "2000000", GUEST], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith("emu run: guest stopped: SHUTDOWN: triple fault (#GP general "
                               "protection -> #GP general protection"), r.stderr
