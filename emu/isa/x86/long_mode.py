"""Long-mode system mechanisms: 64-bit IDT delivery, IRETQ, SYSCALL/SYSRET,
SWAPGS and the long-mode MSRs (SDM Vol. 3A §6.14, §5.8.8, §2.2.1.2;
Vol. 2A "IRET/IRETD/IRETQ"; Vol. 2B "SYSCALL", "SYSRET", "SWAPGS").

64-bit interrupt delivery (§6.14):

* gates are 16 bytes: IDTR.base + 16*vector must lie within IDTR.limit,
  else #GP(8*vector + 2 + EXT) (the error code keeps the 8-byte scaling);
  only 64-bit interrupt (14) and trap (15) gates are valid; the offset is
  bits 15:0 of dword 0, 31:16 of dword 1 and all of dword 2; bits 2:0 of
  dword 1 are the IST index;
* the target must be a 64-bit code segment (L=1, D=0), else #GP(sel + EXT);
* a privilege change loads RSP from TSS.RSPn (64-bit TSS offset 4 + 8n) and
  SS with the null selector whose RPL is the new CPL; a non-zero IST
  always loads RSP from TSS.IST[n] (offset 0x24 + 8(n-1));
* the new RSP is aligned down to 16 bytes and SS, RSP, RFLAGS, CS, RIP and
  the error code are pushed, 8 bytes each, whether or not the privilege
  changes (§6.14.2, Figure 6-9).

IRETQ (Vol. 2A "IRET", IA-32e mode) always pops RIP, CS, RFLAGS, RSP and SS.

SYSCALL/SYSRET (§5.8.8): STAR[47:32] is the SYSCALL CS (SS = CS+8);
STAR[63:48] the SYSRET base (64-bit CS = base+16, 32-bit CS = base,
SS = base+8, RPL forced to 3); LSTAR the 64-bit entry point; SFMASK the
RFLAGS bits SYSCALL clears.  The cached descriptors are fixed flat values,
not read from the GDT.

MSRs kept here (§2.2.1.2, Table 2-2 of Vol. 4): FS.base 0xC0000100 and
GS.base 0xC0000101 alias the segment caches; KERNEL_GS_BASE 0xC0000102 is
what SWAPGS exchanges with GS.base.
"""

from __future__ import annotations

from . import flags as F
from .protected import check_return_cs, check_return_ss, gate_code_segment, set_accessed, sys_read
from .state import CS, EFER_LMA, EFER_SCE, FS, GS, SS, Segment
from ..ops import GuestException

MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK = 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084
MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE = 0xC0000100, 0xC0000101, 0xC0000102
LONG_MSRS = (MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK, MSR_KERNEL_GS_BASE)
M64 = 0xFFFFFFFFFFFFFFFF


def canonical(v: int) -> bool:
    """48-bit canonical form: bits 63:47 all equal (SDM Vol. 1 §3.3.7.1)."""
    top = v >> 47
    return top == 0 or top == (1 << 17) - 1


def long64(s) -> bool:
    return bool(s.efer & EFER_LMA and s.segs[CS].l)


def read_msr(s, idx: int):
    """The long-mode MSRs, or None for others (RDMSR, SDM Vol. 4 Table 2-2)."""
    if idx == MSR_FS_BASE:
        return s.segs[FS].base
    if idx == MSR_GS_BASE:
        return s.segs[GS].base
    if idx in LONG_MSRS:
        return s.msrs.get(idx, 0)
    return None


def write_msr(ops, idx: int, v: int) -> bool:
    """WRMSR of a long-mode MSR; False when ``idx`` is not one.  Base MSRs
    must be canonical, else #GP(0)."""
    s = ops.s
    if idx in (MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_CSTAR) and not canonical(v):
        raise GuestException(13, 0, f"WRMSR 0x{idx:x}: non-canonical address 0x{v:x}")
    if idx == MSR_FS_BASE:
        s.segs[FS].base = v
    elif idx == MSR_GS_BASE:
        s.segs[GS].base = v
    elif idx in LONG_MSRS:
        s.msrs[idx] = v
    else:
        return False
    ops.segs = s.segs
    return True


def _tss64_rsp(ops, at: int, ext: int, what: str) -> int:
    tr = ops.s.tr
    if tr.type not in (9, 11):
        raise GuestException(10, (tr.selector & 0xFFFC) + ext, "no 64-bit TSS loaded (LTR) for a stack switch")
    if at + 7 > tr.limit:
        raise GuestException(10, (tr.selector & 0xFFFC) + ext, f"TSS too short for {what}")
    return sys_read(ops, tr.base + at, 4) | (sys_read(ops, tr.base + at + 4, 4) << 32)


