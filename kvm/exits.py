"""VM exits returned by ``Vcpu.run()``: a closed set of kinds.

What is modelled: ``struct kvm_run``'s ``exit_reason`` and exit union
(``Documentation/virt/kvm/api.rst`` §5; reference ``kvm_qmp_gdb.md`` §1.4,
§1.5), decoded into small dataclasses in the style of rust-vmm's
``VcpuExit`` (read-only by convention: ``__slots__`` and a plain
``__init__``, since a frozen dataclass's constructor costs about a
microsecond, a tenth of this host's whole exit).  An IO exit, the common
case, is read from ``struct kvm_run`` with one ``struct.unpack_from``.
Every exit number maps to exactly one kind; numbers the package does not
decode become ``Unsupported(code)`` (reported, never ignored).

The data of ``IoIn`` / ``IoOut`` / ``MmioRead`` / ``MmioWrite`` is a
``memoryview`` into the vCPU's kvm_run mmap, valid until the next
``Vcpu.run()``.  For ``IoIn`` and ``MmioRead`` write the reply into it
before the next run: KVM completes the guest instruction from those bytes
on re-entry.

Deliberate deviation from the kernel names: KVM_EXIT_EXCEPTION is the kind
``ExceptionExit`` (not ``Exception``, which would shadow Python's builtin).
``Intr`` is produced both for exit_reason KVM_EXIT_INTR and for KVM_RUN
failing with EINTR (a signal or ``immediate_exit``).
"""

import struct
from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple

from . import uapi


@dataclass(slots=True)
class Exit:
    """One VM exit.  ``reason`` is the KVM exit number of the kind."""

    reason: ClassVar[int] = uapi.KVM_EXIT_UNKNOWN

    @property
    def name(self):
        """The KVM name of the exit without prefix: "IO", "HLT", ..."""
        return uapi.EXIT_NAMES.get(self.reason, str(self.reason))

    def describe(self):
        """One sentence, in words, for a learner."""
        raise NotImplementedError


def _le(view):
    return int.from_bytes(bytes(view), "little")


@dataclass(slots=True)
class IoIn(Exit):
    """The guest executed IN/INS: supply ``size*count`` bytes in ``data``."""

    reason: ClassVar[int] = uapi.KVM_EXIT_IO
    port: int
    size: int
    count: int
    data: memoryview

    def reply(self, value):
        """Write ``value`` (int, little-endian, or bytes) as the IN result."""
        if isinstance(value, int):
            value = value.to_bytes(self.size, "little") * self.count
        self.data[:len(value)] = value

    def describe(self):
        times = f" x{self.count}" if self.count != 1 else ""
        return (f"port read: IN {self.size} byte(s){times} from port "
                f"{self.port:#x}; the VMM must supply the value")


@dataclass(slots=True)
class IoOut(Exit):
    """The guest executed OUT/OUTS: ``data`` holds ``size*count`` bytes."""

    reason: ClassVar[int] = uapi.KVM_EXIT_IO
    port: int
    size: int
    count: int
    data: memoryview

    @property
    def value(self):
        """The first (usually only) value written, as an int."""
        return _le(self.data[:self.size])

    def describe(self):
        times = f" x{self.count}" if self.count != 1 else ""
        return (f"port write: OUT {self.size} byte(s){times} to port "
                f"{self.port:#x}, value {self.value:#x}")


@dataclass(slots=True)
class MmioRead(Exit):
    """The guest read ``len`` bytes at an unbacked guest-physical address."""

    reason: ClassVar[int] = uapi.KVM_EXIT_MMIO
    phys_addr: int
    len: int
    data: memoryview

    def reply(self, value):
        """Write ``value`` (int, little-endian, or bytes) as the result."""
        if isinstance(value, int):
            value = value.to_bytes(self.len, "little")
        self.data[:len(value)] = value

    def describe(self):
        return (f"memory-mapped read of {self.len} byte(s) at guest-physical "
                f"{self.phys_addr:#x} (no RAM there); the VMM must supply "
                "the value")


@dataclass(slots=True)
class MmioWrite(Exit):
    """The guest wrote ``len`` bytes at an unbacked guest-physical address."""

    reason: ClassVar[int] = uapi.KVM_EXIT_MMIO
    phys_addr: int
    len: int
    data: memoryview

    @property
    def value(self):
        return _le(self.data)

    def describe(self):
        return (f"memory-mapped write of {self.len} byte(s) at guest-physical "
                f"{self.phys_addr:#x}, value {self.value:#x}")


