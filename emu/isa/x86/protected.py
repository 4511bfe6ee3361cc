"""Protected-mode mechanisms: descriptor loads, far transfers, I/O permission.

SDM Vol. 3A §3.4-3.5 (segment descriptors), §5 (protection), §18.3 (I/O
permission).  Real mode needs none of this: each function is a no-op (or
returns False, "not handled") when CR0.PE is clear.

Deliberate limits (listed by ``emu coverage`` as well): call gates, task
gates and task switches raise #GP with a message; far transfers that change
privilege level are not yet modelled.
"""

from __future__ import annotations

from . import flags as F
from .state import CR0_PE, CS, SS, Segment
from ..ops import GuestException


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
    lo = ops.read_lin(base + idx, 4)
    hi = ops.read_lin(base + idx + 4, 4)
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
    s = ops.s
    cpl = s.cpl
    sel &= 0xFFFF
    if sel & ~3 == 0:
        if n in (CS, SS):
            raise GuestException(13, 0, "null selector loaded into CS or SS")
        seg = Segment(selector=sel, base=0, limit=0, present=0, unusable=1)
        s.segs[n] = seg
        return
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
    # set the accessed bit in the descriptor, as the CPU does
    if not hi & 0x100:
        base = s.ldt.base if sel & 4 else s.gdt_base
        ops.write_lin(base + (sel & ~7) + 4, 4, hi | 0x100)
        seg.type |= 1
    s.segs[n] = seg
    ops.segs = s.segs


def far_transfer(ops, i, sel: int, off: int, call: bool) -> bool:
    """Protected-mode far JMP/CALL.  Returns False in real mode (caller does it)."""
    if not protected(ops):
        return False
    s = ops.s
    lo, hi = read_descriptor(ops, sel)
    if not (hi >> 12) & 1:
        raise GuestException(13, sel & 0xFFFC, "far transfer through a gate or TSS is not supported yet")
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
    seg.selector = (sel & ~3) | cpl
    s.segs[CS] = seg
    ops.segs = s.segs
    s.rip = off
    if ops.on_mode_change is not None:
        ops.on_mode_change()
    return True


def far_return(ops, i) -> bool:
    """Protected-mode RETF to the same privilege level.  False in real mode."""
    if not protected(ops):
        return False
    s = ops.s
    ip = ops.pop(i.osize)
    cs = ops.pop(i.osize) & 0xFFFF
    if (cs & 3) != s.cpl:
        raise GuestException(13, cs & 0xFFFC, "RETF to another privilege level is not supported yet")
    if i.ops:
        n = ops.stack_size()
        ops.set_reg(4, n, ops.get_reg(4, n) + i.ops[0].value)
    lo, hi = read_descriptor(ops, cs)
    seg = descriptor_to_segment(cs, lo, hi)
    s.segs[CS] = seg
    ops.segs = s.segs
    s.rip = ip
    if ops.on_mode_change is not None:
        ops.on_mode_change()
    return True


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
    bitmap = ops.read_lin(tr.base + 0x66, 2)
    for p in range(port, port + size):
        byte = bitmap + p // 8
        if byte > tr.limit or (ops.read_lin(tr.base + byte, 1) >> (p % 8)) & 1:
            raise GuestException(13, 0, f"port 0x{port:x} denied by the TSS I/O bitmap")
