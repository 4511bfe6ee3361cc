"""Protected-mode mechanisms: descriptor loads, far transfers, I/O permission.

SDM Vol. 3A §3.4-3.5 (segment descriptors), §5 (protection), §18.3 (I/O
permission); Vol. 2A/2B for LLDT, LTR, LAR, LSL, VERR/VERW and ARPL.  Real
mode needs none of this: each function is a no-op (or returns False, "not
handled") when CR0.PE is clear.

Descriptor tables and the TSS are read and written with *implicit
supervisor* accesses (:func:`sys_read`, :func:`sys_write`): with paging on,
they are checked as CPL 0 accesses even when CPL = 3 (SDM Vol. 3A §4.6).

RETF to an outer privilege level (§5.8.6) pops SS:ESP as well and nulls
data segment registers the new CPL may not use, as IRET does.

Deliberate limits (listed by ``emu coverage`` as well): far CALL/JMP
through call gates or to a TSS/task gate stop with an INTERNAL_ERROR naming
the gap; a far JMP/CALL straight to another privilege level is #GP, as on
the CPU.
"""

from __future__ import annotations

from . import flags as F
from .state import CR0_PE, CS, SS, Segment
from ..ops import GuestException, Unsupported

GAPS = ["far CALL/JMP through call gates, task gates and TSS descriptors (task switches)"]


def sys_read(ops, lin: int, size: int) -> int:
    """An implicit supervisor read (GDT, LDT, IDT, TSS); outside RAM it reads
    the bus at once (ConcreteOps.read_phys ``direct``)."""
    saved = ops.implicit_sv
    ops.implicit_sv = True
    try:
        return ops.read_lin(lin, size, direct=True)
    finally:
        ops.implicit_sv = saved


def sys_write(ops, lin: int, size: int, v: int) -> None:
    """An implicit supervisor write (descriptor accessed/busy bits)."""
    saved = ops.implicit_sv
    ops.implicit_sv = True
    try:
        ops.write_lin(lin, size, v)
    finally:
        ops.implicit_sv = saved


def protected(ops) -> bool:
    s = ops.s
    return bool(s.cr0 & CR0_PE) and not s.fl & F.VM


def read_descriptor(ops, sel: int):
    """Fetch the 8-byte descriptor named by ``sel`` from the GDT or LDT."""
    s = ops.s
    idx = sel & ~7
    if sel & 4:
        base, limit = s.ldt.base, s.ldt.limit
    else:
        base, limit = s.gdt_base, s.gdt_limit
    if idx + 7 > limit:
        raise GuestException(13, sel & 0xFFFC, f"selector 0x{sel:x} beyond the descriptor table limit")
    lo = sys_read(ops, base + idx, 4)
    hi = sys_read(ops, base + idx + 4, 4)
    return lo, hi


def descriptor_to_segment(sel: int, lo: int, hi: int) -> Segment:
    base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000)
    limit = (lo & 0xFFFF) | (hi & 0xF0000)
    g = (hi >> 23) & 1
    if g:
        limit = (limit << 12) | 0xFFF
    return Segment(selector=sel, base=base, limit=limit, type=(hi >> 8) & 0xF,
                   s=(hi >> 12) & 1, dpl=(hi >> 13) & 3, present=(hi >> 15) & 1,
                   db=(hi >> 22) & 1, l=(hi >> 21) & 1, g=g, avl=(hi >> 20) & 1, unusable=0)


def load_segment(ops, n: int, sel: int) -> None:
    """Load a segment register in protected mode with the SDM's checks (§5.5-5.7)."""
    seg, hi = segment_to_load(ops, n, sel)
    if hi is not None:
        # set the accessed bit in the descriptor, as the CPU does
        set_accessed(ops, sel, hi)
    install_segment(ops, n, seg)


def install_segment(ops, n: int, seg: Segment) -> None:
    """Segment register ``n`` becomes ``seg`` (what :func:`segment_to_load` gave)."""
    ops.s.segs[n] = seg
    ops.segs = ops.s.segs


