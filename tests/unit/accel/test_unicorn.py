"""The unicorn engine: exact state round trip, exits counted as on the
interpreter, single-step, breakpoints, budgets, HLT, MMIO."""

import pytest

pytest.importorskip("unicorn")
pytest.importorskip("keystone")

from emu import loader  # noqa: E402
from emu.devices.device import Device, StopRequest  # noqa: E402

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
    return loader.assemble(src, "<test>", 0x7C00).data


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
    acc.put_state()
    s.load(X86State())      # forget everything, then read it back from unicorn
    acc.get_state()
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


class StopOnWrite(Device):
    """An MMIO register that asks the Machine to stop after each write."""
    name = "stop-on-write"

    def __init__(self):
        super().__init__()
        self.values = []

    def read(self, offset, size):
        return 0

    def write(self, offset, size, value):
        self.values.append(value)
        self.stop_request = StopRequest(1, "stop-on-write")


def test_a_device_stop_at_an_mmio_store_leaves_ip_past_it():
    """The store is done when the device asks to stop, so IP is past it
    (the interpreter and KVM leave it there); running on must not store
    again."""
    src = """
        mov ax, 0x0800
        mov ds, ax
        mov al, 0x41
        mov [0x10], al
    after:
        mov bl, 1
        cli
        hlt
    """
    seen = {}
    for accel in ("interp", "unicorn"):
        m = machine(accel, src, memory=0x8000)
        dev = StopOnWrite()
        m.mmio.map(0x8010, 1, dev)
        m.devices[dev.name] = dev
        first = m.run()
        m.accel.sync_state()
        ip = m.cpu.rip
        dev.stop_request = None
        second = m.run()
        m.accel.sync_state()
        seen[accel] = (first.reason, ip, second.reason, dev.values, m.cpu.regs[3] & 0xFF)
        m.close()
    after = loader.assemble(src, "<test>", 0x7C00).symbols["after"]
    assert seen["interp"] == ("debug-exit", after, "halt", [0x41], 1)
    assert seen["unicorn"] == seen["interp"]


# -- segment caches: loaded as the CPU holds them, not as a MOV would load them --------

def test_protected_mode_resumes_with_real_mode_segments():
    """Right after the far jump into protected mode (pm_boot.S's pm32) SS
    and DS still hold real-mode selectors and caches; SS = 0 loaded as a MOV
    is #GP.  Loading that state again (as the debugger does when it goes
    back to a checkpoint) and running on gives what a plain run gives."""
    import os
    from emu.loader import load_file
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    img = load_file(os.path.join(root, "tests", "guests", "x86", "pm_boot.S"))
    pm32 = img.symbols["pm32"]
    runs = []
    for stop in (False, True):
        m = Machine(accel="unicorn")
        m.load_image(img.data, img.name)
        done = 0
        if stop:
            m.accel.breakpoints.add(pm32)
            r = m.run()
            assert (r.reason, r.exit.pc) == ("debug", pm32)
            done = r.icount
            m.accel.sync_state()
            assert m.cpu.cr0 & 1 and m.cpu.segs[CS].selector == 0x08
            assert m.cpu.segs[SS] == Segment.real(0) and m.cpu.segs[DS] == Segment.real(0)
            m.accel.breakpoints.clear()
            m.accel.state_changed()
        r = m.run(icount_limit=1_000_000)
        m.accel.sync_state()
        runs.append((r.reason, r.status, done + r.icount, m.cpu.snapshot(), m.serial_output()))
        m.close()
    assert runs[0] == runs[1]
    assert runs[1][:2] == ("debug-exit", 1)


PM_GDT, PM_CODE = 0x500, 0x1000
PM_SRC = """
    mov eax, dword ptr [0x20]
    push eax
    mov ebx, dword ptr es:[0x24]
    mov al, 0
    out 0xf4, al
"""


