"""The unicorn engine's free runs (-accel unicorn,count=free): no block
hook and no count where nothing needs them, the same guest behaviour as
the counting runs, and exact counting wherever a feature asks for it."""

import pytest

from emu.asm import assemble_file
from emu.cli import accel_available
from emu.machine import Machine

pytestmark = pytest.mark.skipif(not accel_available("unicorn")[0], reason="unicorn is not installed")

# INT 0x30 (a trap), UD2 (a fault: #UD, whose handler steps over it), INT 6
# (a trap to the same handler: it steps over the two NOPs after it), then
# HLT with interrupts disabled
INTERRUPTS = """
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word [0x30 * 4], on_int30
    mov word [0x30 * 4 + 2], 0
    mov word [6 * 4], on_ud
    mov word [6 * 4 + 2], 0
    mov dx, 0x3f8
    int 0x30
    ud2
    int 6
    nop
    nop
    mov ax, 0x06cd
    mov al, 'E'
    out dx, al
    mov al, 10
    out dx, al
    hlt
on_int30:
    mov al, 'T'
    out dx, al
    iret
on_ud:
    mov al, 'U'
    out dx, al
    push bp
    mov bp, sp
    add word [bp + 2], 2
    pop bp
    iret
"""

LOOP = """
again:
    inc ax
    jmp again
"""


def machine(count, source):
    img = assemble_file(source, "free.S")
    m = Machine(accel="unicorn", accel_options={"count": count})
    m.load_image(img.data, img.name, img.entry)
    return m


def test_free_run_counts_nothing_and_uses_no_block_hook():
    m = machine("free", INTERRUPTS)
    r = m.run()
    stats = m.accel.stats()
    assert (r.reason, m.serial_output()) == ("halt", b"TUUE\n")
    assert stats["count"] == "free" and stats["free runs"] >= 1
    assert stats["blocks entered"] == 0
    assert not m.accel.exact_icount and m.clock.realtime
    m.close()


@pytest.mark.parametrize("count", ["exact", "free"])
def test_interrupts_faults_and_halt_as_the_interpreter_has_them(count):
    m = machine(count, INTERRUPTS)
    r = m.run()
    ref = Machine(accel="interp")
    img = assemble_file(INTERRUPTS, "free.S")
    ref.load_image(img.data, img.name, img.entry)
    rr = ref.run()
    assert (r.reason, r.status, m.serial_output()) == (rr.reason, rr.status, ref.serial_output())
    m.accel.sync_state()
    assert m.cpu.regs[0] & 0xFFFF == ref.cpu.regs[0] & 0xFFFF
    m.close()
    ref.close()


def test_an_instruction_limit_is_counted_exactly_in_free_mode():
    m = machine("free", LOOP)
    for _ in range(2):
        start = m.accel.icount
        r = m.run(icount_limit=1001)
        assert (r.reason, m.accel.icount - start) == ("limit", 1001)
    assert m.accel.stats()["blocks entered"] > 0      # it counted with the block hook
    m.close()


def test_a_breakpoint_makes_the_run_count():
    m = machine("free", LOOP)
    m.accel.breakpoints.add(0x7C01)
    r = m.run()
    assert r.reason == "debug" and m.accel.pc() == 0x7C01
    m.close()


def test_an_unknown_count_mode_is_one_line():
    with pytest.raises(ValueError) as e:
        Machine(accel="unicorn", accel_options={"count": "sometimes"})
    assert str(e.value) == "-accel unicorn,count=sometimes: expected count=exact|free"


# 200 rounds of a store (BODY) to ES:DI = 0x2000:0 -- unassigned memory
# above the 64 KiB of RAM: an MMIO exit each -- with the PIT counting, so
# that a free run has a timer budget: wall-clock slices, and interrupts masked
SLICED = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov al, 0x34
    out 0x43, al
    mov al, 0
    out 0x40, al
    out 0x40, al
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov cx, 200
again:
    push cx
    mov al, 0x55
    BODY
    pop cx
    loop again
    hlt
