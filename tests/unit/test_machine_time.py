"""Guest time and timers in the Machine: the -icount clock, runs budgeted to
end at the next timer deadline, HLT skipping idle time, and the pc board's
PIT/PIC state (emu/machine.py, emu/boards/pc.py)."""

import io
import re
import time

import pytest

from emu.cli import main as emu_main
from emu.devices.i8254 import ticks_to_ns
from emu.loader import assemble
from emu.machine import DEFAULT_ICOUNT_SHIFT, GuestClock, Machine

SOFTWARE = ("interp", "tcg", "unicorn")


def machine(source, accel="interp", **kw):
    image = assemble(source).data        # first: the machine's clock starts with it
    m = Machine(accel=accel, **kw)
    m.load_image(image)
    return m


def irq_acks(log):
    """(vector, icount, guest ns) of every INTA cycle in a -d int log."""
    return [(int(v, 16), int(n), int(t)) for v, n, t in re.findall(
        r"irq: vector 0x(..) acknowledged at icount (\d+), guest time (\d+) ns", log.getvalue())]


class FakeTimer:
    """A timer with one deadline; records the icount at each update()."""

    def __init__(self, m, deadline_ns):
        self.m = m
        self.deadline = deadline_ns
        self.updates = []

    def next_deadline_ns(self):
        return self.deadline

    def update(self, now_ns):
        self.updates.append((self.m.accel.icount_now(), now_ns))
        if self.deadline is not None and now_ns >= self.deadline:
            self.deadline = None


# -- the clock ---------------------------------------------------------------------------

def test_clock_icount_mode_is_icount_shifted_plus_idle_time():
    class A:
        exact_icount = True
        icount = 10

        def icount_now(self):
            return self.icount
    c = GuestClock(shift=3)
    assert c.now_ns() == 0                  # no engine yet: power-on
    c.attach(A())
    assert c.now_ns() == 80
    c.wait_until(1000)                      # skipped, not slept
    assert c.idle_ns == 920 and c.now_ns() == 1000
    assert c.budget_for(1) == 1 and c.budget_for(8) == 1 and c.budget_for(9) == 2


def test_clock_real_time_mode_follows_the_wall_clock():
    class K:
        exact_icount = False
        icount = 0
        assumed_ips = 2_000_000

        def icount_now(self):
            return 0
    c = GuestClock()
    c.attach(K())
    t0 = c.now_ns()
    c.wait_until(t0 + 20_000_000)           # slept
    assert c.now_ns() - t0 >= 20_000_000
    assert c.budget_for(1_000_000) == 2000  # 1 ms at the engine's nominal speed


def test_clock_shift_out_of_range_is_refused():
    with pytest.raises(ValueError, match="shift=11"):
        GuestClock(11)


def test_default_shift_is_128_ns_per_instruction():
    m = machine("spin: jmp spin")
    assert DEFAULT_ICOUNT_SHIFT == 7 and m.clock.ns_per_insn == 128
    m.run(icount_limit=1000)
    assert m.clock.now_ns() == 1000 * 128
    m.close()


# -- budgeting to the next deadline ----------------------------------------------------------

@pytest.mark.parametrize("accel", SOFTWARE)
def test_run_ends_exactly_at_the_timer_deadline(accel):
    """A deadline 1000.5 instructions away fires after exactly 1001."""
    m = machine("spin: inc ax\n jmp spin", accel)
    m.timers[:] = [FakeTimer(m, 1000 * 128 + 64)]
    t = m.timers[0]
    r = m.run(icount_limit=5000)
    assert r.reason == "limit"
    assert t.updates[0] == (1001, 1001 * 128)
    assert m.stats.by_reason.get("BUDGET") == 2     # the deadline's and the limit's
    m.close()