@dataclass(slots=True)
class Hlt(Exit):
    """The guest executed HLT (no in-kernel irqchip)."""

    reason: ClassVar[int] = uapi.KVM_EXIT_HLT

    def describe(self):
        return "the guest executed HLT and waits for an interrupt"


@dataclass(slots=True)
class Shutdown(Exit):
    """Triple fault (or another shutdown condition) in the guest."""

    reason: ClassVar[int] = uapi.KVM_EXIT_SHUTDOWN

    def describe(self):
        return ("the guest shut down: usually a triple fault (an exception "
                "while delivering a double fault); the machine must reset")


@dataclass(slots=True)
class IrqWindowOpen(Exit):
    """The guest can take an external interrupt now (was requested)."""

    reason: ClassVar[int] = uapi.KVM_EXIT_IRQ_WINDOW_OPEN

    def describe(self):
        return ("the guest can accept an external interrupt now "
                "(interrupt window open): inject it with Vcpu.interrupt()")


@dataclass(slots=True)
class Intr(Exit):
    """KVM_RUN returned because of a signal or immediate_exit."""

    reason: ClassVar[int] = uapi.KVM_EXIT_INTR

    def describe(self):
        return ("KVM_RUN was interrupted by a signal (a kick, a timer or "
                "immediate_exit) so the VMM can regain control")


# VMX basic exit reasons reported with bit 31 ("VM-entry failure") set
# (SDM Vol. 3C §27.8, Appendix C); SVM reports VMEXIT_INVALID (-1).
_ENTRY_FAILURES = {
    0x80000021: "invalid guest state (VMX exit reason 33): a segment, "
                "control register or RFLAGS value breaks the VM-entry "
                "checks",
    0x80000022: "MSR loading failed during VM entry (VMX exit reason 34)",
    0x80000029: "machine-check event during VM entry (VMX exit reason 41)",
    0xFFFFFFFFFFFFFFFF: "VMRUN refused the state (SVM VMEXIT_INVALID): "
                        "the guest state breaks the VMRUN consistency checks",
}


@dataclass(slots=True)
class FailEntry(Exit):
    """The CPU refused to enter the guest."""

    reason: ClassVar[int] = uapi.KVM_EXIT_FAIL_ENTRY
    hardware_entry_failure_reason: int
    cpu: int

    @property
    def explanation(self):
        return _ENTRY_FAILURES.get(
            self.hardware_entry_failure_reason,
            "the CPU refused the state we gave it")

    def describe(self):
        return (f"VM entry failed on host CPU {self.cpu} (hardware reason "
                f"{self.hardware_entry_failure_reason:#x}): "
                f"{self.explanation}; check the state with "
                "Vcpu.explain_state()")


_SUBERRORS = {
    uapi.KVM_INTERNAL_ERROR_EMULATION: "EMULATION",
    uapi.KVM_INTERNAL_ERROR_SIMUL_EX: "SIMUL_EX",
    uapi.KVM_INTERNAL_ERROR_DELIVERY_EV: "DELIVERY_EV",
    uapi.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: "UNEXPECTED_EXIT_REASON",
}

_SUBERROR_WORDS = {
    "EMULATION": "KVM's instruction emulator could not emulate an "
                 "instruction",
    "SIMUL_EX": "an exception occurred while delivering another one",
    "DELIVERY_EV": "an event could not be delivered (e.g. a fault while "
                   "accessing the IDT)",
    "UNEXPECTED_EXIT_REASON": "the hardware reported an exit KVM does not "
                              "handle",
}


@dataclass(slots=True)
class InternalError(Exit):
    """KVM itself could not continue (emulation failure, ...)."""

    reason: ClassVar[int] = uapi.KVM_EXIT_INTERNAL_ERROR
    suberror: int
    ndata: int
    data: Tuple[int, ...]
    insn_bytes: Optional[bytes] = None

    @property
    def suberror_name(self):
        return _SUBERRORS.get(self.suberror, f"UNKNOWN_{self.suberror}")

    def describe(self):
        words = _SUBERROR_WORDS.get(self.suberror_name,
                                    "an unknown internal error")
        text = f"KVM internal error {self.suberror_name}: {words}"
        if self.insn_bytes is not None:
            text += f" (instruction bytes {self.insn_bytes.hex(' ')})"
        return text


_DR6_BS = 1 << 14


