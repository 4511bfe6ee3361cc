"""Protected-mode interrupt and exception delivery through the IDT, and IRET
(SDM Vol. 3A §6.10-6.14; Vol. 2A "INT n/INTO/INT3/INT1" and "IRET/IRETD"
operation sections).

Delivery (§6.12.1):

1. the gate: IDTR.base + 8*vector must lie within IDTR.limit, else
   #GP(8*vector + 2 + EXT).  Interrupt gates (type 6: 16-bit, 14: 32-bit)
   clear IF; trap gates (7, 15) leave it.  Task gates (type 5) are not
   modelled: kasou stops with an INTERNAL_ERROR naming them.  Any other
   type: #GP(8*vector + 2 + EXT).  A software INT n / INT3 / INTO needs
   gate DPL >= CPL, else #GP(8*vector + 2).  Not present: #NP(8*vector + 2 + EXT).
2. the handler's code segment: null -> #GP(EXT); not a code segment or
   DPL > CPL -> #GP(selector + EXT); not present -> #NP(selector + EXT).
3. a non-conforming handler with DPL < CPL runs on an inner stack taken from
   the TSS (§7.2.1, Figures 7-2 and 7-11): SS0:ESP0 at offsets 8/4 of a
   32-bit TSS (SS at 8 + 8*n, ESP at 4 + 8*n), SS0:SP0 at 4/2 of a 16-bit
   TSS.  The new SS must be a present, writable data segment with
   RPL = DPL = the new CPL, else #TS(SS selector + EXT) (#SS when not
   present); a TSS too short for the entry gives #TS(TR selector + EXT).
   The old SS and ESP are pushed first.
4. then (E)FLAGS, CS, (E)IP and, for #DF #TS #NP #SS #GP #PF #AC, the
   error code -- 4 bytes each through a 32-bit gate, 2 through a 16-bit one.
5. TF, VM, RF and NT are cleared (and IF for an interrupt gate); CS.RPL
   becomes the new CPL.

EXT (error-code bit 0) is set when the fault arose while delivering an
external event or an exception, clear for a software INT n (§6.13).

IRET (SDM Vol. 2A "IRET/IRETD"): pops (E)IP, CS, (E)FLAGS; to the same
privilege level that is all, to an outer one (RPL > CPL) (E)SP and SS are
popped too and ES/DS/FS/GS holding segments the new CPL may not use become
null.  The popped CS and SS are checked as the SDM lists (#GP / #NP / #SS
with the selector).  Which flags change depends on the old CPL: IOPL only
at CPL 0, IF only at CPL <= IOPL, VIF/VIP only at CPL 0.

Deliberate gaps (the engine stops with an INTERNAL_ERROR naming them, and
``emu coverage`` lists them): task gates and task switches (IRET with NT=1);
virtual-8086 mode (an interrupt from it and IRET to it).  Long mode (64-bit
IDT gates, IRETQ) is :mod:`emu.isa.x86.long_mode`.  Every register is read before any is written, so a
fault during delivery leaves the interrupted state intact and escalates
(#DF, triple fault) as :func:`emu.isa.x86.interrupts.deliver_exception` does.
"""

from __future__ import annotations

from . import flags as F
from .protected import (check_return_cs, check_return_ss, descriptor_to_segment, gate_code_segment,
                        null_outer_segments, read_descriptor, set_accessed, sys_read)
from .state import CS, SS, EFER_LMA, Segment, within_limit
from ..ops import GuestException, Unsupported

GAPS = ["task gates and task switches (an IDT task gate, IRET with NT=1)",
        "virtual-8086 mode (interrupts from it, IRET to it)"]

INTERRUPT_GATES = {6: 2, 14: 4}      # gate type -> frame slot size
TRAP_GATES = {7: 2, 15: 4}


def _read_gate(ops, vector: int, ext: int):
    s = ops.s
    if vector * 8 + 7 > s.idt_limit:
        raise GuestException(13, vector * 8 + 2 + ext, f"vector {vector} beyond the IDT limit")
    lo = sys_read(ops, s.idt_base + vector * 8, 4)
    hi = sys_read(ops, s.idt_base + vector * 8 + 4, 4)
    return lo, hi


