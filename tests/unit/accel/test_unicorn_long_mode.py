"""Long mode on the unicorn engine: the engine follows the guest from real
to protected to long mode, SYSCALL runs on kasou's semantics (unicorn only
calls a hook for it) while SYSRETQ and SWAPGS are unicorn's, the long-mode
MSRs and the 64-bit FS/GS bases reach unicorn and come back, and nothing
unicorn does behind the guest's back (CR2, accessed bits) shows."""

import os

import pytest

pytest.importorskip("unicorn")
pytest.importorskip("keystone")

from emu import loader  # noqa: E402
from unicorn import UC_MODE_16, UC_MODE_32, UC_MODE_64  # noqa: E402

from emu.isa.x86.long_mode import (MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_SFMASK,  # noqa: E402
                                   MSR_STAR)
from emu.isa.x86.protected import descriptor_to_segment  # noqa: E402
from emu.isa.x86.state import CS, DS, ES, FS, GS, SS, Segment, X86State  # noqa: E402
from emu.loader import load_file  # noqa: E402
from emu.machine import Machine  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

GDT, IDT, TSS, PERCPU = 0x1000, 0x3000, 0x30000, 0x31000
USER, KERNEL, UD_HANDLER = 0x5000, 0x6000, 0x6800
GDT_ENTRIES = [
    0,
    0x00CF9B000000FFFF,     # 0x08 code32 ring 0
    0x00CF93000000FFFF,     # 0x10 data ring 0
    0x00AF9B000000FFFF,     # 0x18 code64 ring 0 (SYSCALL CS)
    0x00CF93000000FFFF,     # 0x20 data ring 0 (SYSCALL SS)
    0x00CFFB000000FFFF,     # 0x28 code32 ring 3
    0x00CFF3000000FFFF,     # 0x30 data ring 3 (SYSRET SS)
    0x00AFFB000000FFFF,     # 0x38 code64 ring 3 (SYSRETQ CS)
]
EFER_SCE, EFER_LME, EFER_LMA = 0x1, 0x100, 0x400
USER_GS_BASE = 0x7777_0000
USER_FS_BASE = 0x1234_5678_9000

# ring 3: two SYSCALLs (the second asks ring 0 to exit)
USER_CODE = """
    mov r8, 0x1122334455667788
    mov r9, 0x8877665544332211
    mov eax, 1
    syscall
    mov r13, rcx
    pushfq
    pop r14
    mov eax, 0x3c
    syscall
spin:
    jmp spin
"""
SWAPGS = bytes.fromhex("0f01f8")
SAVE_RSP = bytes.fromhex("65488924250800" "0000")      # mov gs:[8], rsp
KERNEL_RSP = bytes.fromhex("65488b24250000" "0000")    # mov rsp, gs:[0]
USER_RSP = bytes.fromhex("65488b24250800" "0000")      # mov rsp, gs:[8]
SYSRETQ = bytes.fromhex("480f07")
# ring 0, SYSCALL entry: count the call in R9, keep R11 in R10, back by SYSRETQ
KERNEL_CODE = (SWAPGS + SAVE_RSP + KERNEL_RSP
               + bytes.fromhex("83f83c" "7417")          # cmp eax, 0x3c; je exit
               + bytes.fromhex("49ffc1" "4d89da" "51" "59")   # inc r9; mov r10, r11; push rcx; pop rcx
               + USER_RSP + SWAPGS + SYSRETQ
               + bytes.fromhex("b000" "e6f4" "f4"))      # exit: mov al, 0; out 0xf4, al; hlt
# #UD handler: the faulting RIP from the frame into RBX, then exit
UD_CODE = bytes.fromhex("488b1c24" "b000" "e6f4" "f4")


def asm64(src: str, at: int) -> bytes:
    return loader.assemble(src, "<test>", at, bits=64).data


def segment(sel: int) -> Segment:
    raw = GDT_ENTRIES[sel >> 3]
    return descriptor_to_segment(sel, raw & 0xFFFFFFFF, raw >> 32)