def deliver_long(ops, vector: int, return_ip: int, error_code=None, soft: bool = False) -> None:
    """Enter the handler for ``vector`` through a 64-bit IDT gate (SDM Vol. 3A §6.14)."""
    s = ops.s
    ext = 0 if soft else 1
    cpl = s.cpl
    idt_code = vector * 8 + 2 + ext
    if vector * 16 + 15 > s.idt_limit:
        raise GuestException(13, idt_code, f"vector {vector} beyond the IDT limit")
    w = [sys_read(ops, s.idt_base + vector * 16 + 4 * k, 4) for k in range(3)]
    lo, hi = w[0], w[1]
    gtype = (hi >> 8) & 0x1F
    gdpl = (hi >> 13) & 3
    if gtype not in (14, 15):
        raise GuestException(13, idt_code, f"vector {vector}: IDT entry type {gtype} is not a 64-bit gate")
    if soft and gdpl < cpl:
        raise GuestException(13, vector * 8 + 2, f"INT {vector}: gate DPL {gdpl} < CPL {cpl}")
    if not (hi >> 15) & 1:
        raise GuestException(11, idt_code, f"vector {vector}: gate not present")
    sel = (lo >> 16) & 0xFFFF
    offset = (lo & 0xFFFF) | (hi & 0xFFFF0000) | (w[2] << 32)
    ist = hi & 7
    cseg, chi = gate_code_segment(ops, vector, sel, ext, cpl, long64=True)
    new_cpl = cpl if cseg.type & 4 else cseg.dpl
    rsp = s.regs[4]
    if new_cpl < cpl:
        rsp = _tss64_rsp(ops, 4 + 8 * new_cpl, ext, f"RSP{new_cpl}")
    if ist:
        rsp = _tss64_rsp(ops, 0x24 + 8 * (ist - 1), ext, f"IST{ist}")
    rsp &= ~0xF & M64
    flags = s.rflags
    frame = [s.segs[SS].selector, s.regs[4], flags, s.segs[CS].selector, return_ip]
    if error_code is not None:
        frame.append(error_code)
    addrs = [(rsp - 8 * (k + 1)) & M64 for k in range(len(frame))]
    if not all(canonical(a) for a in addrs):
        raise GuestException(12, ext, "non-canonical stack for the interrupt frame")
    saved = ops.implicit_sv
    ops.implicit_sv = saved or new_cpl < cpl
    try:
        for a, v in zip(addrs, frame):
            ops.write_lin(a, 8, v & M64)
    finally:
        ops.implicit_sv = saved
    # commit
    if new_cpl < cpl:
        s.segs[SS] = Segment(selector=new_cpl, base=0, limit=0, type=3, dpl=new_cpl, present=0, unusable=1)
    s.regs[4] = addrs[-1]
    cseg.selector = (sel & ~3) | new_cpl
    set_accessed(ops, sel, chi)
    cseg.type |= 1
    s.segs[CS] = cseg
    ops.segs = s.segs
    s.rip = offset
    clear = F.TF | F.VM | F.RF | F.NT
    if gtype == 14:
        clear |= F.IF
    s.fl = (flags & ~clear) | F.FIXED1
    s.cc_op = F.CC_EFLAGS
    ops.mode_changed()


def iret_long(ops, i) -> None:
    """IRET/IRETQ in IA-32e mode (SDM Vol. 2A "IRET", IA-32e-MODE branch):
    pops RIP, CS, RFLAGS, RSP, SS (each ``i.osize`` bytes).  Returning to
    64-bit code at CPL < 3 may pop a null SS."""
    s = ops.s
    if s.fl & F.NT:
        raise GuestException(13, 0, "IRET with NT=1 in IA-32e mode")
    n = i.osize
    cpl = s.cpl
    sp0 = s.regs[4]
    try:
        ip = ops.pop(n)
        cs = ops.pop(n) & 0xFFFF
        fl = ops.pop(n)
        rsp = ops.pop(n)
        ss = ops.pop(n) & 0xFFFF
        cseg, chi = check_return_cs(ops, cs, cpl)
        rpl = cs & 3
        if cseg.l and cseg.db:
            raise GuestException(13, cs & 0xFFFC, "IRET to a code segment with L=1 and D=1")
        if ss & ~3 == 0 and cseg.l and rpl < 3:
            sseg, shi = Segment(selector=ss, base=0, limit=0, type=3, dpl=rpl, present=0, unusable=1), None
        else:
            sseg, shi = check_return_ss(ops, ss, rpl)
        if cseg.l and not canonical(ip):
            raise GuestException(13, 0, f"IRET to non-canonical RIP 0x{ip:x}")
    except GuestException:
        s.regs[4] = sp0
        raise
    set_accessed(ops, cs, chi)
    cseg.type |= 1
    s.segs[CS] = cseg
    s.rip = ip if cseg.l else ip & 0xFFFFFFFF
    mask = F.CF | F.PF | F.AF | F.ZF | F.SF | F.TF | F.DF | F.OF | F.NT | F.RF | F.AC | F.ID
    iopl = (s.fl >> 12) & 3
    if cpl == 0:
        mask |= F.IOPL | F.IF | F.VIF | F.VIP
    elif cpl <= iopl:
        mask |= F.IF
    ops.set_flags(fl, mask)
    if shi is not None:
        set_accessed(ops, ss, shi)
        sseg.type |= 1
    s.segs[SS] = sseg
    s.regs[4] = rsp if n == 8 else rsp & 0xFFFFFFFF
    if rpl > cpl:
        from .protected import null_outer_segments
        null_outer_segments(s, rpl)
    ops.segs = s.segs
    ops.mode_changed()


