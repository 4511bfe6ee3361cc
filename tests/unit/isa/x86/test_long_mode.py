"""Long mode (SDM Vol. 3A §6.14, §5.8.8; Vol. 2 IRET, SYSCALL, SYSRET,
SWAPGS): 64-bit gate frames with and without a stack switch, IST, IRETQ to
ring 3, SYSCALL/SYSRET register and selector effects, SWAPGS and the base
MSRs.  Every expected value is worked out by hand from the SDM."""

import pytest

from emu.isa.ops import GuestException
from emu.isa.x86 import flags as F
from emu.isa.x86.concrete import ConcreteOps
from emu.isa.x86.decode import Decoder
from emu.isa.x86.interrupts import deliver
from emu.isa.x86.semantics import REGISTRY
from emu.isa.x86.state import CR0_PE, CS, EFER_LMA, EFER_LME, EFER_SCE, GS, SS, Segment
from emu.machine import Machine

from pm_helpers import desc

GDT, IDT, TSS = 0x1000, 0x2000, 0x3000
STAR = (0x10 << 48) | (0x08 << 32)       # SYSCALL CS 0x08 / SS 0x10; SYSRET SS 0x1B, CS 0x23


class LM:
    """A 64-bit CPU; GDT: 0x08 code0 (L), 0x10 data0, 0x18 data3, 0x20 code3 (L), 0x28 64-bit TSS."""

    def __init__(self, cpl=0):
        self.m = Machine(accel="interp", cpu="max")
        s = self.s = self.m.cpu
        self.ops = ConcreteOps(s, self.m.ram, self.m.model)
        rows = [(0, 0), desc(0, 0xFFFFF, 0x9B, 0xA), desc(0, 0xFFFFF, 0x93), desc(0, 0xFFFFF, 0xF3),
                desc(0, 0xFFFFF, 0xFB, 0xA), desc(TSS, 0x67, 0x89, 0), (0, 0)]
        for k, (lo, hi) in enumerate(rows):
            self.w(GDT + 8 * k, 4, lo)
            self.w(GDT + 8 * k + 4, 4, hi)
        s.gdt_base, s.gdt_limit = GDT, len(rows) * 8 - 1
        s.idt_base, s.idt_limit = IDT, 0x100 * 16 - 1
        s.cr0 |= CR0_PE
        s.efer = EFER_LME | EFER_LMA | EFER_SCE
        s.msrs[0xC0000081] = STAR
        s.tr = Segment(selector=0x28, base=TSS, limit=0x67, type=11, s=0)
        self.w(TSS + 4, 8, 0x9008)       # RSP0 (not 16-byte aligned on purpose)
        self.w(TSS + 0x24, 8, 0xA000)    # IST1
        code, data = (0x08, 0x10) if cpl == 0 else (0x23, 0x1B)
        s.segs[CS] = Segment(selector=code, base=0, limit=0xFFFFFFFF, type=11, dpl=cpl, db=0, l=1, g=1)
        for n in (0, 2, 3, 4, 5):
            s.segs[n] = Segment(selector=data, base=0, limit=0xFFFFFFFF, type=3, dpl=cpl, db=1, g=1)
        s.regs[4] = 0x8000
        s.rip = 0x500

    def w(self, addr, size, v):
        self.m.ram.mm[addr:addr + size] = v.to_bytes(size, "little")

    def r(self, addr, size=8):
        return int.from_bytes(self.m.ram.mm[addr:addr + size], "little")

    def gate(self, vector, offset, sel, type_attr, ist=0):
        self.w(IDT + 16 * vector, 4, (offset & 0xFFFF) | (sel << 16))
        self.w(IDT + 16 * vector + 4, 4, (offset & 0xFFFF0000) | (type_attr << 8) | ist)
        self.w(IDT + 16 * vector + 8, 4, offset >> 32)
        self.w(IDT + 16 * vector + 12, 4, 0)

    def run(self, code):
        """Execute one instruction at RIP (as the interpreter would)."""
        rip = self.s.rip
        insn = Decoder("max", 4, True, REGISTRY).decode(lambda k: code[k], rip)
        self.s.rip = insn.next_ip
        insn.handler(self.ops, insn)
        return insn


