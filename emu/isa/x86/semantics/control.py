"""Control transfer (SDM Vol. 1 §6.3, §7.3.8).

Far transfers in real mode (CS = selector, base = selector * 16, SDM Vol.
3A §20.1.1) are compiled in: ``ops.real_mode()`` is what the block key
says there, and ``ops.far_jump`` ends a translated block with the full
look-up by (CS base, IP); in protected mode they read descriptors
(:mod:`emu.isa.x86.protected`) and stay with the interpreter."""

from ..flags import CC_Z, MASK
from ..protected import far_return, far_transfer
from ..state import CS
from . import sem


@sem("JMP")
def jmp(ops, i):
    """JMP rel8/rel16/rel32: the decoder has already made the target absolute."""
    ops.jump(i.ops[0].value)


@sem("JCC")
def jcc(ops, i):
    """Jcc rel  (SDM Vol. 2A "Jcc")"""
    ops.branch(ops.cond(i.cc), i.ops[0].value)


@sem("CALL")
def call(ops, i):
    """CALL rel: push the return address, jump."""
    ops.push(i.next_ip, i.osize)
    ops.jump(i.ops[0].value)


@sem("CALL_IND")
def call_ind(ops, i):
    """CALL r/m: the target is read before the push (a fault leaves SP alone)."""
    t = ops.read(i.ops[0]) & MASK[i.osize]
    ops.push(i.next_ip, i.osize)
    ops.jump(t)


@sem("JMP_IND")
def jmp_ind(ops, i):
    ops.jump(ops.read(i.ops[0]) & MASK[i.osize])


@sem("RET")
def ret(ops, i):
    """RET [imm16]: pop the return address, then release imm16 bytes."""
    ip = ops.pop(i.osize)
    if i.ops:
        n = ops.stack_size()
        ops.set_reg(4, n, ops.get_reg(4, n) + i.ops[0].value)
    ops.jump(ip & MASK[i.osize])


@sem("CALLF")
def callf(ops, i):
    """CALL ptr16:16/32 (real mode and same-privilege protected mode)."""
    sel, off = i.far
    if not ops.real_mode() and far_transfer(ops, i, sel, off, call=True):
        return
    ops.push(ops.get_seg(CS), i.osize)
    ops.push(i.next_ip, i.osize)
    ops.far_jump(sel, off)


@sem("JMPF")
def jmpf(ops, i):
    sel, off = i.far
    if not ops.real_mode() and far_transfer(ops, i, sel, off, call=False):
        return
    ops.far_jump(sel, off)


def _far_pointer(ops, i):
    m = i.ops[0]
    a = ops.ea(m)
    n = min(i.osize, 4) if i.osize != 8 else 8
    off = ops.load(m.seg, a, n)
    sel = ops.load(m.seg, (a + n) & m.amask, 2)
    return sel, off


@sem("CALLF_IND")
def callf_ind(ops, i):
    sel, off = _far_pointer(ops, i)
    if not ops.real_mode() and far_transfer(ops, i, sel, off, call=True):
        return
    ops.push(ops.get_seg(CS), i.osize)
    ops.push(i.next_ip, i.osize)
    ops.far_jump(sel, off)


@sem("JMPF_IND")
def jmpf_ind(ops, i):
    sel, off = _far_pointer(ops, i)
    if not ops.real_mode() and far_transfer(ops, i, sel, off, call=False):
        return
    ops.far_jump(sel, off)


@sem("RETF")
def retf(ops, i):
    """RETF [imm16] (real mode and same-privilege protected mode)."""
    if not ops.real_mode() and far_return(ops, i):
        return
    ip = ops.pop(i.osize)
    cs = ops.pop(i.osize) & 0xFFFF
    if i.ops:
        n = ops.stack_size()
        ops.set_reg(4, n, ops.get_reg(4, n) + i.ops[0].value)
    ops.far_jump(cs, ip & MASK[i.osize])


@sem("LOOP")
def loop(ops, i):
    """LOOP rel8: decrement rCX (address size), branch if not zero; no flags."""
    c = (ops.get_reg(1, i.asize) - 1) & MASK[i.asize]
    ops.set_reg(1, i.asize, c)
    ops.branch(c != 0, i.ops[0].value)


@sem("LOOPE")
def loope(ops, i):
    c = (ops.get_reg(1, i.asize) - 1) & MASK[i.asize]
    ops.set_reg(1, i.asize, c)
    ops.branch((c != 0) & ops.cond(CC_Z), i.ops[0].value)


@sem("LOOPNE")
def loopne(ops, i):
    c = (ops.get_reg(1, i.asize) - 1) & MASK[i.asize]
    ops.set_reg(1, i.asize, c)
    ops.branch((c != 0) & ops.cond(CC_Z + 1), i.ops[0].value)


@sem("JCXZ")
def jcxz(ops, i):
    """JCXZ/JECXZ/JRCXZ: the count register is chosen by the address size."""
    ops.branch(ops.get_reg(1, i.asize) == 0, i.ops[0].value)