def segment_to_load(ops, n: int, sel: int) -> tuple:
    """:func:`load_segment`'s checks, with no side effect but the reads of
    the descriptor: (the segment to load, the descriptor's high dword -- None
    for a null selector) or the #GP/#SS/#NP it raises."""
    s = ops.s
    cpl = s.cpl
    sel &= 0xFFFF
    if sel & ~3 == 0:
        if n in (CS, SS):
            raise GuestException(13, 0, "null selector loaded into CS or SS")
        return Segment(selector=sel, base=0, limit=0, present=0, unusable=1), None
    lo, hi = read_descriptor(ops, sel)
    seg = descriptor_to_segment(sel, lo, hi)
    rpl = sel & 3
    if not seg.s:
        raise GuestException(13, sel & 0xFFFC, "system descriptor loaded into a segment register")
    code = seg.type & 8
    if n == SS:
        if code or not seg.type & 2 or rpl != cpl or seg.dpl != cpl:
            raise GuestException(13, sel & 0xFFFC, "SS must be a writable data segment at CPL")
        if not seg.present:
            raise GuestException(12, sel & 0xFFFC, "stack segment not present")
    elif n == CS:
        if not code:
            raise GuestException(13, sel & 0xFFFC, "CS must be a code segment")
        if not seg.present:
            raise GuestException(11, sel & 0xFFFC, "code segment not present")
    else:
        if code and not seg.type & 2:
            raise GuestException(13, sel & 0xFFFC, "execute-only code segment loaded into a data segment register")
        if not (code and seg.type & 4) and max(cpl, rpl) > seg.dpl:
            raise GuestException(13, sel & 0xFFFC, "segment DPL below CPL/RPL")
        if not seg.present:
            raise GuestException(11, sel & 0xFFFC, "segment not present")
    seg.type |= 1
    return seg, hi


def far_transfer(ops, i, sel: int, off: int, call: bool) -> bool:
    """Protected-mode far JMP/CALL.  Returns False in real mode (caller does it)."""
    if not protected(ops):
        return False
    s = ops.s
    lo, hi = read_descriptor(ops, sel)
    if not (hi >> 12) & 1:
        kind = {4: "a 16-bit call gate", 12: "a call gate", 5: "a task gate"}.get((hi >> 8) & 0xF, "a TSS")
        if (hi >> 8) & 0xF in (1, 3, 4, 5, 9, 11, 12):
            raise Unsupported(f"far {'CALL' if call else 'JMP'} through {kind} (selector 0x{sel:x}) is not modelled")
        raise GuestException(13, sel & 0xFFFC, "far transfer to a system descriptor that is not a gate")
    seg = descriptor_to_segment(sel, lo, hi)
    cpl = s.cpl
    if not seg.type & 8:
        raise GuestException(13, sel & 0xFFFC, "far transfer to a non-code segment")
    if seg.type & 4:
        if seg.dpl > cpl:
            raise GuestException(13, sel & 0xFFFC, "conforming code segment DPL > CPL")
    elif (sel & 3) > cpl or seg.dpl != cpl:
        raise GuestException(13, sel & 0xFFFC, "far transfer to another privilege level")
    if not seg.present:
        raise GuestException(11, sel & 0xFFFC, "code segment not present")
    if call:
        ops.push(s.segs[CS].selector, i.osize)
        ops.push(i.next_ip, i.osize)
    set_accessed(ops, sel, hi)
    seg.type |= 1
    seg.selector = (sel & ~3) | cpl
    s.segs[CS] = seg
    ops.segs = s.segs
    s.rip = off
    if ops.on_mode_change is not None:
        ops.on_mode_change()
    return True


def far_return(ops, i) -> bool:
    """Protected-mode RETF (SDM Vol. 2B "RET", §5.8.6): to the same privilege
    level, or to an outer one (SS:ESP popped too).  False in real mode."""
    if not protected(ops):
        return False
    s = ops.s
    n = i.osize
    cpl = s.cpl
    sp0 = s.regs[4]
    imm = i.ops[0].value if i.ops else 0
    try:
        ip = ops.pop(n)
        cs = ops.pop(n) & 0xFFFF
        cseg, chi = check_return_cs(ops, cs, cpl)
        rpl = cs & 3
        sseg = None
        if rpl > cpl:
            ss_size = ops.stack_size()
            ops.set_reg(4, ss_size, ops.get_reg(4, ss_size) + imm)
            esp = ops.pop(n)
            ss = ops.pop(n) & 0xFFFF
            sseg, shi = check_return_ss(ops, ss, rpl)
        if ip > cseg.limit:
            raise GuestException(13, 0, f"RETF to EIP 0x{ip:x} beyond the CS limit")
    except GuestException:
        s.regs[4] = sp0
        raise
    set_accessed(ops, cs, chi)
    cseg.type |= 1
    s.segs[CS] = cseg
    s.rip = ip
    if sseg is not None:
        set_accessed(ops, ss, shi)
        sseg.type |= 1
        s.segs[SS] = sseg
        esp += imm
        if sseg.db:
            s.regs[4] = esp & 0xFFFFFFFF
        else:
            s.regs[4] = (s.regs[4] & ~0xFFFF) | (esp & 0xFFFF)
        null_outer_segments(s, rpl)
    elif imm:
        ss_size = ops.stack_size()
        ops.set_reg(4, ss_size, ops.get_reg(4, ss_size) + imm)
    ops.segs = s.segs
    if ops.on_mode_change is not None:
        ops.on_mode_change()
    return True