@dataclass(slots=True)
class Debug(Exit):
    """A debug event: single-step (#DB, DR6.BS) or breakpoint."""

    reason: ClassVar[int] = uapi.KVM_EXIT_DEBUG
    exception: int
    pc: int            # LINEAR address (cs.base + rip)
    dr6: int
    dr7: int

    @property
    def single_step(self):
        return self.exception == 1 and bool(self.dr6 & _DR6_BS)

    @property
    def breakpoints_hit(self):
        """Indices (0-3) of the hardware breakpoints DR6 says fired."""
        return tuple(n for n in range(4) if self.dr6 & (1 << n))

    def describe(self):
        if self.exception == 3:
            what = "software breakpoint (int3)"
        elif self.single_step:
            what = "single step"
        elif self.breakpoints_hit:
            what = ("hardware breakpoint "
                    + ",".join(str(n) for n in self.breakpoints_hit))
        else:
            what = f"debug exception {self.exception}"
        return f"debug stop: {what} at linear address {self.pc:#x}"


_EVENT_TYPES = {
    uapi.KVM_SYSTEM_EVENT_SHUTDOWN: "SHUTDOWN",
    uapi.KVM_SYSTEM_EVENT_RESET: "RESET",
    uapi.KVM_SYSTEM_EVENT_CRASH: "CRASH",
    uapi.KVM_SYSTEM_EVENT_WAKEUP: "WAKEUP",
    uapi.KVM_SYSTEM_EVENT_SUSPEND: "SUSPEND",
    uapi.KVM_SYSTEM_EVENT_SEV_TERM: "SEV_TERM",
    uapi.KVM_SYSTEM_EVENT_TDX_FATAL: "TDX_FATAL",
}


@dataclass(slots=True)
class SystemEvent(Exit):
    """An architecture-level request: shutdown, reset, crash, ..."""

    reason: ClassVar[int] = uapi.KVM_EXIT_SYSTEM_EVENT
    type: int
    data: Tuple[int, ...]

    @property
    def type_name(self):
        return _EVENT_TYPES.get(self.type, f"UNKNOWN_{self.type}")

    def describe(self):
        return f"system event {self.type_name} requested by the guest"


@dataclass(slots=True)
class ExceptionExit(Exit):
    """KVM_EXIT_EXCEPTION (documented as unused on x86)."""

    reason: ClassVar[int] = uapi.KVM_EXIT_EXCEPTION
    exception: int
    error_code: int

    def describe(self):
        return (f"guest exception {self.exception} (error code "
                f"{self.error_code:#x}) passed to the VMM")


@dataclass(slots=True)
class Hypercall(Exit):
    """The guest made a hypercall the VMM asked to see."""

    reason: ClassVar[int] = uapi.KVM_EXIT_HYPERCALL
    nr: int
    args: Tuple[int, ...]
    ret: int
    longmode: int

    def describe(self):
        return f"hypercall {self.nr} with arguments {list(self.args)}"


@dataclass(slots=True)
class MemoryFault(Exit):
    """KVM could not resolve a guest access to memory (KVM_RUN: EFAULT)."""

    reason: ClassVar[int] = uapi.KVM_EXIT_MEMORY_FAULT
    flags: int
    gpa: int
    size: int

    def describe(self):
        return (f"memory fault: KVM could not map {self.size} byte(s) at "
                f"guest-physical {self.gpa:#x}")


@dataclass(slots=True)
class Unknown(Exit):
    """The hardware exited for a reason KVM does not know."""

    reason: ClassVar[int] = uapi.KVM_EXIT_UNKNOWN
    hardware_exit_reason: int

    def describe(self):
        return (f"unknown exit: hardware exit reason "
                f"{self.hardware_exit_reason:#x} is not handled by KVM")


@dataclass(slots=True)
class Unsupported(Exit):
    """An exit number this package does not decode: reported, not ignored."""

    code: int

    @property
    def reason(self):
        return self.code

    def describe(self):
        return (f"exit {self.code} ({self.name}) is not handled by this "
                "VMM")


#: the closed set of kinds ``Vcpu.run()`` can return
EXIT_KINDS = (IoIn, IoOut, MmioRead, MmioWrite, Hlt, Shutdown, IrqWindowOpen,
              Intr, FailEntry, InternalError, Debug, SystemEvent,
              ExceptionExit, Hypercall, MemoryFault, Unknown, Unsupported)

# ABI: offsets inside struct kvm_run of the MMIO data bytes
_MMIO_DATA = (uapi.kvm_run.exit.offset + uapi._kvm_run_exit.mmio.offset
              + uapi._exit_mmio.data.offset)


