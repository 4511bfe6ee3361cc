"""Flag control, I/O, interrupts and system instructions
(SDM Vol. 1 §7.3.13-7.3.15, §19; Vol. 3A §2.8)."""

from .. import flags as F
from ..flags import MASK
from ..interrupts import deliver
from ..state import CR0_PE, CR0_PG, CS, EFER_LMA, EFER_LME
from . import sem


def _cpl_check(ops, what):
    s = ops.s
    if s.cr0 & CR0_PE and s.cpl != 0:
        ops.raise_exc(13, 0, f"{what} at CPL {s.cpl}")


@sem("HLT", helper=True)
def hlt(ops, i):
    """HLT: privileged (#GP at CPL > 0); the CPU stops until an interrupt."""
    _cpl_check(ops, "HLT")
    ops.halt()


@sem("CLC")
def clc(ops, i):
    ops.set_flags(0, F.CF)


@sem("STC")
def stc(ops, i):
    ops.set_flags(F.CF, F.CF)


@sem("CMC")
def cmc(ops, i):
    ops.set_flags(ops.get_cf() ^ 1, F.CF)


@sem("CLD")
def cld(ops, i):
    ops.set_flags(0, F.DF)


@sem("STD")
def std(ops, i):
    ops.set_flags(F.DF, F.DF)


def _if_allowed(ops):
    s = ops.s
    if s.cr0 & CR0_PE:
        iopl = (s.fl >> 12) & 3
        if s.cpl > iopl:
            ops.raise_exc(13, 0, f"CLI/STI at CPL {s.cpl} > IOPL {iopl}")


@sem("CLI", helper=True)
def cli(ops, i):
    """CLI: #GP if CPL > IOPL in protected mode (the seed's sensitive instruction)."""
    _if_allowed(ops)
    ops.set_flags(0, F.IF)


@sem("STI", helper=True)
def sti(ops, i):
    """STI: interrupts are recognised only after the *next* instruction."""
    _if_allowed(ops)
    if not ops.s.fl & F.IF:
        ops.s.inhibit_irq = True
    ops.set_flags(F.IF, F.IF)


@sem("IN", helper=True)
def in_(ops, i):
    """IN AL/AX/EAX, imm8/DX -- becomes an IO exit."""
    port = ops.read(i.ops[1])
    size = i.ops[0].size
    ops.write(i.ops[0], ops.port_in(port, size))


@sem("OUT", helper=True)
def out(ops, i):
    """OUT imm8/DX, AL/AX/EAX -- becomes an IO exit."""
    port = ops.read(i.ops[0])
    size = i.ops[1].size
    ops.port_out(port, size, ops.read(i.ops[1]))


@sem("INT", helper=True)
def int_(ops, i):
    deliver(ops, i.ops[0].value, i.next_ip)


@sem("INT3", helper=True)
def int3(ops, i):
    deliver(ops, 3, i.next_ip)


@sem("INT1", helper=True)
def int1(ops, i):
    deliver(ops, 1, i.next_ip)


@sem("INTO", helper=True)
def into(ops, i):
    if ops.cond(F.CC_O):
        deliver(ops, 4, i.next_ip)


@sem("IRET", helper=True)
def iret(ops, i):
    """IRET (real mode): pop IP, CS, FLAGS."""
    s = ops.s
    if s.cr0 & CR0_PE:
        from ..pm_interrupts import iret_protected
        iret_protected(ops, i)
        return
    n = i.osize
    ip = ops.pop(n)
    cs = ops.pop(n) & 0xFFFF
    fl = ops.pop(n)
    ops.far_jump(cs, ip & MASK[n])
    ops.set_flags(fl, ops.model.flags_writable & MASK[n])


@sem("BOUND", helper=True)
def bound(ops, i):
    """BOUND r, m: #BR unless lower <= r <= upper (signed)."""
    n = i.osize
    m = i.ops[1]
    a = ops.ea(m)
    lo = ops.load(m.seg, a, n)
    hi = ops.load(m.seg, (a + n) & m.amask, n)
    v = ops.read(i.ops[0])
    sign = 1 << (8 * n - 1)
    sv, slo, shi = ((v ^ sign) - sign), ((lo ^ sign) - sign), ((hi ^ sign) - sign)
    if sv < slo or sv > shi:
        ops.raise_exc(5, None, "BOUND range exceeded")


@sem("UD2", helper=True)
def ud2(ops, i):
    ops.raise_exc(6, None, "UD2")


@sem("CPUID", helper=True)
def cpuid(ops, i):
    from ..cpuid import cpuid_leaf
    eax, ebx, ecx, edx = cpuid_leaf(ops.model, ops.get_reg(0, 4), ops.get_reg(1, 4))
    for r, v in ((0, eax), (3, ebx), (1, ecx), (2, edx)):
        ops.set_reg(r, 4, v)


