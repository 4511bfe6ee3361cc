"""Stack manipulation (SDM Vol. 1 §6.2, §7.3.1.4)."""

from .. import flags as F
from ..flags import MASK
from ..insn import REG
from ..state import SS
from . import sem


@sem("PUSH")
def push(ops, i):
    """PUSH r/m/imm.  The 8086 pushes SP *after* decrementing it; the 286 and
    later push the old value (iAPX 286 PRM Appendix B)."""
    o = i.ops[0]
    if o.kind == REG and o.n == 4 and ops.model.push_sp_new:
        v = (ops.get_reg(4, 2) - 2) & 0xFFFF
    else:
        v = ops.read(o)
    ops.push(v, i.osize)


@sem("POP")
def pop(ops, i):
    """POP r/m: a memory destination using rSP is addressed after the pop."""
    v = ops.pop(i.osize)
    ops.write(i.ops[0], v)


@sem("PUSH_SEG")
def push_seg(ops, i):
    ops.push(ops.get_seg(i.ops[0].n), i.osize)


@sem("POP_SEG")
def pop_seg(ops, i):
    """POP Sreg (POP CS exists only on the 8086)."""
    n = i.ops[0].n
    sp = ops.get_reg(4, ops.stack_size())
    v = ops.pop(i.osize) & 0xFFFF
    try:
        ops.load_seg(n, v)
    except Exception:
        ops.set_reg(4, ops.stack_size(), sp)
        raise


@sem("PUSHA")
def pusha(ops, i):
    """PUSHA/PUSHAD: AX CX DX BX (original SP) BP SI DI."""
    n = i.osize
    sp = ops.get_reg(4, n)
    for r in range(8):
        ops.push(sp if r == 4 else ops.get_reg(r, n), n)


@sem("POPA")
def popa(ops, i):
    """POPA/POPAD: DI SI BP (SP skipped) BX DX CX AX."""
    n = i.osize
    vals = {}
    for r in (7, 6, 5, 4, 3, 2, 1, 0):
        vals[r] = ops.pop(n)
    for r in (7, 6, 5, 3, 2, 1, 0):
        ops.set_reg(r, n, vals[r])


@sem("PUSHF")
def pushf(ops, i):
    """PUSHF/PUSHFD: VM and RF read as 0 in the pushed image.  Inline: it
    only reads the flags (translated, the lazy record's RFLAGS) and pushes."""
    f = ops.get_flags() & ~(F.VM | F.RF)
    ops.push(f & MASK[i.osize], i.osize)


@sem("POPF")
def popf(ops, i):
    """POPF/POPFD: only the bits the model, CPL and IOPL allow change
    (``ops.popf_mask``); RF is not popped, and POPFD clears it (SDM Vol. 2A
    "POPF")."""
    v = ops.pop(i.osize)
    mask = ops.model.flags_writable & MASK[i.osize] & ~F.RF
    if i.osize == 4:
        v &= ~F.RF
        mask |= F.RF
    ops.set_flags(v, ops.popf_mask(mask))


@sem("ENTER")
def enter(ops, i):
    """ENTER imm16, imm8  (SDM Vol. 2A "ENTER"): nesting level taken mod 32."""
    n = i.osize
    alloc = i.ops[0].value
    level = i.ops[1].value & 31
    ss = ops.stack_size()
    m = MASK[ss]
    bp = ops.get_reg(5, ss)
    reads = [(bp - k * n) & m for k in range(1, level)]
    copied = None
    if reads and isinstance(bp, int) and not _overlap(reads, ops.get_reg(4, ss), (level + 1) * n, n, m):
        # the enclosing frame pointers are read before anything is pushed, so
        # that a read that faults or waits for the Machine's answer (MMIO)
        # finds the instruction not begun, as its restart expects; where a
        # read overlaps the pushes it is made in the SDM's order instead (a
        # translated ENTER bails before the instruction on either)
        copied = [ops.load(SS, a, n) for a in reads]
    ops.push(ops.get_reg(5, n), n)
    frame = ops.get_reg(4, ss)
    if level:
        for k, a in enumerate(reads):
            ops.push(ops.load(SS, a, n) if copied is None else copied[k], n)
        ops.push(frame & MASK[n], n)
    ops.set_reg(5, n, frame)
    ops.set_reg(4, ss, ops.get_reg(4, ss) - alloc)


def _overlap(reads, sp: int, pushed: int, n: int, m: int) -> bool:
    """One of the ``n``-byte reads at ``reads`` overlaps the ``pushed``
    bytes below ``sp`` (offsets modulo the stack's size, mask ``m``)."""
    low = (sp - pushed) & m
    return any(((a - low) & m) < pushed or ((low - a) & m) < n for a in reads)


@sem("LEAVE")
def leave(ops, i):
    """LEAVE: rSP = rBP, then pop rBP."""
    ss = ops.stack_size()
    bp = ops.get_reg(5, ss)
    v = ops.load(SS, bp, i.osize)
    ops.set_reg(4, ss, bp + i.osize)
    ops.set_reg(5, i.osize, v)
