"""The exit vocabulary: why an accelerator handed control back to the Machine.

Every backend speaks KVM's language (``KVM_EXIT_*`` in linux/kvm.h), so a
learner can compare what each engine costs and where each hands control back:

* ``IO``        a port access the Machine's port bus must serve (IN/OUT/INS/OUTS)
* ``MMIO``      a memory access outside RAM that the MMIO bus must serve
* ``HLT``       the guest halted
* ``SHUTDOWN``  a triple fault (or a fault the backend cannot deliver)
* ``DEBUG``     a single-step or breakpoint stop
* ``FAIL_ENTRY`` the engine refused the CPU state (KVM: VM entry failed)
* ``INTERNAL_ERROR`` the engine could not go on (KVM: emulation failure)
* ``IRQ_WINDOW_OPEN`` the guest can take an interrupt now
* ``SYSTEM_EVENT`` a reset or power-off request
* ``SEMIHOSTING`` an Arm semihosting call (``SVC 0x123456``, ``BKPT 0xAB``)
  the Machine serves, as a VMM serves KVM's hypercall exit
* ``BUDGET``    kasou's own: the instruction or time budget ran out

An IO or MMIO exit may say which instruction caused it: ``pc``, its linear
address, and ``cs``, the CS selector when the CPU is in real or virtual-8086
mode (where ``CS:IP`` is how one names an instruction).  Engines fill them
when the Machine asks (``Machine.exit_pcs``, on with ``-d exits``): where
KVM is the engine that costs a register read per exit.  They take no part
in comparing exits.

For an IO or MMIO *read*, the Machine stores the value in ``exit.data`` before
it calls ``run()`` again, and the accelerator completes the instruction with
it -- just as a VMM fills ``kvm_run``'s data area before the next ``KVM_RUN``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Exit:
    """Base class of all exits. ``reason`` is the KVM-style name."""

    reason = "UNKNOWN"
    #: already served (counted, and its I/O done) by the engine's own hook,
    #: which hands it to the run loop only to end the run (Machine.dispatch_exit)
    dispatched = False

    def key(self) -> str:
        """The finest statistics bucket this exit belongs to."""
        return self.reason

    def describe(self) -> str:
        return self.reason


@dataclass
class IoExit(Exit):
    port: int
    size: int            # bytes: 1, 2 or 4
    is_write: bool
    data: int = 0        # OUT: the value written; IN: filled by the Machine
    count: int = 1
    pc: int | None = field(default=None, compare=False)    # the instruction (linear)
    cs: int | None = field(default=None, compare=False)    # its CS, in real/vm86 mode
    reason = "IO"

    def key(self) -> str:
        return f"IO {'out' if self.is_write else 'in'} 0x{self.port:x}"

    def other_key(self) -> str:
        return f"IO {'out' if self.is_write else 'in'} (other ports)"

    def describe(self) -> str:
        if self.is_write:
            return f"IO out port 0x{self.port:x} size {self.size} data 0x{self.data:x}"
        return f"IO in port 0x{self.port:x} size {self.size}"


@dataclass
class MmioExit(Exit):
    addr: int
    size: int
    is_write: bool
    data: int = 0
    pc: int | None = field(default=None, compare=False)
    cs: int | None = field(default=None, compare=False)
    reason = "MMIO"

    def key(self) -> str:
        return f"MMIO {'write' if self.is_write else 'read'} 0x{self.addr:x}"

    def other_key(self) -> str:
        return f"MMIO {'write' if self.is_write else 'read'} (other addresses)"

    def describe(self) -> str:
        if self.is_write:
            return f"MMIO write 0x{self.addr:x} size {self.size} data 0x{self.data:x}"
        return f"MMIO read 0x{self.addr:x} size {self.size}"


def mark_source(exits, pc: int, cs: int | None) -> None:
    """Record in IO/MMIO ``exits`` the instruction that caused them: its
    linear address ``pc`` and, in real or virtual-8086 mode, its CS."""
    for ex in exits:
        if ex.reason == "IO" or ex.reason == "MMIO":
            ex.pc = pc
            ex.cs = cs


def source_text(ex) -> str:
    """Where an exit came from, for the ``-d exits`` log: `` at CS:IP`` in
    real/vm86 mode, `` at 0xLINEAR`` otherwise, or nothing if unknown."""
    pc = getattr(ex, "pc", None)
    if pc is None:
        return ""
    if getattr(ex, "cs", None) is not None:
        return f" at {ex.cs:04x}:{(pc - (ex.cs << 4)) & 0xFFFF:04x}"
    return f" at 0x{pc:x}"


@dataclass
class HltExit(Exit):
    reason = "HLT"

    def describe(self) -> str:
        return "HLT: the guest halted"


@dataclass
class ShutdownExit(Exit):
    why: str = "triple fault"
    reason = "SHUTDOWN"

    def describe(self) -> str:
        return f"SHUTDOWN: {self.why}"


@dataclass
class DebugExit(Exit):
    kind: str = "step"   # "step", "breakpoint", "watchpoint"
    pc: int = 0          # linear address of the next instruction
    addr: int | None = None  # watchpoint: the data address
    reason = "DEBUG"

    def describe(self) -> str:
        return f"DEBUG ({self.kind}) at 0x{self.pc:x}"


@dataclass
class FailEntryExit(Exit):
    code: int = 0
    why: str = ""
    reason = "FAIL_ENTRY"

    def describe(self) -> str:
        return f"FAIL_ENTRY (0x{self.code:x}): {self.why}"


@dataclass
class InternalErrorExit(Exit):
    suberror: str = "EMULATION"
    why: str = ""
    pc: int | None = None
    insn_bytes: bytes = b""
    reason = "INTERNAL_ERROR"

    def describe(self) -> str:
        return f"INTERNAL_ERROR ({self.suberror}): {self.why}"


@dataclass
class IrqWindowExit(Exit):
    reason = "IRQ_WINDOW_OPEN"


@dataclass
class SystemEventExit(Exit):
    event: str = "SHUTDOWN"   # SHUTDOWN, RESET, CRASH
    status: int = 0
    reason = "SYSTEM_EVENT"

    def describe(self) -> str:
        return f"SYSTEM_EVENT {self.event} (status {self.status})"


@dataclass
class SemihostingExit(Exit):
    """An Arm semihosting call: operation ``op`` (r0) with parameter
    ``param`` (r1, usually a parameter block's address).  The Machine
    serves it (:mod:`emu.devices.semihosting`) and stores the value for r0
    in ``result``; the engine writes it to r0 before the next instruction,
    as an IN's value is completed from ``IoExit.data``."""
    op: int
    param: int
    result: int = 0
    pc: int | None = field(default=None, compare=False)    # the trapping instruction
    reason = "SEMIHOSTING"

    @property
    def data(self) -> int:
        """The result, under the name an engine replays a read's value by
        (an interpreter completes the trapping instruction with it)."""
        return self.result

    def key(self) -> str:
        return f"SEMIHOSTING 0x{self.op:02x}"

    def describe(self) -> str:
        return f"SEMIHOSTING op 0x{self.op:02x} param 0x{self.param:x}"


@dataclass
class BudgetExit(Exit):
    what: str = "instructions"   # or "time"
    reason = "BUDGET"

    def describe(self) -> str:
        return f"BUDGET: the {self.what} budget ran out"


EXIT_REASONS = ("IO", "MMIO", "HLT", "SHUTDOWN", "DEBUG", "FAIL_ENTRY",
                "INTERNAL_ERROR", "IRQ_WINDOW_OPEN", "SYSTEM_EVENT", "SEMIHOSTING", "BUDGET")


#: distinct ports/addresses that ExitStats counts one by one
MAX_EXIT_KEYS = 256


@dataclass
class ExitStats:
    """Exit counts by reason and by port/address, as ``-d exits`` shows them.

    Bounded whatever the guest does: the first ``max_keys`` distinct ports
    (and, apart, the first ``max_keys`` MMIO addresses) are counted one by
    one, exactly; an access to any other goes to the bucket of its kind and
    direction ("MMIO write (other addresses)"), so a guest sweeping
    unassigned memory with REP MOVSD adds at most two entries more.  The
    totals stay exact: ``by_reason`` counts every exit, and ``by_key`` sums
    to the IO and MMIO counts."""

    by_reason: dict = field(default_factory=dict)
    by_key: dict = field(default_factory=dict)
    max_keys: int = MAX_EXIT_KEYS
    distinct: dict = field(default_factory=dict)   # reason -> keys counted one by one
    #: doorbell writes an engine took without an exit (KVM's ioeventfd), by
    #: the key the exit would have had; not exits, so not in ``total()``
    signalled: dict = field(default_factory=dict)

    def count(self, ex: Exit, n: int = 1, key: str | None = None) -> None:
        """Count ``n`` exits like ``ex``; ``key``: its ``ex.key()``, when the
        caller already has it (an engine serving accesses without exits)."""
        r = ex.reason
        self.by_reason[r] = self.by_reason.get(r, 0) + n
        if r in ("IO", "MMIO"):
            by_key = self.by_key
            k = ex.key() if key is None else key
            if k in by_key:
                by_key[k] += n
            elif self.distinct.get(r, 0) < self.max_keys:
                by_key[k] = n
                self.distinct[r] = self.distinct.get(r, 0) + 1
            else:
                k = ex.other_key()
                by_key[k] = by_key.get(k, 0) + n

    def count_signal(self, key: str, n: int = 1) -> None:
        """``n`` writes to a doorbell (``key`` as an exit's) that caused no exit."""
        self.signalled[key] = self.signalled.get(key, 0) + n

    def summary_lines(self) -> list:
        """``exits: ...`` and, if any doorbell was rung without an exit,
        ``ioeventfd: ...`` (what ``-d exits`` and ``info exits`` print)."""
        lines = [f"exits: {self.summary()}"]
        if self.signalled:
            lines.append("ioeventfd: " + ", ".join(f"{k} {v}" for k, v in sorted(self.signalled.items()))
                         + " (doorbell writes without an exit)")
        return lines

    def total(self) -> int:
        return sum(self.by_reason.values())

    def as_dict(self) -> dict:
        return {"by_reason": dict(self.by_reason), "by_key": dict(self.by_key),
                "signalled": dict(self.signalled)}

    def state(self) -> tuple:
        """A copy of the counts (the debugger's checkpoints)."""
        return dict(self.by_reason), dict(self.by_key), dict(self.distinct), dict(self.signalled)

    def set_state(self, state: tuple) -> None:
        by_reason, by_key, distinct, signalled = state
        self.by_reason, self.by_key, self.distinct = dict(by_reason), dict(by_key), dict(distinct)
        self.signalled = dict(signalled)

    def summary(self) -> str:
        if not self.by_reason:
            return "none"
        return ", ".join(f"{k} {v}" for k, v in sorted(self.by_reason.items()))