def set_accessed(ops, sel: int, hi: int) -> None:
    """Set the accessed bit in a descriptor, as the CPU does on a load."""
    if not hi & 0x100:
        s = ops.s
        base = s.ldt.base if sel & 4 else s.gdt_base
        sys_write(ops, base + (sel & ~7) + 4, 4, hi | 0x100)


def check_return_cs(ops, sel: int, cpl: int) -> tuple:
    """The CS popped by IRET / RETF (SDM Vol. 2A "IRET" PROTECTED-MODE-RETURN,
    Vol. 2B "RET"): (segment, descriptor high dword) or #GP/#NP(selector)."""
    if sel & ~3 == 0:
        raise GuestException(13, 0, "return to a null CS")
    lo, hi = read_descriptor(ops, sel)
    seg = descriptor_to_segment(sel, lo, hi)
    rpl = sel & 3
    code = sel & 0xFFFC
    if not seg.s or not seg.type & 8:
        raise GuestException(13, code, f"return CS 0x{sel:x} is not a code segment")
    if rpl < cpl:
        raise GuestException(13, code, f"return CS 0x{sel:x}: RPL {rpl} < CPL {cpl}")
    if seg.type & 4:
        if seg.dpl > rpl:
            raise GuestException(13, code, f"return CS 0x{sel:x}: conforming DPL {seg.dpl} > RPL {rpl}")
    elif seg.dpl != rpl:
        raise GuestException(13, code, f"return CS 0x{sel:x}: DPL {seg.dpl} != RPL {rpl}")
    if not seg.present:
        raise GuestException(11, code, f"return CS 0x{sel:x} not present")
    return seg, hi


def check_return_ss(ops, sel: int, rpl: int) -> tuple:
    """The SS popped on a return to an outer level: writable data, RPL = DPL = new CPL."""
    code = sel & 0xFFFC
    if sel & ~3 == 0:
        raise GuestException(13, 0, "return to a null SS")
    lo, hi = read_descriptor(ops, sel)
    seg = descriptor_to_segment(sel, lo, hi)
    if (sel & 3) != rpl or seg.dpl != rpl or not seg.s or seg.type & 8 or not seg.type & 2:
        raise GuestException(13, code, f"return SS 0x{sel:x} is not a writable data segment at ring {rpl}")
    if not seg.present:
        raise GuestException(12, code, f"return SS 0x{sel:x} not present")
    return seg, hi


def null_outer_segments(s, new_cpl: int) -> None:
    """After a return to an outer level: ES/DS/FS/GS holding data or
    non-conforming code segments with DPL < the new CPL become null (SDM Vol.
    2A "IRET", RETURN-TO-OUTER-PRIVILEGE-LEVEL)."""
    for n in (0, 3, 4, 5):
        seg = s.segs[n]
        if seg.unusable or not seg.s:
            continue
        data_or_nc = not seg.type & 8 or not seg.type & 4
        if data_or_nc and seg.dpl < new_cpl:
            s.segs[n] = Segment(selector=0, base=0, limit=0, present=0, unusable=1)


def io_unchecked(s) -> bool:
    """IN/OUT can never be refused here (real mode, or CPL 0 outside
    virtual-8086 mode: CPL <= IOPL whatever IOPL is) -- what translated code
    asks, where RFLAGS may be pending but CPL and VM cannot change."""
    return not s.cr0 & CR0_PE or not (s.cpl or s.fl & F.VM)


def check_io(ops, port: int, size: int) -> None:
    """IN/OUT permission (SDM Vol. 1 §18.3): in protected mode, CPL > IOPL
    consults the TSS I/O bitmap; in virtual-8086 mode the bitmap always."""
    s = ops.s
    if not s.cr0 & CR0_PE:
        return
    iopl = (s.fl >> 12) & 3
    if not s.fl & F.VM and s.cpl <= iopl:
        return
    tr = s.tr
    if tr.limit < 0x67 or tr.type not in (9, 11):
        raise GuestException(13, 0, f"port 0x{port:x}: CPL > IOPL and no 32-bit TSS")
    bitmap = sys_read(ops, tr.base + 0x66, 2)
    for p in range(port, port + size):
        byte = bitmap + p // 8
        if byte > tr.limit or (sys_read(ops, tr.base + byte, 1) >> (p % 8)) & 1:
            raise GuestException(13, 0, f"port 0x{port:x} denied by the TSS I/O bitmap")


