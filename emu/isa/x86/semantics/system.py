"""Flag control, I/O, interrupts and system instructions
(SDM Vol. 1 §7.3.13-7.3.15, §19; Vol. 3A §2.8).

Privileged instructions (SDM Vol. 3A §5.9: LGDT LIDT LLDT LTR MOV CR/DR
LMSW CLTS INVD WBINVD INVLPG HLT RDMSR WRMSR) raise #GP(0) at CPL > 0;
CLI/STI and IN/OUT are IOPL-sensitive (§18.3; IN/OUT also consult the TSS
I/O permission bitmap).  The ``pm`` rows (SLDT STR LLDT LTR VERR VERW LAR
LSL ARPL) are #UD in real mode and, except ARPL's sibling checks, in
virtual-8086 mode (SDM Vol. 2 "Real-Address Mode Exceptions").

Debug registers: DR0-DR3, DR6 and DR7 are stored and read back (DR4/DR5
alias DR6/DR7 with CR4.DE clear, #UD with it set); breakpoints they
describe are not raised (a deliberate gap: the debugger uses its own).
"""

from .. import flags as F
from ..flags import MASK
from ..interrupts import deliver
from ..insn import MEM
from ..state import CR0_PE, CR0_PG, CS, EFER_LMA, EFER_LME
from .. import protected as P
from .. import long_mode as LM
from . import sem


@sem("SYSCALL", helper=True)
def syscall(ops, i):
    """SYSCALL: fast call to ring 0 (SDM Vol. 2B; :func:`emu.isa.x86.long_mode.syscall`)."""
    LM.syscall(ops, i)


@sem("SYSRET", helper=True)
def sysret(ops, i):
    """SYSRET: fast return to ring 3 (SDM Vol. 2B; :func:`emu.isa.x86.long_mode.sysret`)."""
    LM.sysret(ops, i)


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


@sem("CLI")
def cli(ops, i):
    """CLI: #GP if CPL > IOPL in protected mode (``ops.check_iopl``)."""
    ops.check_iopl("CLI/STI")
    ops.set_flags(0, F.IF)


@sem("STI")
def sti(ops, i):
    """STI: interrupts are recognised only after the *next* instruction
    (the shadow is set only when IF was clear, SDM Vol. 2B "STI")."""
    ops.check_iopl("CLI/STI")
    ops.inhibit_irq_if((ops.get_flags() & F.IF) == 0)
    ops.set_flags(F.IF, F.IF)


@sem("IN")
def in_(ops, i):
    """IN AL/AX/EAX, imm8/DX -- becomes an IO exit (translated code: served
    in the block when the device allows, see ``X86IRBuilder.port_in``)."""
    port = ops.read(i.ops[1])
    size = i.ops[0].size
    ops.write(i.ops[0], ops.port_in(port, size))


@sem("OUT")
def out(ops, i):
    """OUT imm8/DX, AL/AX/EAX -- becomes an IO exit (translated code: as IN)."""
    port = ops.read(i.ops[0])
    size = i.ops[1].size
    ops.port_out(port, size, ops.read(i.ops[1]))


@sem("INT")
def int_(ops, i):
    """INT imm8: a software interrupt (protected mode: gate DPL >= CPL)."""
    ops.software_interrupt(i.ops[0].value, i.next_ip)


@sem("INT3", helper=True)
def int3(ops, i):
    deliver(ops, 3, i.next_ip, soft=True)


@sem("INT1", helper=True)
def int1(ops, i):
    deliver(ops, 1, i.next_ip)


@sem("INTO", helper=True)
def into(ops, i):
    if ops.cond(F.CC_O):
        deliver(ops, 4, i.next_ip, soft=True)


@sem("IRET")
def iret(ops, i):
    """IRET/IRETD: real mode pops IP, CS, FLAGS; protected mode:
    :func:`emu.isa.x86.pm_interrupts.iret_protected` (SDM Vol. 2A "IRET")."""
    if not ops.real_mode():
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
        if s.efer & EFER_LMA and v >> ops.model.max_phys_bits:
            ops.raise_exc(13, 0, f"CR3 0x{v:x}: bits 63:{ops.model.max_phys_bits} are reserved")
        s.cr3 = v
        ops.flush_tlb()         # SDM Vol. 3A §4.10.4.1: MOV to CR3 flushes the TLB
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
    v = s.efer if idx == 0xC0000080 else LM.read_msr(s, idx)
    if v is None:
        v = s.msrs.get(idx)
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
    elif not LM.write_msr(ops, idx, v):
        s.msrs[idx] = v
    ops.mode_changed()


# -- descriptor-table instructions (SDM Vol. 2A/2B; Vol. 3A §2.4, §5.10) ---------------------
def _pm_only(ops, what):
    """The ``pm`` rows: #UD in real mode and in virtual-8086 mode."""
    s = ops.s
    if not s.cr0 & CR0_PE or s.fl & F.VM:
        ops.raise_exc(6, None, f"{what} is not recognised in real or virtual-8086 mode")


def _store_selector(ops, i, v):
    """SLDT/STR: a 16-bit store to memory; a register gets it zero-extended."""
    o = i.ops[0]
    if o.kind == MEM:
        ops.store(o.seg, ops.ea(o), 2, v)
    else:
        ops.set_reg(o.n, i.osize, v)