def deliver_protected(ops, vector: int, return_ip: int, error_code=None, soft: bool = False) -> None:
    """Enter the handler for ``vector`` through the IDT (SDM Vol. 3A §6.12.1).

    ``return_ip`` is the EIP pushed; ``error_code`` is pushed when not None;
    ``soft`` marks INT n / INT3 / INTO (gate DPL checked, EXT clear)."""
    s = ops.s
    if s.efer & EFER_LMA:
        from .long_mode import deliver_long
        deliver_long(ops, vector, return_ip, error_code, soft)
        return
    if s.fl & F.VM:
        raise Unsupported(f"delivery of vector {vector} from virtual-8086 mode is not modelled")
    ext = 0 if soft else 1
    cpl = s.cpl
    lo, hi = _read_gate(ops, vector, ext)
    gtype = (hi >> 8) & 0x1F                  # with the S bit (bit 12): system types are 0-15
    gdpl = (hi >> 13) & 3
    idt_code = vector * 8 + 2 + ext
    if gtype == 5:
        raise Unsupported(f"vector {vector}: task gates (task switches) are not modelled")
    if gtype in INTERRUPT_GATES:
        slot = INTERRUPT_GATES[gtype]
    elif gtype in TRAP_GATES:
        slot = TRAP_GATES[gtype]
    else:
        raise GuestException(13, idt_code, f"vector {vector}: IDT entry type {gtype} is not a gate")
    if soft and gdpl < cpl:
        raise GuestException(13, vector * 8 + 2, f"INT {vector}: gate DPL {gdpl} < CPL {cpl}")
    if not (hi >> 15) & 1:
        raise GuestException(11, idt_code, f"vector {vector}: gate not present")
    sel = (lo >> 16) & 0xFFFF
    offset = (lo & 0xFFFF) | (hi & 0xFFFF0000) if slot == 4 else lo & 0xFFFF
    cseg, chi = gate_code_segment(ops, vector, sel, ext, cpl)
    flags = s.rflags
    old_cs = s.segs[CS].selector
    frame = [flags, old_cs, return_ip]
    if error_code is not None:
        frame.append(error_code)
    conforming = cseg.type & 4
    if not conforming and cseg.dpl < cpl:
        # inter-privilege: the inner stack from the TSS
        new_cpl = cseg.dpl
        ss_sel, esp = _tss_stack(ops, new_cpl, ext)
        ss = _check_inner_ss(ops, ss_sel, new_cpl, ext)
        frame = [s.segs[SS].selector, s.regs[4] & 0xFFFFFFFF] + frame
        esp = _push_frame(ops, ss, esp, frame, slot, True, (ss_sel & 0xFFFC) + ext)
        s.segs[SS] = ss
        _set_sp(s, ss, esp)
    else:
        new_cpl = cpl
        ss = s.segs[SS]
        esp = _push_frame(ops, ss, s.regs[4], frame, slot, False, ext)
        _set_sp(s, ss, esp)
    cseg.selector = (sel & ~3) | new_cpl
    set_accessed(ops, sel, chi)
    s.segs[CS] = cseg
    ops.segs = s.segs
    s.rip = offset
    clear = F.TF | F.VM | F.RF | F.NT
    if gtype in INTERRUPT_GATES:
        clear |= F.IF
    s.fl = (flags & ~clear) | F.FIXED1
    s.cc_op = F.CC_EFLAGS
    ops.mode_changed()


def _tss_stack(ops, dpl: int, ext: int):
    """SSn:ESPn from the current TSS (SDM Vol. 3A §7.2.1, §7.6)."""
    tr = ops.s.tr
    if tr.type in (9, 11):                    # 32-bit TSS
        at, size = 4 + 8 * dpl, 4
    elif tr.type in (1, 3):                   # 16-bit TSS
        at, size = 2 + 4 * dpl, 2
    else:
        raise GuestException(10, (tr.selector & 0xFFFC) + ext, "no valid TSS loaded (LTR) for a stack switch")
    if at + 2 * size - 1 > tr.limit:
        raise GuestException(10, (tr.selector & 0xFFFC) + ext, f"TSS too short for the ring-{dpl} stack")
    sp = sys_read(ops, tr.base + at, size)
    ss = sys_read(ops, tr.base + at + size, 2)
    return ss, sp


