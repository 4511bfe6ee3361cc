"""Shared set-up for the protected-mode unit tests: a Machine's RAM and CPU
state driven through ConcreteOps directly, with descriptors written by hand."""

from emu.isa.x86.concrete import ConcreteOps
from emu.isa.x86.state import CR0_PE, CS, SS, Segment
from emu.machine import Machine

GDT, IDT, TSS = 0x1000, 0x2000, 0x3000


def desc(base, limit, access, flags=0xC):
    """An 8-byte segment descriptor: access byte (P DPL S type), flags nibble (G D/B L AVL)."""
    lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16)
    hi = ((base >> 16) & 0xFF) | (access << 8) | (((limit >> 16) & 0xF) << 16) | (flags << 20) | (base & 0xFF000000)
    return lo, hi


def gate(offset, sel, type_attr):
    """An IDT gate: type_attr is the byte P DPL 0 type (0x8E: 32-bit interrupt gate, DPL 0)."""
    return (offset & 0xFFFF) | (sel << 16), (offset & 0xFFFF0000) | (type_attr << 8)


class PM:
    """A flat 32-bit protected-mode CPU at CPL ``cpl`` with a GDT:
    0x08 code0, 0x10 data0, 0x18 code3, 0x20 data3, 0x28 TSS, 0x30 not-present data."""

    def __init__(self, cpl=0):
        self.m = Machine(accel="interp", cpu="max")
        s = self.s = self.m.cpu
        self.ops = ConcreteOps(s, self.m.ram, self.m.model)
        for i, (lo, hi) in enumerate([(0, 0), desc(0, 0xFFFFF, 0x9B), desc(0, 0xFFFFF, 0x93),
                                      desc(0, 0xFFFFF, 0xFB), desc(0, 0xFFFFF, 0xF3),
                                      desc(TSS, 0x67, 0x89, 0), desc(0, 0xFFFFF, 0x13)]):
            self.w(GDT + 8 * i, 4, lo)
            self.w(GDT + 8 * i + 4, 4, hi)
        s.gdt_base, s.gdt_limit = GDT, 7 * 8 - 1
        s.idt_base, s.idt_limit = IDT, 0x100 * 8 - 1
        s.cr0 |= CR0_PE
        self.w(TSS + 4, 4, 0x9000)      # ESP0
        self.w(TSS + 8, 4, 0x10)        # SS0
        s.tr = Segment(selector=0x28, base=TSS, limit=0x67, type=11, s=0)
        code, data = (0x08, 0x10) if cpl == 0 else (0x1B, 0x23)
        s.segs[CS] = Segment(selector=code, base=0, limit=0xFFFFFFFF, type=11, dpl=cpl, db=1, g=1)
        for n in (0, 2, 3, 4, 5):
            s.segs[n] = Segment(selector=data, base=0, limit=0xFFFFFFFF, type=3, dpl=cpl, db=1, g=1)
        s.regs[4] = 0x8000
        s.rip = 0x500

    def w(self, addr, size, v):
        self.m.ram.mm[addr:addr + size] = v.to_bytes(size, "little")

    def r(self, addr, size=4):
        return int.from_bytes(self.m.ram.mm[addr:addr + size], "little")

    def set_gate(self, vector, offset, sel, type_attr):
        lo, hi = gate(offset, sel, type_attr)
        self.w(IDT + 8 * vector, 4, lo)
        self.w(IDT + 8 * vector + 4, 4, hi)
