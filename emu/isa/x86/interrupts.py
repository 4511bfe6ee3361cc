"""Interrupt and exception delivery (SDM Vol. 3A §6; real mode: §20.1.4).

Real mode: push FLAGS, CS, IP; clear IF, TF and AC; load CS:IP from the
interrupt vector table at IDTR.base + 4*vector.

Faults push the address of the faulting instruction (286 and later); the
8086 pushes the next instruction's address for a divide error.  A fault
raised while delivering another becomes #DF; one more is a triple fault,
which the engine reports as a SHUTDOWN exit.
"""

from __future__ import annotations

from . import flags as F
from .state import CR0_PE, CS
from ..core import CpuShutdown
from ..ops import GuestException

EXC_NAMES = {0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint",
             4: "#OF overflow", 5: "#BR bound range", 6: "#UD invalid opcode",
             7: "#NM no math coprocessor", 8: "#DF double fault", 10: "#TS invalid TSS",
             11: "#NP segment not present", 12: "#SS stack fault",
             13: "#GP general protection", 14: "#PF page fault", 16: "#MF x87 error",
             17: "#AC alignment check", 18: "#MC machine check", 19: "#XM SIMD error"}
CONTRIBUTORY = {0, 10, 11, 12, 13}


class TripleFault(CpuShutdown):
    """A fault while delivering a double fault: the CPU shuts down."""

    def __init__(self, chain):
        super().__init__(chain)
        self.chain = chain

    def describe(self) -> str:
        names = " -> ".join(EXC_NAMES.get(v, f"vector {v}") for v in self.chain)
        return f"triple fault ({names})"


def deliver(ops, vector: int, return_ip: int, error_code=None, soft: bool = False) -> None:
    """Enter the handler for ``vector``; ``return_ip`` is what IRET returns to.
    ``soft``: INT n / INT3 / INTO (protected mode checks the gate's DPL)."""
    s = ops.s
    if ops.trace_int is not None:
        ops.trace_int(vector, return_ip, error_code)
    if s.cr0 & CR0_PE:
        from .pm_interrupts import deliver_protected
        deliver_protected(ops, vector, return_ip, error_code, soft)
        return
    if vector * 4 + 3 > s.idt_limit:
        raise GuestException(13, vector * 8 + 2, "interrupt vector beyond the IVT limit")
    flags = s.rflags
    ops.push(flags & 0xFFFF, 2)
    ops.push(s.segs[CS].selector, 2)
    ops.push(return_ip & 0xFFFF, 2)
    base = s.idt_base + vector * 4
    ip = ops.read_lin(base, 2)
    cs = ops.read_lin(base + 2, 2)
    s.fl = (flags & ~(F.IF | F.TF | F.AC)) | F.FIXED1
    s.cc_op = F.CC_EFLAGS
    ops.far_jump(cs, ip)


ERROR_CODE_VECTORS = frozenset((8, 10, 11, 12, 13, 14, 17, 21))


def _error_code(s, vector: int, code):
    """What is pushed: nothing in real mode (no error codes there); in
    protected mode an error code exactly for #DF #TS #NP #SS #GP #PF #AC #CP
    (SDM Vol. 3A Table 6-1), 0 when the raiser gave none."""
    if not s.cr0 & CR0_PE or vector not in ERROR_CODE_VECTORS:
        return None
    return code or 0


def deliver_exception(ops, exc: GuestException, insn) -> None:
    """Deliver a fault raised while executing ``insn``, escalating to #DF and
    to a triple fault (raised as :class:`TripleFault`) as SDM Table 6-5 says."""
    chain = [exc.vector]
    s = ops.s
    vector, code = exc.vector, exc.error_code
    ret = s.rip if insn is None else insn.ip
    if insn is not None and vector == 0 and ops.model.fault_pushes_next_ip:
        ret = insn.next_ip
    while True:
        code = _error_code(s, vector, code)
        try:
            deliver(ops, vector, ret, code)
            return
        except GuestException as e2:
            chain.append(e2.vector)
            if vector == 8 or len(chain) > 3:
                raise TripleFault(chain)
            second = e2.vector
            if (vector in CONTRIBUTORY and second in CONTRIBUTORY) or (
                    vector == 14 and (second in CONTRIBUTORY or second == 14)):
                vector, code = 8, 0
            else:
                vector, code = e2.vector, e2.error_code
