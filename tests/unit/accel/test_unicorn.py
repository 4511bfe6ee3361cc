"""The unicorn engine: exact state round trip, exits counted as on the
interpreter, single-step, breakpoints, budgets, HLT, MMIO."""

import pytest

pytest.importorskip("unicorn")
pytest.importorskip("keystone")

from keystone import KS_ARCH_X86, KS_MODE_16, Ks  # noqa: E402

from emu.isa.x86.state import CS, DS, ES, FS, GS, SS, Segment, X86State  # noqa: E402
from emu.machine import Machine  # noqa: E402

OUT_IN_EXIT = """
    mov dx, 0x3f8
    mov al, 0x41
    out dx, al
    in al, dx
    mov al, 0x42
    out dx, al
    mov cx, 3
again:
    dec cx
    jnz again
    mov al, 4
    out 0xf4, al
    hlt
"""


def asm(src: str) -> bytes:
    return bytes(Ks(KS_ARCH_X86, KS_MODE_16).asm(src, 0x7C00)[0])


def machine(accel: str, src: str, **kw) -> Machine:
    m = Machine(accel=accel, **kw)
    m.load_image(asm(src))
    return m


def test_state_round_trip_is_exact():
    m = machine("unicorn", "hlt")
    s = m.cpu
    s.regs[:8] = [0x11223344, 0xFFFFFFFF, 0x80000000, 0x1234, 0xFFF0, 0x5566, 0x7788AABB, 0x99]
    s.rip = 0x7C00
    s.rflags = 0x0002 | 0x0001 | 0x0040 | 0x0400 | 0x0800 | 0x0080 | 0x0010 | 0x0004
    s.segs[ES] = Segment.real(0x1234)
    s.segs[SS] = Segment.real(0x2000)
    s.segs[DS] = Segment.real(0xB800)
    s.segs[FS] = Segment.real(0xFFFF)
    s.segs[GS] = Segment.real(0x0040)
    s.segs[CS] = Segment.real(0x0000, code=True)
    s.gdt_base, s.gdt_limit = 0x12340, 0x27
    s.idt_base, s.idt_limit = 0, 0x3FF
    s.cr0 = 0x60000010      # CD NW ET, real mode
    s.cr2 = 0xDEADB000
    s.cr3 = 0x9000
    s.cr4 = 0x30            # PSE PAE
    s.efer = 0x801          # NXE SCE
    want = s.copy().snapshot()
    acc = m.accel
    acc.state_changed()
    acc._put_state()
    s.load(X86State())      # forget everything, then read it back from unicorn
    acc._get_state()
    got = s.snapshot()
    assert {k: (want[k], got[k]) for k in want if want[k] != got[k]} == {}
    m.close()


def test_io_exits_counted_as_on_the_interpreter():
    results = {}
    for accel in ("interp", "unicorn"):
        m = machine(accel, OUT_IN_EXIT)
        r = m.run()
        results[accel] = (r.reason, r.status, r.icount, r.stats.as_dict(), m.serial_output())
        m.close()
    assert results["interp"] == results["unicorn"]
    reason, status, icount, stats, out = results["unicorn"]
    assert (reason, status, out) == ("debug-exit", 9, b"AB")
    assert stats["by_key"] == {"IO out 0x3f8": 2, "IO in 0x3f8": 1, "IO out 0xf4": 1}


def test_single_step_matches_the_interpreter():
    trace = {}
    for accel in ("interp", "unicorn"):
        m = machine(accel, OUT_IN_EXIT)
        m.accel.set_single_step(True)
        pcs = []
        while True:
            r = m.run()
            if r.reason != "debug":
                break
            assert r.icount == 1 and r.exit.kind == "step"
            pcs.append((r.exit.pc, m.cpu.rip, tuple(m.cpu.regs[:8]), m.cpu.rflags))
        trace[accel] = (pcs, r.reason, r.status, m.stats.as_dict())
        m.close()
    assert trace["interp"] == trace["unicorn"]
    assert len(trace["unicorn"][0]) == 14


def test_breakpoint_stops_before_the_instruction_and_resumes():
    m = machine("unicorn", OUT_IN_EXIT)
    loop = 0x7C00 + 3 + 2 + 1 + 1 + 2 + 1 + 3       # "again: dec cx"
    m.accel.breakpoints.add(loop)
    hits = []
    while True:
        r = m.run()
        if r.reason != "debug":
            break
        assert r.exit.kind == "breakpoint" and r.exit.pc == loop
        hits.append((m.cpu.regs[1] & 0xFFFF, r.icount))
    assert hits == [(3, 7), (2, 2), (1, 2)]
    assert (r.reason, r.status) == ("debug-exit", 9)
    m.close()


LOOP = """
    mov cx, 5
again:
    dec cx
    nop
    jnz again
    mov al, 4
    out 0xf4, al
    hlt
"""
NOP = 0x7C00 + 3 + 1          # the nop inside the loop