# -- LLDT, LTR, VERR/VERW, LAR, LSL (SDM Vol. 2A/2B) ------------------------------------------
def load_ldt(ops, sel: int) -> None:
    """LLDT: null -> LDTR unusable; else an LDT descriptor (type 2) in the GDT."""
    s = ops.s
    if sel & ~3 == 0:
        s.ldt = Segment(selector=sel, base=0, limit=0, type=2, s=0, present=0, unusable=1)
        return
    if sel & 4:
        raise GuestException(13, sel & 0xFFFC, "LLDT: selector points into the LDT")
    lo, hi = read_descriptor(ops, sel)
    seg = descriptor_to_segment(sel, lo, hi)
    if seg.s or seg.type != 2:
        raise GuestException(13, sel & 0xFFFC, f"LLDT: selector 0x{sel:x} is not an LDT descriptor")
    if not seg.present:
        raise GuestException(11, sel & 0xFFFC, f"LLDT: LDT 0x{sel:x} not present")
    s.ldt = seg


def load_tr(ops, sel: int) -> None:
    """LTR: an available 16- or 32-bit TSS (type 1 or 9) in the GDT; its
    descriptor is marked busy (type 3 or 11)."""
    s = ops.s
    if sel & ~3 == 0:
        raise GuestException(13, 0, "LTR: null selector")
    if sel & 4:
        raise GuestException(13, sel & 0xFFFC, "LTR: selector points into the LDT")
    lo, hi = read_descriptor(ops, sel)
    seg = descriptor_to_segment(sel, lo, hi)
    if seg.s or seg.type not in (1, 9):
        raise GuestException(13, sel & 0xFFFC, f"LTR: selector 0x{sel:x} is not an available TSS")
    if not seg.present:
        raise GuestException(11, sel & 0xFFFC, f"LTR: TSS 0x{sel:x} not present")
    sys_write(ops, s.gdt_base + (sel & ~7) + 4, 4, hi | 0x200)
    seg.type |= 2
    s.tr = seg


def _visible(ops, sel: int, system_types):
    """The descriptor named by ``sel`` if LAR/LSL/VERR/VERW may see it: not
    null, within the table, a code/data segment or one of ``system_types``,
    and (unless conforming code) DPL >= CPL and DPL >= RPL.  Else None."""
    if sel & ~3 == 0:
        return None
    try:
        lo, hi = read_descriptor(ops, sel)
    except GuestException as e:
        if e.vector == 13:
            return None
        raise
    seg = descriptor_to_segment(sel, lo, hi)
    if not seg.s and seg.type not in system_types:
        return None
    conforming_code = seg.s and seg.type & 0xC == 0xC
    if not conforming_code and (seg.dpl < ops.s.cpl or seg.dpl < (sel & 3)):
        return None
    return seg, hi


def access_rights(ops, sel: int):
    """LAR: the descriptor's high dword (the caller masks it), or None."""
    r = _visible(ops, sel, (1, 2, 3, 4, 5, 9, 11, 12))
    return None if r is None else r[1]


def segment_limit(ops, sel: int):
    """LSL: the byte-granular limit, or None."""
    r = _visible(ops, sel, (1, 2, 3, 9, 11))
    return None if r is None else r[0].limit


def verify(ops, sel: int, write: bool) -> bool:
    """VERR / VERW: readable (data, or readable code) / writable data."""
    r = _visible(ops, sel, ())
    if r is None:
        return False
    seg = r[0]
    if write:
        return not seg.type & 8 and bool(seg.type & 2)
    return not seg.type & 8 or bool(seg.type & 2)


def gate_code_segment(ops, vector: int, sel: int, ext: int, cpl: int, long64: bool = False):
    """The handler's code segment named by an interrupt or trap gate, with
    the checks of SDM Vol. 3A §6.12.1.1 (§6.14.1 in IA-32e mode: a 64-bit
    code segment): a null selector or one that is not a code segment at
    DPL <= CPL is #GP(selector + EXT), a segment not present #NP.  Returns
    the segment and its descriptor's high word (for the accessed bit)."""
    if sel & ~3 == 0:
        raise GuestException(13, ext, f"vector {vector}: null code selector in the gate")
    try:
        clo, chi = read_descriptor(ops, sel)
    except GuestException as e:
        raise GuestException(13, (sel & 0xFFFC) + ext, e.detail) from None
    cseg = descriptor_to_segment(sel, clo, chi)
    if not cseg.s or not cseg.type & 8 or cseg.dpl > cpl or (long64 and (not cseg.l or cseg.db)):
        kind = "a 64-bit code segment" if long64 else "a code segment"
        raise GuestException(13, (sel & 0xFFFC) + ext,
                             f"vector {vector}: gate selector 0x{sel:x} is not {kind} at DPL <= CPL")
    if not cseg.present:
        raise GuestException(11, (sel & 0xFFFC) + ext, f"vector {vector}: handler code segment not present")
    return cseg, chi
