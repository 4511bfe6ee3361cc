"""A register or memory change made in the debugger is part of the recording.

As with gdb's ``record full``: ``set $ax = 2`` (or ``set *addr = v``, a gdb
``P``/``M`` packet) at position P is recorded there.  Reverse execution
undoes it and goes on further back; re-executing through P (after a
restore, scanning for ``reverse-continue``, stepping or continuing forward
again after going back) makes it again at P, before the instruction there,
so every position shows the state it had when first recorded.  An edit in
the middle of the history (after reverse steps) ends the recorded future
there: stepping forward then runs the new timeline, and going back still
reaches the positions before it.

The guest is fib.S (fib(18) through the stack).  At position 20 it is
about to push AX = 0x10 inside fib(16); the edit sets AX = 2 and the saved
arguments of fib(17) and fib(18) on the stack (0x7bf4, 0x7bfa) to 3, so
the guest then finishes quickly with another answer; it also writes two
bytes at 0x600, which the guest never touches.  Every state compared is
the position, the CPU's registers and a hash of all of RAM.
"""

import hashlib
import os

import pytest

from emu.debug.gdbstub import GdbStub
from emu.debug.session import Session
from emu.loader import load_file
from emu.machine import Machine

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIB = os.path.join(REPO, "emu", "guests", "fib.S")
EDIT_AT = 20

KVM = pytest.param("kvm", marks=pytest.mark.skipif(
    not os.access("/dev/kvm", os.R_OK | os.W_OK), reason="/dev/kvm is absent (or not usable) on this host"))
ENGINES = ["interp", "tcg", "unicorn", KVM]


def session(accel, **kw):
    img = load_file(FIB)
    m = Machine(accel=accel)
    m.load_image(img.data, img.name)
    return Session(m, img, interval=kw.pop("interval", 7), **kw)


def close(*sessions):
    for s in sessions:
        s.close()
        s.machine.close()


def state(s):
    s.accel.sync_state()
    return s.pos, s.machine.cpu.snapshot(), hashlib.sha1(s.machine.ram.view).hexdigest()


def edit(s):
    """The edit made at EDIT_AT: one register, three memory writes."""
    s.set_register("ax", 2)
    s.write_memory(0x7bf4, b"\x03\x00")
    s.write_memory(0x7bfa, b"\x03\x00")
    s.write_memory(0x600, b"\x55\xaa")


def reference(accel, n):
    """States at positions 0..n of a fresh session that is only stepped."""
    s = session(accel)
    try:
        out = [state(s)]
        for _ in range(n):
            s.step(1)
            out.append(state(s))
        return out
    finally:
        close(s)


def straight(accel, n=35):
    """The edited timeline without going back: {position: state} from
    EDIT_AT to ``n``, and the guest's output and final state."""
    s = session(accel)
    try:
        s.step(EDIT_AT)
        edit(s)
        states = {EDIT_AT: state(s)}
        for p in range(EDIT_AT + 1, n + 1):
            s.step(1)
            states[p] = state(s)
        st = s.cont()
        assert st.reason == "exited"
        return states, s.machine.serial_output(), state(s)
    finally:
        close(s)


@pytest.mark.parametrize("accel", ENGINES)
def test_reverse_undoes_an_edit_and_forward_makes_it_again(accel):
    ref = reference(accel, 35)
    edited, output, end = straight(accel)
    assert output != b"2584\n"                 # the edit changes what the guest computes
    assert edited[EDIT_AT] != ref[EDIT_AT]

    def expected(p):
        return ref[p] if p < EDIT_AT else edited[p]

    s = session(accel)
    try:
        s.step(EDIT_AT)
        assert state(s) == ref[EDIT_AT]
        edit(s)
        assert state(s) == edited[EDIT_AT]
        for p in range(EDIT_AT + 1, 36):
            s.step(1)
            assert state(s) == edited[p], p

        # (a) back one instruction at a time, past the edit, to the start
        for p in range(34, -1, -1):
            st = s.reverse_step(1)
            assert st.reason == "step", (p, st.message)
            assert state(s) == expected(p), p
        assert s.reverse_step(1).reason == "history-start"

        # (b) forward again through the edit: it is made again at EDIT_AT
        for p in range(1, 36):
            s.step(1)
            assert state(s) == expected(p), p
        # ... and in one run: a re-execution from the checkpoint at 0 (the
        # others are gone) stops at the edit and makes it
        s.reverse_step(35)
        assert state(s) == ref[0]
        s.step(35)
        assert state(s) == edited[35]
        bp = s.add_breakpoint(0x7c33)           # push ax: last at EDIT_AT in the edited timeline
        st = s.reverse_continue()
        assert st.reason == "breakpoint" and state(s) == edited[EDIT_AT]
        s.delete(bp.number)
        s.step(15)
        s.reverse_step(10)
        assert state(s) == edited[25]
        s.reverse_step(10)
        assert state(s) == ref[15]
        # continuing (chunks of 7 on the exact engines) through the edit
        st = s.cont()
        assert st.reason == "exited"
        assert s.machine.serial_output() == output
        assert state(s) == end
    finally:
        close(s)