def _flat(selector: int, code: bool, dpl: int, l: int) -> Segment:
    return Segment(selector=selector, base=0, limit=0xFFFFFFFF, type=11 if code else 3, s=1, dpl=dpl,
                   present=1, db=0 if (code and l) else 1, l=l, g=1)


def syscall(ops, i) -> None:
    """SYSCALL (SDM Vol. 2B): RCX = next RIP, R11 = RFLAGS, RIP = LSTAR,
    RFLAGS &= ~SFMASK (and RF), CS = STAR[47:32] & ~3, SS = that + 8, CPL 0.
    #UD outside 64-bit mode or with EFER.SCE clear (Intel behaviour)."""
    s = ops.s
    if not long64(s) or not s.efer & EFER_SCE:
        raise GuestException(6, None, "SYSCALL outside 64-bit mode or with EFER.SCE clear")
    star = s.msrs.get(MSR_STAR, 0)
    flags = s.rflags
    s.regs[1] = i.next_ip & M64
    s.regs[11] = flags & ~F.RF
    sel = (star >> 32) & 0xFFFC
    s.segs[CS] = _flat(sel, True, 0, 1)
    s.segs[SS] = _flat((sel + 8) & 0xFFFF, False, 0, 0)
    ops.segs = s.segs
    s.fl = (flags & ~(s.msrs.get(MSR_SFMASK, 0) | F.RF)) | F.FIXED1
    s.cc_op = F.CC_EFLAGS
    s.rip = s.msrs.get(MSR_LSTAR, 0)
    ops.mode_changed()


def sysret(ops, i) -> None:
    """SYSRET (SDM Vol. 2B): with REX.W RIP = RCX into 64-bit code, CS =
    STAR[63:48] + 16; else EIP = ECX into compatibility mode, CS =
    STAR[63:48]; SS = STAR[63:48] + 8; RPL 3; RFLAGS = (R11 & 0x3C7FD7) | 2.
    #UD outside 64-bit mode / SCE clear; #GP(0) at CPL > 0 or for a
    non-canonical RCX."""
    s = ops.s
    if not long64(s) or not s.efer & EFER_SCE:
        raise GuestException(6, None, "SYSRET outside 64-bit mode or with EFER.SCE clear")
    if s.cpl != 0:
        raise GuestException(13, 0, f"SYSRET at CPL {s.cpl}")
    base = (s.msrs.get(MSR_STAR, 0) >> 48) & 0xFFFF
    rcx = s.regs[1]
    if i.osize == 8:
        if not canonical(rcx):
            raise GuestException(13, 0, f"SYSRET to non-canonical RIP 0x{rcx:x}")
        s.segs[CS] = _flat(((base + 16) & 0xFFFF) | 3, True, 3, 1)
        s.rip = rcx
    else:
        s.segs[CS] = _flat(base | 3, True, 3, 0)
        s.rip = rcx & 0xFFFFFFFF
    s.segs[SS] = _flat(((base + 8) & 0xFFFF) | 3, False, 3, 0)
    ops.segs = s.segs
    s.rflags = (s.regs[11] & 0x3C7FD7) | 2
    ops.mode_changed()


def swapgs(ops, i) -> None:
    """SWAPGS (SDM Vol. 2B): exchange GS.base with IA32_KERNEL_GS_BASE;
    #UD outside 64-bit mode, #GP(0) at CPL > 0."""
    s = ops.s
    if not long64(s):
        raise GuestException(6, None, "SWAPGS outside 64-bit mode")
    if s.cpl != 0:
        raise GuestException(13, 0, f"SWAPGS at CPL {s.cpl}")
    k = s.msrs.get(MSR_KERNEL_GS_BASE, 0)
    s.msrs[MSR_KERNEL_GS_BASE] = s.segs[GS].base
    s.segs[GS].base = k
    ops.segs = s.segs