def fault(fn, *a):
    with pytest.raises(GuestException) as e:
        fn(*a)
    return e.value.vector, e.value.error_code


def test_int_from_ring3_switches_to_rsp0_aligned_and_pushes_five_qwords():
    lm = LM(cpl=3)
    lm.s.regs[4] = 0x7FF8
    lm.s.rflags = F.IF | 0x2
    lm.gate(0x80, 0x1_0000_0500, 0x08, 0xEE)          # 64-bit interrupt gate, DPL 3
    deliver(lm.ops, 0x80, 0x600, soft=True)
    s = lm.s
    # RSP0 0x9008 aligned down to 0x9000; pushes SS, RSP, RFLAGS, CS, RIP
    assert [lm.r(0x9000 - 8 * k) for k in range(1, 6)] == [0x1B, 0x7FF8, F.IF | 0x2, 0x23, 0x600]
    assert s.regs[4] == 0x9000 - 40
    assert s.segs[CS].selector == 0x08 and s.cpl == 0
    assert s.segs[SS].selector == 0                     # null SS with RPL = new CPL 0
    assert s.rip == 0x1_0000_0500
    assert not s.rflags & F.IF                          # interrupt gate clears IF


def test_same_level_fault_through_ist_pushes_ss_rsp_and_error_code():
    lm = LM()
    lm.gate(13, 0x700, 0x08, 0x8F, ist=1)               # 64-bit trap gate, IST1
    lm.s.rflags = F.IF | 0x2
    deliver(lm.ops, 13, 0x555, error_code=0x28)
    assert [lm.r(0xA000 - 8 * k) for k in range(1, 7)] == [0x10, 0x8000, F.IF | 0x2, 0x08, 0x555, 0x28]
    assert lm.s.regs[4] == 0xA000 - 48
    assert lm.s.segs[SS].selector == 0x10               # no privilege change: SS kept
    assert lm.s.rflags & F.IF                           # trap gate keeps IF


def test_32bit_gate_type_is_gp_with_idt_error_code():
    lm = LM()
    lm.gate(5, 0x700, 0x08, 0x86)                       # type 6: not valid in long mode
    assert fault(deliver, lm.ops, 5, 0x500) == (13, 5 * 8 + 2 + 1)


def test_gate_to_non_64bit_code_segment_is_gp_with_selector():
    lm = LM()
    lm.gate(7, 0x700, 0x10, 0x8E)                       # data segment as the handler's CS
    assert fault(deliver, lm.ops, 7, 0x500) == (13, 0x10 + 1)


def test_iretq_to_ring3_pops_rip_cs_rflags_rsp_ss():
    lm = LM()
    frame = [0x4000, 0x23, F.IF | F.CF | 0x2, 0x7000, 0x1B]
    for k, v in enumerate(frame):
        lm.w(0x8000 + 8 * k, 8, v)
    lm.s.rip = 0x500
    lm.run(b"\x48\xcf")                 # IRETQ
    s = lm.s
    assert s.rip == 0x4000 and s.cpl == 3 and s.segs[CS].l == 1
    assert s.regs[4] == 0x7000 and s.segs[SS].selector == 0x1B
    assert s.rflags & (F.IF | F.CF) == F.IF | F.CF