@pytest.mark.parametrize("accel", SOFTWARE)
def test_guest_reprogramming_the_timer_rebudgets_the_run(accel):
    """The PIT programmed from inside a run (unicorn serves the OUT inside its
    hook): IRQ 0 still comes at the same instruction on every engine."""
    src = """
        cli
        mov word ptr [0x20], handler
        mov word ptr [0x22], 0
        mov al, 0xfe
        out 0x21, al            ; unmask IRQ 0 (board default: vectors 0x08/0x70)
        mov al, 0x30            ; counter 0, mode 0, count 100 (~84 us)
        out 0x43, al
        mov al, 100
        out 0x40, al
        xor al, al
        out 0x40, al
        sti
    spin:
        inc cx
        jmp spin
    handler:
        mov al, 0x20
        out 0x20, al
        mov al, 0
        out 0xf4, al
    """
    log = io.StringIO()
    m = machine(src, accel, log=log, log_flags=["int"])
    r = m.run(icount_limit=100_000)
    assert r.reason == "debug-exit"
    acks = irq_acks(log)
    assert len(acks) == 1 and acks[0][0] == 0x08
    # the count was loaded by the 11th instruction (the second OUT to 0x40):
    # mode 0 raises OUT after 100 clocks
    load_ns = 11 * 128
    due = load_ns + ticks_to_ns(100)
    assert acks[0][1] == -(-due // 128)
    assert m.stats.by_reason.get("BUDGET", 0) == 1
    m.close()


# -- HLT ------------------------------------------------------------------------------------

HANDLER_SRC = """
    cli
    mov word ptr [0x20], handler
    mov word ptr [0x22], 0
    mov al, 0xfe
    out 0x21, al
    sti
wait:
    hlt
    cmp word ptr [ticks], 3
    jb wait
    mov al, 0
    out 0xf4, al
handler:
    inc word ptr [ticks]
    {eoi}
    iret
ticks: .word 0
"""


@pytest.mark.parametrize("accel", SOFTWARE)
def test_hlt_skips_to_the_next_tick(accel):
    """PIT in its reset state (mode 3, 65536 clocks): each HLT jumps guest
    time to the next tick instead of executing ~430,000 idle instructions."""
    log = io.StringIO()
    m = machine(HANDLER_SRC.format(eoi="mov al, 0x20\n    out 0x20, al"), accel,
                log=log, log_flags=["int"])
    r = m.run(icount_limit=10_000)
    assert (r.reason, r.status) == ("debug-exit", 1)
    acks = irq_acks(log)
    assert [a[2] for a in acks] == [ticks_to_ns(65536 * k) for k in (1, 2, 3)]
    assert r.icount < 100
    assert m.clock.idle_ns > 3 * 54_000_000
    assert m.stats.by_reason["HLT"] == 3
    m.close()


def test_sti_shadow_covers_one_instruction_on_every_engine():
    """STI; HLT: the shadow ends with the HLT, so the tick that wakes it is
    taken at once (7 instructions in), not one instruction later -- the
    interpreter once kept a stale shadow across the HLT exit."""
    got = {}
    for accel in SOFTWARE:
        log = io.StringIO()
        m = machine(HANDLER_SRC.format(eoi="mov al, 0x20\n    out 0x20, al"), accel,
                    log=log, log_flags=["int"])
        m.run(icount_limit=10_000)
        got[accel] = irq_acks(log)
        m.close()
    assert got["interp"][0][1] == 7
    assert got["tcg"] == got["unicorn"] == got["interp"]


def test_hlt_in_real_time_sleeps_until_the_tick():
    m = machine(HANDLER_SRC.format(eoi="mov al, 0x20\n    out 0x20, al"), "interp")
    # make this interpreter's clock a wall clock, as on KVM
    m.clock.realtime = True
    t0 = time.monotonic()
    r = m.run(time_limit=5)
    assert (r.reason, r.status) == ("debug-exit", 1)
    assert time.monotonic() - t0 >= 3 * 0.0549 - 0.01
    assert m.clock.idle_ns == 0
    m.close()


def test_hlt_with_the_timer_in_service_and_no_eoi_halts():
    """No EOI: IRQ 0 stays in service, no later tick can interrupt; the
    second HLT ends the run instead of skipping time for ever."""
    m = machine(HANDLER_SRC.format(eoi=""), "interp")
    r = m.run(icount_limit=10_000)
    assert r.reason == "halt"
    assert "no device can raise one" in r.message
    m.close()


@pytest.mark.parametrize("accel", SOFTWARE)
def test_sti_hlt_with_the_board_default_masks_halts(accel):
    """Board state: every IRQ but the cascade masked, so a boot sector that
    only does STI; HLT halts as before the PIT existed."""
    m = machine("sti\n hlt", accel)
    r = m.run(icount_limit=10_000)
    assert (r.reason, r.status) == ("halt", 0)
    assert r.icount == 2
    m.close()


def test_cli_hlt_halts_at_once():
    m = machine("cli\n hlt")
    r = m.run(icount_limit=10_000)
    assert r.reason == "halt" and "interrupts disabled" in r.message
    assert m.clock.idle_ns == 0
    m.close()


# -- the board -------------------------------------------------------------------------------

def test_pc_board_pic_and_pit_state():
    m = Machine()
    pic = m.devices["pic"]
    assert (pic.master.irq_base, pic.slave.irq_base) == (0x08, 0x70)
    assert (pic.master.imr, pic.slave.imr) == (0xFB, 0xFF)
    assert pic.master.irr == 0              # no request latched at power-on
    assert m.timers == [m.devices["pit"]]
    assert m.next_timer_deadline() == ticks_to_ns(65536)    # 18.2 Hz from reset
    assert m.ports.read(0x43, 1) == 0       # the PIT sits at 0x40-0x43
    m.close()


def test_timer_polls_the_uart_for_an_interrupt_driven_guest():
    """The guest spins (no HLT, no UART register reads): typed input reaches
    it only because the Machine polls the UART when a timer fires."""
    src = """
        cli
        mov word ptr [0x20], tick
        mov word ptr [0x22], 0
        mov word ptr [0x30], rx
        mov word ptr [0x32], 0
        mov dx, 0x3f9
        mov al, 1                   ; IER: received data available
        out dx, al
        mov al, 0xee                ; unmask IRQ 0 and IRQ 4
        out 0x21, al
        sti
    spin:
        jmp spin
    tick:
        push ax
        mov al, 0x20
        out 0x20, al
        pop ax
        iret
    rx:
        mov dx, 0x3f8
        in al, dx
        out dx, al                  ; echo
        mov al, 0x20
        out 0x20, al
        mov al, 0
        out 0xf4, al
    """
    calls = []

    def source():
        calls.append(1)
        return b"k" if len(calls) > 20 else b""
    m = Machine(accel="interp", serial_input=source)
    m.load_image(assemble(src).data)
    r = m.run(icount_limit=20_000_000)
    assert (r.reason, m.serial_output()) == ("debug-exit", b"k")
    m.close()


# -- the command line -----------------------------------------------------------------------

def test_cli_icount_shift(tmp_path, capsys):
    guest = tmp_path / "g.S"
    guest.write_text("mov al, 0\n out 0xf4, al\n")
    assert emu_main(["run", "-icount", "shift=3", "-serial", "none", str(guest)]) == 1
    assert emu_main(["run", "-icount", "4", "-serial", "none", str(guest)]) == 1
    assert emu_main(["run", "-icount", "shift=11", str(guest)]) == 2
    assert "0..10" in capsys.readouterr().err


def test_icount_shift_with_kvm_is_refused():
    with pytest.raises(ValueError, match="real time"):
        Machine(accel="kvm", icount_shift=3)