#: ``IO_HEAD.unpack_from(view)`` -> ``(exit_reason, direction, size, port,
#: count, data_offset)`` from the vCPU mmap in one call (the last five mean
#: something for KVM_EXIT_IO only).
# ABI: struct kvm_run from offset 8: exit_reason (u32); 20 bytes
# (ready_for_interrupt_injection, if_flag, flags, cr8, apic_base); at 32 the
# exit union's io: direction, size (u8), port (u16), count (u32),
# data_offset (u64)
IO_HEAD = struct.Struct("<8xI20xBBHIQ")
assert IO_HEAD.size == uapi.kvm_run.exit.offset + uapi._exit_io.data_offset.offset + 8


def decode(run, view):
    """Decode the exit in ``run`` (a ``kvm_run`` on the vCPU mmap).

    ``view`` is a writable memoryview of the whole vCPU mmap; data fields
    of the result are slices of it.
    """
    # ABI: kvm_run.exit_reason, then kvm_run.io (meaningful for IO only)
    code, direction, size, port, count, start = IO_HEAD.unpack_from(view)
    if code == uapi.KVM_EXIT_IO:
        data = view[start:start + size * count]
        if direction == uapi.KVM_EXIT_IO_OUT:
            return IoOut(port, size, count, data)
        return IoIn(port, size, count, data)
    decoder = _DECODERS.get(code)
    if decoder is None:
        return Unsupported(code)
    return decoder(run, view)


def _mmio(run, view):
    mmio = run.mmio                      # ABI: kvm_run.mmio
    length = min(mmio.len, 8)
    data = view[_MMIO_DATA:_MMIO_DATA + length]
    kind = MmioWrite if mmio.is_write else MmioRead
    return kind(mmio.phys_addr, mmio.len, data)


def _internal(run, view):
    internal = run.internal              # ABI: kvm_run.internal
    ndata = min(internal.ndata, 16)
    insn = None
    if internal.suberror == uapi.KVM_INTERNAL_ERROR_EMULATION and ndata >= 1:
        emu = run.emulation_failure      # ABI: kvm_run.emulation_failure
        has_bytes = uapi.KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES
        if emu.flags & has_bytes:
            size = min(emu.insn_size, 15)
            insn = bytes(emu.insn_bytes[:size])
    return InternalError(internal.suberror, ndata,
                         tuple(internal.data[:ndata]), insn)


def _debug(run, view):
    arch = run.debug.arch                # ABI: kvm_run.debug.arch
    return Debug(arch.exception, arch.pc, arch.dr6, arch.dr7)


def _system_event(run, view):
    event = run.system_event             # ABI: kvm_run.system_event
    # Older kernels have ndata == 0 and a single u64 flags at data[0].
    ndata = min(event.ndata, 16) or 1
    return SystemEvent(event.type, tuple(event.data[:ndata]))


def _hypercall(run, view):
    call = run.hypercall                 # ABI: kvm_run.hypercall
    return Hypercall(call.nr, tuple(call.args), call.ret, call.longmode)


_DECODERS = {
    uapi.KVM_EXIT_MMIO: _mmio,
    uapi.KVM_EXIT_HLT: lambda run, view: Hlt(),
    uapi.KVM_EXIT_SHUTDOWN: lambda run, view: Shutdown(),
    uapi.KVM_EXIT_IRQ_WINDOW_OPEN: lambda run, view: IrqWindowOpen(),
    uapi.KVM_EXIT_INTR: lambda run, view: Intr(),
    uapi.KVM_EXIT_FAIL_ENTRY: lambda run, view: FailEntry(
        # ABI: kvm_run.fail_entry
        run.fail_entry.hardware_entry_failure_reason, run.fail_entry.cpu),
    uapi.KVM_EXIT_INTERNAL_ERROR: _internal,
    uapi.KVM_EXIT_DEBUG: _debug,
    uapi.KVM_EXIT_SYSTEM_EVENT: _system_event,
    uapi.KVM_EXIT_EXCEPTION: lambda run, view: ExceptionExit(
        run.ex.exception, run.ex.error_code),        # ABI: kvm_run.ex
    uapi.KVM_EXIT_HYPERCALL: _hypercall,
    uapi.KVM_EXIT_MEMORY_FAULT: lambda run, view: MemoryFault(
        # ABI: kvm_run.memory_fault
        run.memory_fault.flags, run.memory_fault.gpa,
        run.memory_fault.size),
    uapi.KVM_EXIT_UNKNOWN: lambda run, view: Unknown(
        run.hw.hardware_exit_reason),                # ABI: kvm_run.hw
}
