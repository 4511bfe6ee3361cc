"""Reverse execution replays live UART input at the instructions where it came.

A live source (stdin, a socket) delivers bytes over time: the far end's
timing, not the guest's.  The recorder notes the position at which each
byte entered the receiver; going back and forward again must deliver it
at that same position -- not as soon as the guest has room -- and must not
read the source again.  The sources here deliver bytes on their n-th call,
so a replay that asked them again, or took a byte from the tape early,
would show the byte with another counter value.

Two guests echo each byte with a loop counter and keep (byte, counter) in
RAM: one polls LSR, one takes IRQ 4 and reads while LSR.DR is set (the
8259 sees edges; the PIT's ticks give the Machine its chances to poll the
UART).
"""

import os

import pytest

from emu.debug.session import Session
from emu.loader import assemble
from emu.machine import Machine

NO_KVM = pytest.mark.skipif(not os.access("/dev/kvm", os.R_OK | os.W_OK),
                            reason="/dev/kvm is not usable on this host")

LOG = 0x1000        # (byte, counter word) records

POLLING = """
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    xor bx, bx
    mov di, 0x1000
poll:
    inc bx
    mov dx, 0x3fd
    in al, dx
    test al, 1
    jz poll
    mov dx, 0x3f8
    in al, dx
got:
    mov [di], al
    mov [di+1], bx
    add di, 3
    out dx, al
    mov al, bl
    out dx, al
    cmp byte ptr [di-3], 0x71
    jne poll
    xor al, al
    out 0xf4, al
    hlt
"""

IRQ = """
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word ptr [0x20], irq0
    mov word ptr [0x22], 0
    mov word ptr [0x30], irq4
    mov word ptr [0x32], 0
    mov word ptr [head], 0x1000
    mov al, 0x34
    out 0x43, al
    mov ax, 20
    out 0x40, al
    mov al, ah
    out 0x40, al
    mov dx, 0x3f9
    mov al, 1
    out dx, al
    mov al, 0xee
    out 0x21, al
    sti
main:
    inc word ptr [count]
    cmp byte ptr [done], 0
    je main
    cli
    xor al, al
    out 0xf4, al
    hlt
irq0:
    push ax
    mov al, 0x20
    out 0x20, al
    pop ax
    iret
irq4:
    push ax
    push dx
    push di
irq4_next:
    mov dx, 0x3f8
    in al, dx
got:
    mov di, [head]
    mov [di], al
    push ax
    mov ax, [count]
    mov [di+1], ax
    pop ax
    add di, 3
    mov [head], di
    out dx, al
    cmp al, 0x71
    jne irq4_more
    mov byte ptr [done], 1
irq4_more:
    mov dx, 0x3fd
    in al, dx
    test al, 1
    jnz irq4_next
    mov al, 0x20
    out 0x20, al
    pop di
    pop dx
    pop ax
    iret
head:   .word 0
count:  .word 0
done:   .byte 0
"""

GUESTS = {"polling": (POLLING, {7: b"a", 40: b"bc", 41: b"d", 90: b"q"}),
          "irq": (IRQ, {3: b"x", 20: b"yz", 35: b"w", 50: b"q"})}


class LiveSource:
    """The far end: its n-th call returns ``schedule[n]`` (else nothing)."""

    def __init__(self, schedule):
        self.schedule = dict(schedule)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.schedule.get(self.calls)


def build(guest, accel):
    text, schedule = GUESTS[guest]
    img = assemble(text, guest + ".S")
    src = LiveSource(schedule)
    m = Machine(accel=accel, memory=1 << 20, serial_input=src)
    m.load_image(img.data, img.name)
    return m, img, src


def state(s):
    m = s.machine
    m.accel.sync_state()
    return (s.pos, m.cpu.snapshot(), m.ram.read_bytes(LOG, 64), m.serial_output())


