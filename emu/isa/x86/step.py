"""One instruction on kasou's own semantics, for an engine that hands one
back: unicorn (SYSCALL/SYSENTER, which it only steps over, and code outside
RAM, which it cannot execute from its MMIO regions) and KVM (code outside
RAM, which the host's instruction emulator cannot fetch).

The instruction at CS:rIP is fetched through ``ConcreteOps`` -- from RAM,
or outside RAM from the bus at once, so unassigned memory reads all ones as
it does for data -- decoded for the code segment, and executed; a fault it
raises is delivered as the interpreter delivers it (SDM Vol. 3A §6.4-6.5:
a fault's return address is the faulting instruction's).  A triple fault
and an I/O read that needs an exit propagate to the caller.
"""

from __future__ import annotations

from ..ops import GuestException
from .interrupts import deliver_exception
from .state import CS, EFER_LMA


def decoder_key(s) -> tuple:
    """(default operand size, 64-bit mode) of the code segment of ``s``."""
    cs = s.segs[CS]
    return 4 if cs.db else 2, bool(s.efer & EFER_LMA and cs.l)


def step_one(ops, decoder, missing) -> None:
    """Run the instruction at CS:rIP of ``ops.s``; ``missing`` runs an
    instruction without semantics (``emu.isa.x86.core.missing_semantics``)."""
    s = ops.s
    cs = s.segs[CS]
    ip = s.rip
    ops.update_paging()
    ops.flush_tlb()
    try:
        insn = decoder.decode(lambda k: ops.read_lin(cs.base + ip + k, 1, fetch=True), ip)
    except GuestException as e:
        deliver_exception(ops, e, None)
        return
    ops.insn = insn
    s.rip = insn.next_ip
    try:
        (insn.handler or missing)(ops, insn)
    except GuestException as e:
        del ops.pending_exits[:]
        s.rip = ip
        deliver_exception(ops, e, insn)