@sem("RDTSC", helper=True)
def rdtsc(ops, i):
    t = ops.s.tsc
    ops.set_reg(0, 4, t & 0xFFFFFFFF)
    ops.set_reg(2, 4, t >> 32)


def _dtable(ops, i, which, store):
    m = i.ops[0]
    a = ops.ea(m)
    s = ops.s
    n = 8 if ops.mode64() else 4
    if store:
        base, limit = (s.gdt_base, s.gdt_limit) if which == "gdt" else (s.idt_base, s.idt_limit)
        ops.store(m.seg, a, 2, limit)
        if n == 4 and i.osize == 2 and ops.model.level == 286:
            base |= 0xFF000000
        ops.store(m.seg, (a + 2) & m.amask, n, base)
    else:
        _cpl_check(ops, "LGDT/LIDT")
        limit = ops.load(m.seg, a, 2)
        base = ops.load(m.seg, (a + 2) & m.amask, n)
        if i.osize == 2 and n == 4:
            base &= 0xFFFFFF
        if which == "gdt":
            s.gdt_base, s.gdt_limit = base, limit
        else:
            s.idt_base, s.idt_limit = base, limit


sem("SGDT", helper=True)(lambda ops, i: _dtable(ops, i, "gdt", True))
sem("SIDT", helper=True)(lambda ops, i: _dtable(ops, i, "idt", True))
sem("LGDT", helper=True)(lambda ops, i: _dtable(ops, i, "gdt", False))
sem("LIDT", helper=True)(lambda ops, i: _dtable(ops, i, "idt", False))


@sem("SMSW", helper=True)
def smsw(ops, i):
    v = ops.s.cr0 & 0xFFFF
    if ops.model.level == 286:
        v |= 0xFFF0
    o = i.ops[0]
    if o.kind == 1:
        ops.store(o.seg, ops.ea(o), 2, v)
    else:
        ops.write(o, v)


@sem("LMSW", helper=True)
def lmsw(ops, i):
    """LMSW: sets PE, MP, EM, TS; cannot clear PE."""
    _cpl_check(ops, "LMSW")
    v = ops.read(i.ops[0]) & 0xF
    s = ops.s
    s.cr0 = (s.cr0 & ~0xE) | v | (s.cr0 & CR0_PE)
    ops.mode_changed()


@sem("CLTS", helper=True)
def clts(ops, i):
    _cpl_check(ops, "CLTS")
    ops.s.cr0 &= ~8


@sem("MOV_FROM_CR", helper=True)
def mov_from_cr(ops, i):
    _cpl_check(ops, "MOV from CR")
    n = i.ops[1].n
    s = ops.s
    v = {0: s.cr0, 2: s.cr2, 3: s.cr3, 4: s.cr4, 8: s.cr8}.get(n)
    if v is None:
        ops.raise_exc(6, None, f"no CR{n}")
    ops.write(i.ops[0], v)


@sem("MOV_TO_CR", helper=True)
def mov_to_cr(ops, i):
    """MOV CRn, r: CR0/CR3/CR4 writes can change the paging and execution mode."""
    _cpl_check(ops, "MOV to CR")
    n = i.ops[0].n
    v = ops.read(i.ops[1])
    s = ops.s
    if n == 0:
        if v & CR0_PG and not v & CR0_PE:
            ops.raise_exc(13, 0, "CR0.PG without CR0.PE")
        old = s.cr0
        s.cr0 = v | 0x10
        if s.efer & EFER_LME and v & CR0_PG and not old & CR0_PG:
            s.efer |= EFER_LMA
        elif not v & CR0_PG:
            s.efer &= ~EFER_LMA
    elif n == 2:
        s.cr2 = v
    elif n == 3:
        s.cr3 = v
    elif n == 4:
        s.cr4 = v
    elif n == 8:
        s.cr8 = v & 0xF
    else:
        ops.raise_exc(6, None, f"no CR{n}")
    ops.mode_changed()


@sem("RDMSR", helper=True)
def rdmsr(ops, i):
    _cpl_check(ops, "RDMSR")
    idx = ops.get_reg(1, 4)
    s = ops.s
    v = s.efer if idx == 0xC0000080 else s.msrs.get(idx)
    if v is None:
        ops.raise_exc(13, 0, f"RDMSR of unknown MSR 0x{idx:x}")
    ops.set_reg(0, 4, v & 0xFFFFFFFF)
    ops.set_reg(2, 4, v >> 32)


@sem("WRMSR", helper=True)
def wrmsr(ops, i):
    _cpl_check(ops, "WRMSR")
    idx = ops.get_reg(1, 4)
    v = ops.get_reg(0, 4) | (ops.get_reg(2, 4) << 32)
    s = ops.s
    if idx == 0xC0000080:
        s.efer = (v & ~EFER_LMA) | (s.efer & EFER_LMA)
    else:
        s.msrs[idx] = v
    ops.mode_changed()