@sem("SLDT", helper=True)
def sldt(ops, i):
    """SLDT r/m16: store the LDTR selector."""
    _pm_only(ops, "SLDT")
    _store_selector(ops, i, ops.s.ldt.selector)


@sem("STR", helper=True)
def str_(ops, i):
    """STR r/m16: store the task register's selector."""
    _pm_only(ops, "STR")
    _store_selector(ops, i, ops.s.tr.selector)


@sem("LLDT", helper=True)
def lldt(ops, i):
    """LLDT r/m16 (privileged): a null selector leaves LDTR unusable; else a
    GDT LDT descriptor (type 2), #GP(sel) otherwise, #NP(sel) if not present."""
    _pm_only(ops, "LLDT")
    _cpl_check(ops, "LLDT")
    P.load_ldt(ops, ops.read(i.ops[0]) & 0xFFFF)


@sem("LTR", helper=True)
def ltr(ops, i):
    """LTR r/m16 (privileged): an available TSS in the GDT, marked busy."""
    _pm_only(ops, "LTR")
    _cpl_check(ops, "LTR")
    P.load_tr(ops, ops.read(i.ops[0]) & 0xFFFF)


@sem("VERR", helper=True)
def verr(ops, i):
    """VERR r/m16: ZF=1 if the segment is readable at CPL/RPL."""
    _pm_only(ops, "VERR")
    ok = P.verify(ops, ops.read(i.ops[0]) & 0xFFFF, write=False)
    ops.set_flags(F.ZF if ok else 0, F.ZF)


@sem("VERW", helper=True)
def verw(ops, i):
    """VERW r/m16: ZF=1 if the segment is writable at CPL/RPL."""
    _pm_only(ops, "VERW")
    ok = P.verify(ops, ops.read(i.ops[0]) & 0xFFFF, write=True)
    ops.set_flags(F.ZF if ok else 0, F.ZF)


@sem("LAR", helper=True)
def lar(ops, i):
    """LAR r, r/m16: access rights (descriptor bytes 5-6, masked 0x00F0FF00), ZF=1; ZF=0 if not visible."""
    _pm_only(ops, "LAR")
    v = P.access_rights(ops, ops.read(i.ops[1]) & 0xFFFF)
    if v is None:
        ops.set_flags(0, F.ZF)
        return
    ops.write(i.ops[0], v & (0xFF00 if i.osize == 2 else 0x00F0FF00))
    ops.set_flags(F.ZF, F.ZF)


@sem("LSL", helper=True)
def lsl(ops, i):
    """LSL r, r/m16: the segment limit in bytes (G applied), ZF=1; ZF=0 if not visible."""
    _pm_only(ops, "LSL")
    v = P.segment_limit(ops, ops.read(i.ops[1]) & 0xFFFF)
    if v is None:
        ops.set_flags(0, F.ZF)
        return
    ops.write(i.ops[0], v)
    ops.set_flags(F.ZF, F.ZF)


@sem("ARPL", helper=True)
def arpl(ops, i):
    """ARPL r/m16, r16: raise the destination's RPL to the source's, ZF=1 if it changed."""
    _pm_only(ops, "ARPL")
    d = ops.read(i.ops[0])
    src = ops.read(i.ops[1])
    if (d & 3) < (src & 3):
        ops.write(i.ops[0], (d & ~3) | (src & 3))
        ops.set_flags(F.ZF, F.ZF)
    else:
        ops.set_flags(0, F.ZF)


# -- caches, TLB and debug registers ----------------------------------------------------------
@sem("INVLPG", helper=True)
def invlpg(ops, i):
    """INVLPG m (privileged): drop the TLB entry for the page holding m (SDM Vol. 3A §4.10.4.1)."""
    m = i.ops[0]
    if m.kind != MEM:
        # 0F 01 F8 is SWAPGS (SDM Vol. 2B); other register forms of /7 (RDTSCP ...) are not modelled
        if m.n == 0 and not i.rex & 1:
            LM.swapgs(ops, i)
            return
        ops.raise_exc(6, None, "0F 01 /7 register form other than SWAPGS")
    _cpl_check(ops, "INVLPG")
    ops.flush_tlb(ops.seg_base(m.seg) + ops.ea(m))


@sem("INVD", "WBINVD", helper=True)
def invd(ops, i):
    """INVD / WBINVD (privileged): kasou has no caches to flush."""
    _cpl_check(ops, i.name)


def _dr_index(ops, n):
    if n in (4, 5):
        if ops.s.cr4 & 8:               # CR4.DE
            ops.raise_exc(6, None, f"DR{n} with CR4.DE set")
        n += 2
    if n > 7:
        ops.raise_exc(6, None, f"no DR{n}")
    return n


@sem("MOV_FROM_DR", helper=True)
def mov_from_dr(ops, i):
    """MOV r32, DRn (privileged)."""
    _cpl_check(ops, "MOV from DR")
    n = _dr_index(ops, i.ops[1].n)
    ops.write(i.ops[0], ops.s.dr[n])


@sem("MOV_TO_DR", helper=True)
def mov_to_dr(ops, i):
    """MOV DRn, r32 (privileged); DR6/DR7 keep their fixed bits."""
    _cpl_check(ops, "MOV to DR")
    n = _dr_index(ops, i.ops[0].n)
    v = ops.read(i.ops[1])
    if n == 6:
        v = (v & 0xE00F) | 0xFFFF0FF0
    elif n == 7:
        v = (v & 0xFFFF23FF) | 0x400
    ops.s.dr[n] = v