def first_pass(s, img):
    """Run to the end, stopping where each byte was taken; the stops and
    states at some positions in between."""
    bp = s.add_breakpoint(img.symbols["got"])
    stops = {}
    while True:
        st = s.cont()
        stops[s.pos] = state(s)
        if st.reason != "breakpoint":
            assert st.reason == "exited", st.message
            break
        st = s.step(5)                     # off the breakpoint, a few more
        stops[s.pos] = state(s)
    s.delete(bp.number)
    return stops


# The IRQ guest depends on the PIT.  On KVM the session single-steps every
# instruction and guest time counts them (Machine.count_guest_time), so
# the timer's interrupts replay as on the software engines.  On unicorn a
# run in chunks and a run in single steps already take the timer's
# interrupts at different instructions (with no input at all), so stepping
# forward there does not retrace a 'continue'.
CASES = [("interp", "polling"), ("tcg", "polling"), ("unicorn", "polling"),
         pytest.param("kvm", "polling", marks=NO_KVM), ("interp", "irq"), ("tcg", "irq"),
         pytest.param("kvm", "irq", marks=NO_KVM)]


@pytest.mark.parametrize("accel,guest", CASES)
def test_live_input_replays_at_the_recorded_positions(accel, guest):
    m, img, src = build(guest, accel)
    s = Session(m, img, interval=300)
    # steps take interrupts as 'continue' does: stepping forward again must
    # retrace the first pass (with step-irqs off a step holds IRQ 4 back)
    s.step_irqs = True
    try:
        stops = first_pass(s, img)
        end = s.pos
        assert m.ram.read_bytes(LOG, 15)[::3] == b"".join(
            v for _, v in sorted(GUESTS[guest][1].items()))
        calls = src.calls
        positions = sorted(stops)
        # back to each stop, newest first, by reverse-step
        for p in reversed(positions[:-1]):
            s.reverse_step(s.pos - p)
            assert state(s) == stops[p], p
        # and positions that are not checkpoints: one step back from each
        s.step(positions[-1] - s.pos)
        for p in reversed(positions[1:]):
            s.reverse_step(s.pos - p)
            assert state(s) == stops[p], p
            s.reverse_step(1)
            s.step(1)
            assert state(s) == stops[p], p
        # forward again from the start: the same stops
        s.reverse_step(s.pos)
        assert s.pos == 0
        seen = first_pass(s, img)
        assert seen == stops
        assert s.pos == end
        assert src.calls == calls              # the source was not read again
    finally:
        s.close()
        m.close()


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_reverse_continue_and_live_input_past_the_recorded_end(accel):
    """reverse-continue back through the byte stops; then forward past the
    end of the recording, where the source is read again: the whole run
    matches one that never went back."""
    m0, img, _ = build("polling", accel)
    try:
        assert m0.run(icount_limit=200_000).reason == "debug-exit"
        full = (m0.ram.read_bytes(LOG, 64), m0.serial_output())
    finally:
        m0.close()
    m, img, src = build("polling", accel)
    s = Session(m, img, interval=300)
    try:
        bp = s.add_breakpoint(img.symbols["got"])
        stops = []
        for _ in range(3):                 # 'a', 'b', 'c': the recording ends at 'c'
            assert s.cont().reason == "breakpoint"
            stops.append(state(s))
        calls = src.calls
        for want in reversed(stops[:-1]):
            st = s.reverse_continue()
            assert st.reason == "breakpoint"
            assert state(s) == want
        assert s.cont().reason == "breakpoint"
        assert state(s) == stops[1]
        assert src.calls == calls
        assert s.cont().reason == "breakpoint"
        assert state(s) == stops[2]
        s.delete(bp.number)
        assert s.cont().reason == "exited"     # 'd' and 'q' come live
        assert src.calls > calls
        assert (m.ram.read_bytes(LOG, 64), m.serial_output()) == full
    finally:
        s.close()
        m.close()
