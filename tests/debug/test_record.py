"""Reverse execution across HLT and timer interrupts replays exactly.

The timer guest (tests/guests/x86/timer.S) halts between PIT ticks; in
icount mode the Machine skips the idle time to the next deadline, so guest
time is ``(icount << shift) + idle_ns``.  A checkpoint must bring that time
back: otherwise the PIT's deadlines (absolute guest times) fall at other
instructions when re-executed, and going back then forward again ends
somewhere else.  Each position reached backwards is compared with a fresh
run to the same instruction count.
"""

import os

import pytest

from emu.debug.session import Session
from emu.loader import assemble
from emu.machine import Machine

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMER = os.path.join(REPO, "tests", "guests", "x86", "timer.S")


def machine(accel):
    with open(TIMER) as f:
        img = assemble(f.read(), "timer.S")
    m = Machine(accel=accel)
    m.load_image(img.data, img.name)
    return m, img


def fresh_state(accel, n):
    """CPU, guest time and output after exactly ``n`` instructions of a plain run."""
    m, _ = machine(accel)
    r = m.run(icount_limit=n)
    assert r.reason == "limit" and r.icount == n
    m.accel.sync_state()
    out = (m.cpu.snapshot(), m.clock.now_ns(), m.serial_output())
    m.close()
    return out


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_reverse_across_hlt_restores_guest_time(accel):
    m, img = machine(accel)
    s = Session(m, img, interval=1000)
    try:
        st = s.cont()
        assert st.reason == "exited" and st.status == 1
        end = s.pos
        full = m.serial_output()
        assert b"tick 10" in full and b"one-shot fired once" in full
        assert m.clock.idle_ns > 0                 # the guest did sleep through HLTs
        for target in (40000, 12345, 3000):
            s.reverse_step(s.pos - target)
            assert s.pos == target
            s.machine.accel.sync_state()
            cpu, now, out = fresh_state(accel, target)
            assert m.cpu.snapshot() == cpu, target
            assert m.clock.now_ns() == now, target
            assert m.serial_output() == out, target
        st = s.cont()                               # and forward again: the same end
        assert st.reason == "exited" and st.status == 1
        assert s.pos == end
        assert m.serial_output() == full
    finally:
        s.close()
        m.close()


class Livelock(Exception):
    pass


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_stepping_a_hlt_takes_the_interrupt_that_ends_it(accel):
    """With step-irqs off an interrupt is held back during a step -- but not
    for a HLT or a halted CPU, which only that interrupt can wake: held, the
    Machine would serve HLT exits forever.  A guard on the exits turns that
    livelock into a failure."""
    m, img = machine(accel)
    s = Session(m, img, interval=1000)
    exits = []

    def guard(ex):
        exits.append(ex)
        if len(exits) > 20000:
            raise Livelock("the step never ended")
    try:
        bp = s.add_breakpoint(img.symbols["wait_tick"])
        for _ in range(3):
            assert s.cont().reason == "breakpoint"
        s.delete(bp.number)
        m.exit_observer = guard
        before = (s.pos, m.serial_output())
        texts = []
        for _ in range(40):
            st = s.step(1)
            assert st.reason == "step"
            texts += [t for _, t in st.executed]
        assert texts[0] == "hlt" and "iret" in texts      # halted, woken, handled, returned
        # and the same steps again from the same place, through the history
        after = (m.cpu.snapshot(), s.pos, m.serial_output())
        s.reverse_step(s.pos - before[0])
        s.step(40)
        assert (m.cpu.snapshot(), s.pos, m.serial_output()) == after
    finally:
        s.close()
        m.close()