def pm_machine(accel: str) -> Machine:
    """32-bit protected mode on segments no descriptor table describes: the
    GDT is empty (limit 7), CS is a 32-bit code segment based at 0x1000, SS
    a real-mode one (selector 0, 16-bit: PUSH uses SP), DS has RPL 3 above
    its DPL 0 (a MOV would be #GP), ES a 4 GiB flat one.  A descriptor with
    its accessed bit clear sits in the (unused) GDT entry 1."""
    m = Machine(accel=accel)
    ram = m.ram
    ram.load(PM_GDT + 8, (0x00CF92000000FFFF).to_bytes(8, "little"))
    ram.load(PM_CODE + 0x100, loader.assemble(PM_SRC, "<test>", 0x100, bits=32).data)
    ram.load(0x12360, (0x11223344).to_bytes(4, "little"))
    ram.load(0x24, (0x55667788).to_bytes(4, "little"))
    s = m.cpu
    s.load(X86State())
    s.cr0 = 0x11
    s.gdt_base, s.gdt_limit = PM_GDT, 7
    s.segs[CS] = Segment(selector=0x08, base=PM_CODE, limit=0xFFFFFFFF, type=11, db=1, g=1)
    s.segs[SS] = Segment.real(0)
    s.segs[DS] = Segment(selector=0x1003, base=0x12340, limit=0xFFFF, type=3)
    s.segs[ES] = Segment(selector=0x10, base=0, limit=0xFFFFFFFF, type=3, db=1, g=1)
    s.segs[FS] = Segment.real(0x40)
    s.segs[GS] = Segment(selector=0, base=0, limit=0, present=0, unusable=1)
    s.regs[4] = 0x18000                 # ESP: a 16-bit SS pushes at SS:SP = 0x7ffc
    s.rip = 0x100
    m.accel.flush_code_cache()
    m.accel.state_changed()
    return m


def test_segment_caches_no_table_describes_load_as_they_are():
    got = {}
    for accel in ("interp", "unicorn"):
        m = pm_machine(accel)
        r = m.run(icount_limit=100)
        m.accel.sync_state()
        got[accel] = (r.reason, r.status, r.icount, m.cpu.snapshot(),
                      bytes(m.ram.view[0x7FF0:0x8000]), bytes(m.ram.view[0x17FF0:0x18000]),
                      bytes(m.ram.view[PM_GDT:PM_GDT + 16]))
        m.close()
    assert got["interp"] == got["unicorn"]
    reason, status, icount, snap, stack16, stack32, gdt = got["unicorn"]
    assert (reason, status, icount) == ("debug-exit", 1, 5)
    assert snap["rax"] & 0xFFFFFF00 == 0x11223300       # DS base 0x12340 + 0x20
    assert snap["rbx"] == 0x55667788                    # ES base 0
    assert snap["rsp"] == 0x17FFC                       # a 16-bit stack: SP moved, not ESP
    assert stack16[-4:] == (0x11223344).to_bytes(4, "little") and stack32 == bytes(16)
    assert gdt[8:] == (0x00CF92000000FFFF).to_bytes(8, "little")      # no accessed bit set


def test_state_round_trip_keeps_segment_caches():
    """What unicorn holds after a load is kasou's caches, and the hidden
    flags QEMU derives from them (CPL, 32-bit CS and SS, segment bases to add)."""
    import struct
    from emu.isa.x86.unicorn_adapter import HF_ADDSEG, HF_CPL, HF_CS32, HF_SS32, SEG_CACHE, _cpu_layout, _seg_flags
    m = pm_machine("unicorn")
    acc = m.accel
    acc.put_state()
    segs_at, hflags_at = _cpu_layout()
    img = bytes(acc.uc.context_save())
    held = [SEG_CACHE.unpack_from(img, segs_at + n * SEG_CACHE.size) for n in range(6)]
    want = [(g.selector, g.base, g.limit, 0 if g.unusable else _seg_flags(g)) for g in m.cpu.segs]
    assert held == want
    (hflags,) = struct.unpack_from("<I", img, hflags_at)
    assert hflags & (HF_CPL | HF_CS32 | HF_SS32 | HF_ADDSEG) == HF_CS32 | HF_ADDSEG
    m.close()


def test_a_cpu_state_layout_not_understood_makes_the_engine_unavailable(monkeypatch):
    """The segment caches are found in unicorn's CPU state image by probing;
    an image laid out otherwise (another unicorn) is refused in one line
    when the engine is made, not mis-written later."""
    import struct
    import emu.isa.x86.unicorn_adapter as U
    from emu.accel.base import AccelUnavailable
    monkeypatch.setattr(U, "_layout", None)
    monkeypatch.setattr(U, "SEG_CACHE", struct.Struct("<IQII"))     # no padding: not QEMU's
    with pytest.raises(AccelUnavailable) as e:
        Machine(accel="unicorn")
    msg = str(e.value)
    assert "not laid out as kasou expects" in msg and "\n" not in msg