def _check_inner_ss(ops, sel: int, dpl: int, ext: int) -> Segment:
    code = (sel & 0xFFFC) + ext
    if sel & ~3 == 0:
        raise GuestException(10, ext, "null SS in the TSS")
    try:
        lo, hi = read_descriptor(ops, sel)
    except GuestException:
        raise GuestException(10, code, f"TSS stack selector 0x{sel:x} beyond the table limit") from None
    seg = descriptor_to_segment(sel, lo, hi)
    if (sel & 3) != dpl or seg.dpl != dpl or not seg.s or seg.type & 8 or not seg.type & 2:
        raise GuestException(10, code, f"TSS stack selector 0x{sel:x} is not a writable data segment at ring {dpl}")
    if not seg.present:
        raise GuestException(12, code, f"TSS stack segment 0x{sel:x} not present")
    set_accessed(ops, sel, hi)
    seg.type |= 1
    return seg


def _push_frame(ops, ss: Segment, esp: int, values, slot: int, inner: bool, code: int) -> int:
    """Write ``values`` (first pushed first) below SS:ESP; return the new ESP.
    Each slot must lie within the SS limit (expand-down segments: above
    it), else #SS(code).  Nothing but memory is written, so a fault here
    leaves the CPU state as it was."""
    top = 0xFFFFFFFF if ss.db else 0xFFFF
    esp &= top
    offs = [(esp - (k + 1) * slot) & top for k in range(len(values))]
    for off in offs:
        if not within_limit(ss, off, slot):
            raise GuestException(12, code, "no room on the stack for the interrupt frame")
    saved = ops.implicit_sv
    ops.implicit_sv = inner or saved          # pushes to an inner stack are supervisor accesses
    try:
        for off, v in zip(offs, values):
            ops.write_lin((ss.base + off) & 0xFFFFFFFF, slot, v & ((1 << (8 * slot)) - 1))
    finally:
        ops.implicit_sv = saved
    return offs[-1]


def _set_sp(s, ss: Segment, esp: int) -> None:
    if ss.db:
        s.regs[4] = esp & 0xFFFFFFFF
    else:
        s.regs[4] = (s.regs[4] & ~0xFFFF) | (esp & 0xFFFF)


def iret_protected(ops, i) -> None:
    """IRET/IRETD in protected mode (SDM Vol. 2A "IRET/IRETD")."""
    s = ops.s
    if s.efer & EFER_LMA:
        from .long_mode import iret_long
        iret_long(ops, i)
        return
    if s.fl & F.VM:
        raise Unsupported("IRET in virtual-8086 mode is not modelled")
    if s.fl & F.NT:
        raise Unsupported("IRET with NT=1 (a task return) is not modelled")
    n = i.osize
    cpl = s.cpl
    sp0 = s.regs[4]
    try:
        ip = ops.pop(n)
        cs = ops.pop(n) & 0xFFFF
        fl = ops.pop(n)
        if n == 4 and fl & F.VM and cpl == 0:
            raise Unsupported("IRET to virtual-8086 mode is not modelled")
        cseg, chi = check_return_cs(ops, cs, cpl)
        rpl = cs & 3
        if rpl > cpl:
            esp = ops.pop(n)
            ss = ops.pop(n) & 0xFFFF
            sseg, shi = check_return_ss(ops, ss, rpl)
        else:
            sseg = None
        if ip > cseg.limit:
            raise GuestException(13, 0, f"IRET to EIP 0x{ip:x} beyond the CS limit")
    except GuestException:
        s.regs[4] = sp0
        raise
    # commit
    set_accessed(ops, cs, chi)
    cseg.type |= 1
    s.segs[CS] = cseg
    s.rip = ip
    mask = F.CF | F.PF | F.AF | F.ZF | F.SF | F.TF | F.DF | F.OF | F.NT
    if n == 4:
        mask |= F.RF | F.AC | F.ID
    iopl = (s.fl >> 12) & 3
    if cpl == 0:
        mask |= F.IOPL | F.IF | ((F.VIF | F.VIP) if n == 4 else 0)
    elif cpl <= iopl:
        mask |= F.IF
    ops.set_flags(fl, mask)
    if sseg is not None:
        set_accessed(ops, ss, shi)
        sseg.type |= 1
        s.segs[SS] = sseg
        _set_sp(s, sseg, esp)
        null_outer_segments(s, rpl)
    ops.segs = s.segs
    ops.mode_changed()
