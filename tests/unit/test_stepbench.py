"""emu/stepbench.py: the step bench drives the engines through the Machine's
run loop, so a stepped guest runs as in every other run: its exits are
counted, HLT waits for the timer, the timer's interrupts come."""

import os

import pytest

from emu import stepbench

TIMER = os.path.join(os.path.dirname(__file__), "..", "guests", "x86", "timer.S")


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_stepping_goes_through_the_machine_loop(accel):
    # timer.S prints a banner, then HLTs until the PIT's first tick (IRQ 0)
    # and prints "tick 1": a stepper that served exits itself would stop at
    # that HLT, since no timer fires outside the Machine's loop
    m = stepbench._machine(TIMER, accel)
    try:
        st = stepbench._Stepper(m)
        assert st.steps(3000) == 3000
        assert b"tick 1" in m.serial_output()
        assert m.stats.by_reason.get("HLT", 0) >= 1
        assert m.stats.by_reason.get("IO", 0) > 0
    finally:
        m.close()