"""
MMIO_STORES = {"mov": "mov [es:di], al", "stosb": "stosb",
               "rep stosb": "mov cx, 3\n    rep stosb",
               "push": "mov bx, ss\n    mov dx, es\n    mov ss, dx\n    push bx\n"
                       "    add sp, 2\n    mov ss, bx"}


@pytest.mark.parametrize("body", MMIO_STORES)
def test_a_free_runs_slices_never_end_inside_an_mmio_store(body):
    """A slice that is over ends at the next device access; stopped inside
    an MMIO access, unicorn's x86 CPU runs the instruction again (the x86
    adapter cannot complete it), repeating the store.  So on x86 the slice
    waits for a port access: the MMIO exits are the interpreter's, one per
    store.  (Slices of 20 us: this loop's 200-odd accesses through Python
    span many; the old engine repeated a store at the end of each.)"""
    img = assemble_file(SLICED.replace("BODY", MMIO_STORES[body]), "sliced.S")
    counts = []
    for accel in ("interp", "unicorn"):
        m = Machine(accel=accel, memory=64 << 10,
                    accel_options={"count": "free"} if accel == "unicorn" else None)
        m.load_image(img.data, img.name, img.entry)
        if accel == "unicorn":
            m.accel.min_slice = 2e-5
            m.accel.assumed_ips = 10 ** 15
        r = m.run()
        counts.append((r.reason, m.stats.by_key))
        m.close()
    (reason, want), (got_reason, got) = counts
    assert reason == got_reason == "halt"
    mmio = [{k: v for k, v in keys.items() if k.startswith("MMIO")} for keys in (want, got)]
    assert mmio[0] == mmio[1] and sum(mmio[0].values()) >= 200


def _uart_run(guest, accel, count="exact", observe=False):
    from emu import bench
    img = bench.guest_image(guest, 1)
    m = Machine(accel=accel, accel_options={"count": count} if accel == "unicorn" else {})
    seen = []
    if observe:
        m.add_exit_observer(lambda ex: seen.append(ex.reason))
    m.load_image(img.data, img.name, img.entry)
    r = m.run()
    io = {k: v for k, v in m.stats.by_key.items() if k.startswith("IO")}
    out = (r.reason, r.status, m.serial_output(), m.stats.by_reason.get("IO"), io)
    stats = m.accel.stats()
    m.close()
    return out, stats, seen


@pytest.mark.parametrize("guest", ["rm_uart", "pm_uart"])
@pytest.mark.parametrize("count", ["exact", "free"])
def test_polled_uart_accesses_are_served_quietly_and_counted_as_on_interp(guest, count):
    """The polled UART's port accesses are served from unicorn's port hooks
    by the Machine's quiet path (no exit built, no PC or timers looked at)
    and counted as IO exits port by port exactly as the interpreter counts
    them; an exit observer (as -d exits) gets every one as a real exit."""
    want, _, _ = _uart_run(guest, "interp")
    assert want[0] == "debug-exit" and want[3] > 2000
    got, stats, _ = _uart_run(guest, "unicorn", count)
    assert got == want
    # every access but isa-debug-exit's (it asks the machine to stop)
    assert stats["quiet port accesses"] == want[3] - 1
    got, stats, seen = _uart_run(guest, "unicorn", count, observe=True)
    assert got == want
    assert stats["quiet port accesses"] == 0 and seen.count("IO") == want[3]


def test_the_engine_marks_when_unicorn_first_ran_the_guest_for_the_bench():
    """``started``: perf_counter() at the first emu_start (None before), so
    that emu bench times the engine from the guest's first instruction, as
    it times bare unicorn -- the engine's start-up (its unicorn made, the
    CPU state put in) is in neither figure."""
    import time
    m = machine("free", INTERRUPTS)
    assert m.accel.started is None
    t0 = time.perf_counter()
    m.run()
    t1 = time.perf_counter()
    assert t0 <= m.accel.started <= t1
    m.close()


def test_the_table_says_how_unicorn_and_bare_unicorn_are_timed(capsys):
    from emu import bench
    rows = bench.run_bench(["fib"], ["unicorn", bench.BARE], repeat=1)
    bench.print_table(rows, {}, 1, chart=False)
    assert bench.TIMED_FROM_START in capsys.readouterr().out