def long_mode_machine(accel: str, efer: int) -> Machine:
    """A machine put straight into 64-bit mode at CPL 3 (no boot code): an
    identity-mapped 2 MiB page, a GDT, a 64-bit TSS and an IDT with a #UD
    gate, SYSCALL MSRs, 64-bit FS/GS bases."""
    m = Machine(accel=accel, cpu="max")
    ram = m.ram
    q = lambda v: v.to_bytes(8, "little")     # noqa: E731
    ram.load(0x20000, q(0x21007))
    ram.load(0x21000, q(0x22007))
    ram.load(0x22000, q(0x87))                # 2 MiB page at 0, user, writable
    ram.load(GDT, b"".join(q(e) for e in GDT_ENTRIES))
    tss_lo = 0x67 | (TSS & 0xFFFF) << 16
    tss_hi = (TSS >> 16) & 0xFF | 0x8900 | (TSS >> 24) << 24
    ram.load(GDT + 8 * len(GDT_ENTRIES), tss_lo.to_bytes(4, "little") + tss_hi.to_bytes(4, "little") + q(0))
    ram.load(TSS + 4, q(0x88000))             # RSP0
    ram.load(PERCPU, q(0x84000))              # the kernel stack for SYSCALL
    gate = (UD_HANDLER & 0xFFFF) | 0x18 << 16 | (0x8E00 | (UD_HANDLER >> 16) << 16) << 32
    ram.load(IDT + 6 * 16, q(gate) + q(0))
    ram.load(USER, asm64(USER_CODE, USER))
    ram.load(KERNEL, KERNEL_CODE)
    ram.load(UD_HANDLER, UD_CODE)
    s = m.cpu
    s.load(X86State())
    s.cr0, s.cr3, s.cr4, s.efer = 0x80000011, 0x20000, 0x20, efer
    s.gdt_base, s.gdt_limit = GDT, 8 * (len(GDT_ENTRIES) + 2) - 1
    s.idt_base, s.idt_limit = IDT, 16 * 0x20 - 1
    s.tr = Segment(selector=8 * len(GDT_ENTRIES), base=TSS, limit=0x67, type=11, s=0, present=1)
    s.segs[CS], s.segs[SS] = segment(0x3B), segment(0x33)
    for n in (ES, DS):
        s.segs[n] = Segment(selector=0, base=0, limit=0, present=0, unusable=1)
    s.segs[FS] = Segment(selector=0, base=USER_FS_BASE, limit=0, present=0, unusable=1)
    s.segs[GS] = Segment(selector=0, base=USER_GS_BASE, limit=0, present=0, unusable=1)
    s.regs[4] = 0x80000
    s.rip = USER
    s.rflags = 0x402                          # DF: SFMASK clears it in ring 0
    s.msrs = {MSR_STAR: 0x0028_0018_0000_0000, MSR_LSTAR: KERNEL, MSR_SFMASK: 0x700,
              MSR_KERNEL_GS_BASE: PERCPU}
    m.accel.flush_code_cache()
    m.accel.state_changed()
    return m


def run_both(efer: int):
    got = {}
    for accel in ("interp", "unicorn"):
        m = long_mode_machine(accel, efer)
        r = m.run(icount_limit=10_000)
        m.accel.sync_state()
        got[accel] = (r.reason, r.status, r.icount, m.cpu.snapshot(), dict(m.cpu.msrs))
        if accel == "unicorn":
            assert m.accel.uc_mode == UC_MODE_64
        m.close()
    return got


def test_syscall_swapgs_sysretq_as_on_the_interpreter():
    got = run_both(EFER_SCE | EFER_LME | EFER_LMA)
    assert got["interp"] == got["unicorn"]
    reason, status, _, snap, msrs = got["unicorn"]
    assert (reason, status) == ("debug-exit", 1)
    assert snap["r8"] == 0x1122334455667788
    assert snap["r9"] == 0x8877665544332212           # one SYSCALL reached ring 0 and came back
    assert snap["r10"] == 0x402                       # R11 = RFLAGS at the first SYSCALL
    assert snap["r13"] == USER + 27                   # RCX: the instruction after the SYSCALL
    assert snap["r14"] & 0x400                        # SYSRETQ gave back DF
    assert snap["cs"][0] == 0x18 and snap["ss"][0] == 0x20
    assert snap["gs"][1] == PERCPU                    # SWAPGS at the second entry
    assert msrs[MSR_KERNEL_GS_BASE] == USER_GS_BASE
    assert snap["fs"][1] == USER_FS_BASE


def test_syscall_with_sce_clear_is_ud_as_on_the_interpreter():
    got = run_both(EFER_LME | EFER_LMA)
    assert got["interp"] == got["unicorn"]
    reason, status, icount, snap, _ = got["unicorn"]
    assert (reason, status) == ("debug-exit", 1)
    assert snap["rbx"] == USER + 25                   # the #UD frame points at the SYSCALL
    assert snap["cs"][0] == 0x18 and snap["rsp"] == 0x88000 - 5 * 8
    assert icount == 3 + 1 + 3                        # 3 moves, the faulting SYSCALL, the handler