def test_syscall_saves_rip_and_rflags_and_masks_flags():
    lm = LM(cpl=3)
    lm.s.msrs[0xC0000082] = 0xFFFF_8000_0000_1000       # LSTAR (canonical high half)
    lm.s.msrs[0xC0000084] = F.IF | F.TF                 # SFMASK
    lm.s.rflags = F.IF | F.ZF | 0x2
    lm.s.rip = 0x400
    lm.run(b"\x0f\x05")
    s = lm.s
    assert s.regs[1] == 0x402                           # RCX = next RIP
    assert s.regs[11] == F.IF | F.ZF | 0x2              # R11 = old RFLAGS
    assert s.rip == 0xFFFF_8000_0000_1000
    assert s.rflags & (F.IF | F.ZF) == F.ZF
    assert s.segs[CS].selector == 0x08 and s.segs[SS].selector == 0x10 and s.cpl == 0


def test_sysretq_returns_to_ring3_with_star_selectors():
    lm = LM()
    lm.s.regs[1] = 0x4321
    lm.s.regs[11] = F.IF | F.CF | F.IOPL | 0x2
    lm.run(b"\x48\x0f\x07")              # SYSRETQ
    s = lm.s
    assert s.rip == 0x4321 and s.cpl == 3
    assert s.segs[CS].selector == 0x23 and s.segs[CS].l == 1
    assert s.segs[SS].selector == 0x1B
    assert s.rflags == F.IF | F.CF | F.IOPL | 0x2


def test_sysret_at_ring3_is_gp_and_syscall_without_sce_is_ud():
    lm = LM(cpl=3)
    assert fault(lm.run, b"\x48\x0f\x07") == (13, 0)
    lm.s.efer &= ~EFER_SCE
    lm.s.rip = 0x500
    assert fault(lm.run, b"\x0f\x05") == (6, None)


def test_wrmsr_gs_base_and_swapgs_exchange_with_kernel_gs_base():
    lm = LM()
    s = lm.s
    s.regs[1], s.regs[0], s.regs[2] = 0xC0000101, 0x1000, 0     # GS.base = 0x1000
    lm.run(b"\x0f\x30")
    s.regs[1], s.regs[0], s.regs[2] = 0xC0000102, 0x2000, 1     # KERNEL_GS_BASE = 0x1_00002000
    s.rip = 0x500
    lm.run(b"\x0f\x30")
    assert s.segs[GS].base == 0x1000
    s.rip = 0x500
    lm.run(b"\x0f\x01\xf8")              # SWAPGS
    assert s.segs[GS].base == 0x1_0000_2000 and s.msrs[0xC0000102] == 0x1000
    s.regs[1] = 0xC0000101
    s.rip = 0x500
    lm.run(b"\x0f\x32")                  # RDMSR GS.base
    assert (s.regs[0], s.regs[2]) == (0x2000, 1)


def test_swapgs_at_ring3_is_gp():
    lm = LM(cpl=3)
    assert fault(lm.run, b"\x0f\x01\xf8") == (13, 0)


def test_64_bit_mode_ignores_the_ds_es_ss_bases_but_not_fs_gs():
    """SDM Vol. 3A §3.4.4: in 64-bit mode the CPU treats the bases of CS, DS,
    ES and SS as zero (the hidden values stay for compatibility mode);
    FS and GS keep theirs."""
    lm = LM()
    for n in (0, 2, 3, 4):                       # ES, SS, DS, FS: hidden base 0x1000
        lm.s.segs[n].base = 0x1000
    lm.ops.update_paging()                       # what an engine does after loading state
    lm.w(0x5000, 8, 0x1111111111111111)
    lm.w(0x6000, 8, 0x2222222222222222)
    lm.run(bytes.fromhex("488b042500500000"))    # mov rax, [0x5000]
    assert lm.s.regs[0] == 0x1111111111111111
    lm.run(bytes.fromhex("64488b042500500000"))  # mov rax, fs:[0x5000]
    assert lm.s.regs[0] == 0x2222222222222222
    lm.s.regs[4] = 0x6000
    lm.run(bytes.fromhex("58"))                  # pop rax: SS base ignored too
    assert lm.s.regs[0] == 0x2222222222222222 and lm.s.regs[4] == 0x6008
    assert lm.s.segs[3].base == 0x1000           # the hidden base is kept