def test_breakpoint_armed_after_its_code_was_translated():
    """Unicorn decides which instructions call the code hooks when it
    translates a block: a breakpoint armed on code already translated must
    still stop there.  A debugger arms and disarms breakpoints around every
    single step, so this is the common case, not a corner."""
    m = machine("unicorn", LOOP)
    r = m.run(icount_limit=4)               # the loop body translated, nothing armed
    assert r.reason == "limit" and m.cpu.regs[1] & 0xFFFF == 4
    m.accel.breakpoints.add(NOP)
    r = m.run()
    assert (r.reason, r.exit.kind, r.exit.pc) == ("debug", "breakpoint", NOP)
    assert m.cpu.regs[1] & 0xFFFF == 3
    hits = [3]
    while True:                             # as a debugger continues: disarmed step, then armed
        m.accel.breakpoints.clear()
        m.accel.set_single_step(True)
        r = m.run()
        assert (r.reason, r.exit.kind) == ("debug", "step")
        m.accel.set_single_step(False)
        m.accel.breakpoints.add(NOP)
        r = m.run()
        if r.reason != "debug":
            break
        assert (r.exit.kind, r.exit.pc) == ("breakpoint", NOP)
        hits.append(m.cpu.regs[1] & 0xFFFF)
    assert hits == [3, 2, 1, 0]
    assert (r.reason, r.status) == ("debug-exit", 9)
    m.close()


def test_breakpoint_removed_after_its_code_was_translated():
    m = machine("unicorn", LOOP)
    m.accel.breakpoints.add(NOP)
    r = m.run()
    assert (r.reason, r.exit.pc, m.cpu.regs[1] & 0xFFFF) == ("debug", NOP, 4)
    m.accel.breakpoints.clear()
    r = m.run()
    assert (r.reason, r.status, r.icount) == ("debug-exit", 9, 2 + 4 * 3 + 2)   # nop jnz, 4 rounds, mov out
    m.close()


def test_single_step_through_translated_code():
    """Stepping after a free run translated the loop: one instruction each."""
    m = machine("unicorn", LOOP)
    r = m.run(icount_limit=7)
    assert r.reason == "limit" and m.cpu.rip == 0x7C03
    m.accel.set_single_step(True)
    pcs = []
    for _ in range(4):
        r = m.run()
        assert (r.reason, r.icount, r.exit.kind) == ("debug", 1, "step")
        pcs.append((r.exit.pc, m.cpu.regs[1] & 0xFFFF))
    assert pcs == [(0x7C04, 2), (0x7C05, 2), (0x7C03, 2), (0x7C04, 1)]
    m.close()


def test_instruction_budget_is_exact():
    src = """
        mov cx, 1000
    l:  loop l
        hlt
    """
    for limit in (1, 2, 17, 500, 1000):
        m = machine("unicorn", src)
        r = m.run(icount_limit=limit)
        assert (r.reason, r.icount) == ("limit", limit)
        assert m.cpu.regs[1] & 0xFFFF == 1000 - (limit - 1)
        m.close()
    m = machine("unicorn", src)
    r = m.run(icount_limit=5000)
    assert r.reason == "halt" and r.icount == 1002
    m.close()


def test_hlt_with_interrupts_disabled_ends_the_run():
    m = machine("unicorn", "cli\nhlt")
    r = m.run()
    assert r.reason == "halt" and r.icount == 2 and m.cpu.halted
    m.close()


def test_rep_string_iterations_count_one_each():
    src = """
        xor ax, ax
        mov es, ax
        mov di, 0x8000
        mov cx, 5
        rep stosb
        hlt
    """
    counts = {}
    for accel in ("interp", "unicorn"):
        m = machine(accel, src)
        counts[accel] = m.run().icount
        m.close()
    assert counts["interp"] == counts["unicorn"] == 10


def test_software_interrupt_goes_through_the_ivt():
    # every vector points at the board's dummy IRET at F000:FF53
    src = """
        int 0x10
        mov al, 0
        out 0xf4, al
    """
    for accel in ("interp", "unicorn"):
        m = machine(accel, src)
        r = m.run()
        assert (r.reason, r.icount) == ("debug-exit", 4), accel
        m.close()


def test_access_beyond_ram_is_an_mmio_exit():
    src = """
        mov ax, 0xffff
        mov ds, ax
        mov al, [0x20]
        mov [0x30], al
        mov al, 0
        out 0xf4, al
    """
    got = {}
    for accel in ("interp", "unicorn"):
        m = machine(accel, src, memory=1 << 20)
        r = m.run()
        got[accel] = (r.reason, r.icount, r.stats.as_dict(), m.cpu.regs[0] & 0xFF)
        m.close()
    assert got["interp"] == got["unicorn"]
    assert got["unicorn"][2]["by_key"]["MMIO read 0x100010"] == 1
    assert got["unicorn"][2]["by_key"]["MMIO write 0x100020"] == 1
