"""Reverse execution across HLT and timer interrupts replays exactly.

The timer guest (tests/guests/x86/timer.S) halts between PIT ticks; in
icount mode the Machine skips the idle time to the next deadline, so guest
time is ``(icount << shift) + idle_ns``.  A checkpoint must bring that time
back: otherwise the PIT's deadlines (absolute guest times) fall at other
instructions when re-executed, and going back then forward again ends
somewhere else.  Each position reached backwards is compared with a fresh
run to the same instruction count.

On KVM, whose clock runs in real time, the session makes guest time count
the instructions it single-steps (``Machine.count_guest_time``, as ``emu
diff`` does): the same test then holds there, against a fresh KVM run that
is single-stepped with its time counted the same way.
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


KVM = pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                   reason="/dev/kvm is absent on this host"))


def fresh_state(accel, n):
    """CPU, guest time and output after exactly ``n`` instructions of a plain
    run (on KVM: ``n`` single steps, guest time counting them)."""
    m, _ = machine(accel)
    if m.accel.exact_icount:
        r = m.run(icount_limit=n)
        assert r.reason == "limit" and r.icount == n
    else:
        m.count_guest_time()
        m.accel.set_single_step(True)
        while m.accel.icount < n:
            r = m.run()
            assert r.reason == "debug", r.message
        assert m.accel.icount == n
    m.accel.sync_state()
    out = (m.cpu.snapshot(), m.clock.now_ns(), m.serial_output())
    m.close()
    return out


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", KVM])
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


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", KVM])
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
        m.add_exit_observer(guard)
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


SPIN = """
start:
    cli
spin:
    inc ax
    jmp spin
"""


@pytest.mark.skipif(not os.path.exists("/dev/kvm"), reason="/dev/kvm is absent on this host")
def test_kvm_guest_time_counts_instructions_from_where_it_stood():
    """A session on KVM switches guest time to the instruction count: from 0
    on a machine that has not run (as on the exact engines), from its
    present value on one that ran in real time -- never backwards."""
    img = assemble(SPIN, "spin.S")
    for free_run in (0, 20_000):
        m = Machine(accel="kvm")
        try:
            m.load_image(img.data, img.name)
            before = 0
            if free_run:
                r = m.run(icount_limit=free_run)    # in real time, icount estimated
                assert r.reason == "limit" and m.clock.realtime
                before = m.clock.now_ns()
                assert before > 0
            s = Session(m, img)
            start = m.clock.now_ns()
            assert not m.clock.realtime
            if free_run:
                assert start >= before
            else:
                assert start == 0
            s.step(10)
            assert m.clock.now_ns() == start + (10 << m.clock.shift)
            s.close()
        finally:
            m.close()