@pytest.mark.parametrize("accel", ENGINES)
def test_an_edit_in_the_middle_of_history_drops_the_recorded_future(accel):
    ref = reference(accel, 5)
    # the new timeline: an edit at 10, then the edit at EDIT_AT
    r = session(accel)
    try:
        r.step(10)
        r.set_register("bx", 0x77)
        new = {10: state(r)}
        for p in range(11, 41):
            r.step(1)
            if p == EDIT_AT:
                edit(r)
            new[p] = state(r)
    finally:
        close(r)

    s = session(accel)
    try:
        s.step(10)
        s.set_register("bx", 0x77)              # kept: before the later edit
        s.step(15)
        s.write_memory(0x700, b"\x11")          # at 25: dropped by the edit at 20
        s.set_register("cx", 0x99)
        s.step(5)
        s.recorder.held_irqs.add(27)            # (as if a step had held an interrupt there)
        s.reverse_step(10)
        assert s.pos == EDIT_AT and s.read_memory(0x700, 1) == b"\x00"
        edit(s)
        assert state(s) == new[EDIT_AT]
        rec = s.recorder
        assert sorted(rec.edits) == [10, EDIT_AT]
        assert max(cp.pos for cp in rec.cps) == EDIT_AT
        assert not any(p >= EDIT_AT for p in rec.held_irqs)
        for p in range(EDIT_AT + 1, 41):        # the new timeline, without the edit at 25
            s.step(1)
            assert state(s) == new[p], p
        s.reverse_step(35)                      # back before both edits
        assert state(s) == ref[5]
        s.step(5)
        assert state(s) == new[10]
        s.step(30)
        assert state(s) == new[40]
        s.reverse_step(12)
        assert state(s) == new[28]
    finally:
        close(s)


def test_edits_go_with_the_history_they_belong_to():
    # trimmed: an edit older than the oldest checkpoint cannot be reached
    s = session("interp", history_size=8, interval=4)
    try:
        s.step(10)
        s.set_register("bx", 0x77)
        assert list(s.recorder.edits) == [10]
        for _ in range(20):
            s.step(1)
        assert s.recorder.oldest > 10 and s.recorder.edits == {}
        # a change of nothing is no edit: the future stays
        s.reverse_step(3)
        n = len(s.recorder.cps)
        s.set_register("bx", s.get_register("bx"))
        s.write_memory(0x7c00, s.read_memory(0x7c00, 4))
        assert s.recorder.edits == {} and len(s.recorder.cps) == n
        # restart forgets them
        s.set_register("bx", 0x78)
        assert list(s.recorder.edits) == [s.pos]
        s.restart()
        assert s.recorder.edits == {}
        s.step(10)
        assert s.get_register("bx") == 0
    finally:
        close(s)


def test_gdb_P_and_M_packets_are_recorded():
    img = load_file(FIB)
    m = Machine(accel="interp")
    m.load_image(img.data, img.name)
    stub = GdbStub(m, img, port=0)
    try:
        for _ in range(5):
            assert stub.handle(b"s").startswith(b"T05")
        assert stub.handle(b"p3") == "00000000"
        assert stub.handle(b"P3=34120000") == "OK"          # ebx
        assert stub.handle(b"M600,2:55aa") == "OK"
        for _ in range(3):
            stub.handle(b"s")
        for _ in range(5):                                  # back past the edits
            assert stub.handle(b"bs") == b"T05thread:01;"
        assert stub.session.pos == 3
        assert stub.handle(b"p3") == "00000000" and stub.handle(b"m600,2") == "0000"
        for _ in range(5):
            stub.handle(b"s")
        assert stub.handle(b"p3") == "34120000" and stub.handle(b"m600,2") == "55aa"
    finally:
        stub.close()
        m.close()