def test_long_mode_state_round_trip_is_exact():
    m = long_mode_machine("unicorn", EFER_SCE | EFER_LME | EFER_LMA)
    s = m.cpu
    s.regs[:] = [(0x0101010101010101 * (i + 1)) & (2 ** 64 - 1) for i in range(16)]
    s.rip = 0x7FFF_0000_1234
    s.msrs[0xC0000083] = 0x5555_0000           # CSTAR
    s.cr2 = 0xFFFF_8000_DEAD_B000
    want = s.copy()
    acc = m.accel
    acc.put_state()
    assert acc.uc_mode == UC_MODE_64
    # forget it all but the hidden parts of the null data segments (read
    # back only when the selector changes: unicorn cannot show them)
    blank = X86State()
    for n in (ES, DS, FS, GS):
        blank.segs[n] = want.segs[n].copy()
        blank.segs[n].base = 0
    s.load(blank)
    acc.get_state()
    assert s.diff(want) == []
    assert s.msrs == want.msrs
    assert s.cpl == 3
    m.close()


def test_the_engine_follows_the_guest_into_long_mode():
    img = load_file(os.path.join(ROOT, "emu", "guests", "lm_loop.S"))
    m = Machine(accel="unicorn", cpu="max")
    m.load_image(img.data, img.name)
    kinds = []
    while True:
        # a few instructions at a time through the mode switches, then the loop
        r = m.run(icount_limit=3 if m.accel.uc_mode != UC_MODE_64 else None)
        if not kinds or kinds[-1] != m.accel.uc_mode:
            kinds.append(m.accel.uc_mode)
        if r.reason != "limit":
            break
    m.accel.sync_state()
    assert kinds == [UC_MODE_16, UC_MODE_32, UC_MODE_64]
    assert (r.reason, r.status) == ("debug-exit", 1)
    assert m.serial_output() == b"0000000163400000\n"
    assert m.cpu.cr2 == 0              # no page fault: unicorn's own probes leave no trace
    m.close()


def test_guest_ram_untouched_by_engine_changes():
    """paging.S takes page faults; on unicorn each one re-creates the engine.
    Unicorn walks the page tables when it drops the old engine's memory: that
    walk must not set accessed bits (found by lockstep, at 0x21000)."""
    img = load_file(os.path.join(ROOT, "tests", "guests", "x86", "paging.S"))
    rams = {}
    for accel in ("interp", "unicorn"):
        m = Machine(accel=accel, cpu="max")
        m.load_image(img.data, img.name)
        r = m.run(icount_limit=2_000_000)
        assert (r.reason, r.status) == ("debug-exit", 1), accel
        rams[accel] = bytes(m.ram.view)
        m.close()
    diff = [i for i, (a, b) in enumerate(zip(rams["interp"], rams["unicorn"])) if a != b]
    assert diff == []


def test_segments_no_descriptor_table_holds_load_as_they_are():
    """SYSCALL loads fixed descriptors, whatever the GDT holds: with STAR's
    ring-0 selectors beyond the GDT limit the kernel runs on segments no
    table describes.  Unicorn gets the caches as kasou has them (a selector
    load through its register API would fault) and runs as the interpreter
    does."""
    got = {}
    for accel in ("interp", "unicorn"):
        m = long_mode_machine(accel, EFER_SCE | EFER_LME | EFER_LMA)
        m.cpu.msrs[MSR_STAR] = 0x0028_0060_0000_0000      # SYSCALL CS 0x60, SS 0x68: beyond the GDT
        m.accel.state_changed()
        r = m.run(icount_limit=10_000)
        m.accel.sync_state()
        got[accel] = (r.reason, r.status, r.icount, m.cpu.snapshot())
        m.close()
    assert got["interp"] == got["unicorn"]
    reason, status, _, snap = got["unicorn"]
    assert (reason, status) == ("debug-exit", 1)
    assert snap["cs"][0] == 0x60 and snap["ss"][0] == 0x68       # the second SYSCALL's
    assert snap["r9"] == 0x8877665544332212                      # the first came back


def test_loading_a_state_leaves_guest_memory_alone():
    """Segment caches go into unicorn as they are: no descriptor is read
    through the guest's page tables, so no accessed bit is set in them."""
    m = long_mode_machine("unicorn", EFER_SCE | EFER_LME | EFER_LMA)
    before = bytes(m.ram.view)
    m.accel.put_state()
    assert m.accel.uc_mode == UC_MODE_64
    after = bytes(m.ram.view)
    assert [hex(i) for i, (a, b) in enumerate(zip(before, after)) if a != b] == []
    m.close()
