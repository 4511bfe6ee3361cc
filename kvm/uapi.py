"""ctypes mirrors of the Linux KVM userspace ABI for x86-64.

What is modelled: the structs, ioctl numbers and constants of
``include/uapi/linux/kvm.h`` and ``arch/x86/include/uapi/asm/kvm.h`` that
kasou uses, as described (and verified against C ``sizeof``/``offsetof`` on
the test host) in ``shared/reference/kvm_qmp_gdb.md`` §1.2-§1.6.

This is the only module where kernel names appear verbatim (``kvm_regs``,
``KVM_EXIT_IO``, ``KVM_CAP_SYNC_REGS`` ...): the rest of the package speaks in
Python names and reaches the ABI through this module.

Every struct below carries an ``# ABI:`` comment naming the kernel struct it
mirrors; ``tests/kvm/test_uapi.py`` checks every size and the key offsets
against the reference document, so a typo here fails a test, not a guest.

Deliberate deviations: variable-length structs (``kvm_cpuid2``,
``kvm_msrs``) are declared with their fixed 8-byte header only (that is what
the ioctl number encodes); ``cpuid2_type(n)`` / ``msrs_type(n)`` build the
sized variant for ``n`` entries.  ``kvm_run``'s exit union lists only the x86
and generic members; other architectures' members are covered by
``padding``.
"""

import ctypes
from ctypes import (Structure, Union, c_char, c_int32, c_uint8, c_uint16,
                    c_uint32, c_uint64)
from types import MappingProxyType

u8, u16, u32, u64, s32 = c_uint8, c_uint16, c_uint32, c_uint64, c_int32

# ---------------------------------------------------------------------------
# Structs (reference §1.3)
# ---------------------------------------------------------------------------


class kvm_userspace_memory_region(Structure):
    # ABI: struct kvm_userspace_memory_region (32 bytes)
    _fields_ = [("slot", u32), ("flags", u32), ("guest_phys_addr", u64),
                ("memory_size", u64), ("userspace_addr", u64)]


class kvm_regs(Structure):
    # ABI: struct kvm_regs (x86, 144 bytes): 16 GPRs, rip @128, rflags @136
    _fields_ = [(name, u64) for name in (
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
        "rip", "rflags")]


class kvm_segment(Structure):
    # ABI: struct kvm_segment (x86, 24 bytes): the hidden descriptor cache
    _fields_ = [("base", u64), ("limit", u32), ("selector", u16),
                ("type", u8), ("present", u8), ("dpl", u8), ("db", u8),
                ("s", u8), ("l", u8), ("g", u8), ("avl", u8),
                ("unusable", u8), ("padding", u8)]


class kvm_dtable(Structure):
    # ABI: struct kvm_dtable (x86, 16 bytes): GDTR / IDTR
    _fields_ = [("base", u64), ("limit", u16), ("padding", u16 * 3)]


KVM_NR_INTERRUPTS = 256


class kvm_sregs(Structure):
    # ABI: struct kvm_sregs (x86, 312 bytes); interrupt_bitmap has
    # (KVM_NR_INTERRUPTS + 63) / 64 words
    _fields_ = [("cs", kvm_segment), ("ds", kvm_segment),
                ("es", kvm_segment), ("fs", kvm_segment),
                ("gs", kvm_segment), ("ss", kvm_segment),
                ("tr", kvm_segment), ("ldt", kvm_segment),
                ("gdt", kvm_dtable), ("idt", kvm_dtable),
                ("cr0", u64), ("cr2", u64), ("cr3", u64), ("cr4", u64),
                ("cr8", u64), ("efer", u64), ("apic_base", u64),
                ("interrupt_bitmap", u64 * ((KVM_NR_INTERRUPTS + 63) // 64))]


class kvm_fpu(Structure):
    # ABI: struct kvm_fpu (x86, 416 bytes): legacy FXSAVE-like layout
    _fields_ = [("fpr", (u8 * 16) * 8), ("fcw", u16), ("fsw", u16),
                ("ftwx", u8), ("pad1", u8), ("last_opcode", u16),
                ("last_ip", u64), ("last_dp", u64),
                ("xmm", (u8 * 16) * 16), ("mxcsr", u32), ("pad2", u32)]


class _events_exception(Structure):
    # ABI: struct kvm_vcpu_events.exception
    _fields_ = [("injected", u8), ("nr", u8), ("has_error_code", u8),
                ("pending", u8), ("error_code", u32)]


class _events_interrupt(Structure):
    # ABI: struct kvm_vcpu_events.interrupt
    _fields_ = [("injected", u8), ("nr", u8), ("soft", u8), ("shadow", u8)]


class _events_nmi(Structure):
    # ABI: struct kvm_vcpu_events.nmi
    _fields_ = [("injected", u8), ("pending", u8), ("masked", u8),
                ("pad", u8)]


class _events_smi(Structure):
    # ABI: struct kvm_vcpu_events.smi
    _fields_ = [("smm", u8), ("pending", u8), ("smm_inside_nmi", u8),
                ("latched_init", u8)]


class _events_triple_fault(Structure):
    # ABI: struct kvm_vcpu_events.triple_fault
    _fields_ = [("pending", u8)]


class kvm_vcpu_events(Structure):
    # ABI: struct kvm_vcpu_events (x86, 64 bytes)
    _fields_ = [("exception", _events_exception),
                ("interrupt", _events_interrupt),
                ("nmi", _events_nmi),
                ("sipi_vector", u32), ("flags", u32),
                ("smi", _events_smi),
                ("triple_fault", _events_triple_fault),
                ("reserved", u8 * 26),
                ("exception_has_payload", u8),
                ("exception_payload", u64)]


KVM_VCPUEVENT_VALID_NMI_PENDING = 0x01
KVM_VCPUEVENT_VALID_SIPI_VECTOR = 0x02
KVM_VCPUEVENT_VALID_SHADOW = 0x04
KVM_VCPUEVENT_VALID_SMM = 0x08
KVM_VCPUEVENT_VALID_PAYLOAD = 0x10
KVM_VCPUEVENT_VALID_TRIPLE_FAULT = 0x20


class kvm_debugregs(Structure):
    # ABI: struct kvm_debugregs (x86, 128 bytes)
    _fields_ = [("db", u64 * 4), ("dr6", u64), ("dr7", u64),
                ("flags", u64), ("reserved", u64 * 9)]


class kvm_guest_debug_arch(Structure):
    # ABI: struct kvm_guest_debug_arch (x86): debugreg[7] carries DR7
    _fields_ = [("debugreg", u64 * 8)]


class kvm_guest_debug(Structure):
    # ABI: struct kvm_guest_debug (72 bytes)
    _fields_ = [("control", u32), ("pad", u32),
                ("arch", kvm_guest_debug_arch)]


class kvm_cpuid_entry2(Structure):
    # ABI: struct kvm_cpuid_entry2 (x86, 40 bytes)
    _fields_ = [("function", u32), ("index", u32), ("flags", u32),
                ("eax", u32), ("ebx", u32), ("ecx", u32), ("edx", u32),
                ("padding", u32 * 3)]


KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1   # sic: the header's own spelling
KVM_CPUID_FLAG_STATEFUL_FUNC = 2
KVM_CPUID_FLAG_STATE_READ_NEXT = 4


class kvm_cpuid2(Structure):
    # ABI: struct kvm_cpuid2 header (8 bytes); entries[] follow
    _fields_ = [("nent", u32), ("padding", u32)]


def cpuid2_type(nent):
    """The ``kvm_cpuid2`` struct type with room for ``nent`` entries."""
    class kvm_cpuid2_n(Structure):
        # ABI: struct kvm_cpuid2 { nent; padding; entries[nent] }
        _fields_ = [("nent", u32), ("padding", u32),
                    ("entries", kvm_cpuid_entry2 * nent)]
    return kvm_cpuid2_n


class kvm_msr_entry(Structure):
    # ABI: struct kvm_msr_entry (16 bytes)
    _fields_ = [("index", u32), ("reserved", u32), ("data", u64)]


class kvm_msrs(Structure):
    # ABI: struct kvm_msrs header (8 bytes); entries[] follow
    _fields_ = [("nmsrs", u32), ("pad", u32)]


def msrs_type(nmsrs):
    """The ``kvm_msrs`` struct type with room for ``nmsrs`` entries."""
    class kvm_msrs_n(Structure):
        # ABI: struct kvm_msrs { nmsrs; pad; entries[nmsrs] }
        _fields_ = [("nmsrs", u32), ("pad", u32),
                    ("entries", kvm_msr_entry * nmsrs)]
    return kvm_msrs_n


class kvm_interrupt(Structure):
    # ABI: struct kvm_interrupt (4 bytes): irq is a VECTOR number
    _fields_ = [("irq", u32)]


class _irq_level_u(Union):
    # ABI: struct kvm_irq_level's anonymous union { __u32 irq; __s32 status; }
    _fields_ = [("irq", u32), ("status", s32)]


class kvm_irq_level(Structure):
    # ABI: struct kvm_irq_level (8 bytes)
    _anonymous_ = ("u",)
    _fields_ = [("u", _irq_level_u), ("level", u32)]


class kvm_ioeventfd(Structure):
    # ABI: struct kvm_ioeventfd (64 bytes)
    _fields_ = [("datamatch", u64), ("addr", u64), ("len", u32),
                ("fd", s32), ("flags", u32), ("pad", u8 * 36)]


KVM_IOEVENTFD_FLAG_DATAMATCH = 1
KVM_IOEVENTFD_FLAG_PIO = 2
KVM_IOEVENTFD_FLAG_DEASSIGN = 4


class kvm_irqfd(Structure):
    # ABI: struct kvm_irqfd (32 bytes)
    _fields_ = [("fd", u32), ("gsi", u32), ("flags", u32),
                ("resamplefd", u32), ("pad", u8 * 16)]


KVM_IRQFD_FLAG_DEASSIGN = 1
KVM_IRQFD_FLAG_RESAMPLE = 2


class kvm_translation(Structure):
    # ABI: struct kvm_translation (24 bytes)
    _fields_ = [("linear_address", u64), ("physical_address", u64),
                ("valid", u8), ("writeable", u8), ("usermode", u8),
                ("pad", u8 * 5)]


class kvm_enable_cap(Structure):
    # ABI: struct kvm_enable_cap (104 bytes)
    _fields_ = [("cap", u32), ("flags", u32), ("args", u64 * 4),
                ("pad", u8 * 64)]


class kvm_mp_state(Structure):
    # ABI: struct kvm_mp_state (4 bytes)
    _fields_ = [("mp_state", u32)]


KVM_MP_STATE_RUNNABLE = 0
KVM_MP_STATE_UNINITIALIZED = 1
KVM_MP_STATE_INIT_RECEIVED = 2
KVM_MP_STATE_HALTED = 3
KVM_MP_STATE_SIPI_RECEIVED = 4

KVM_MEM_LOG_DIRTY_PAGES = 1
KVM_MEM_READONLY = 2

# ---------------------------------------------------------------------------
# struct kvm_run and its exit union (reference §1.4)
# ---------------------------------------------------------------------------


class _exit_hw(Structure):
    # ABI: kvm_run.hw (KVM_EXIT_UNKNOWN)
    _fields_ = [("hardware_exit_reason", u64)]


class _exit_fail_entry(Structure):
    # ABI: kvm_run.fail_entry (KVM_EXIT_FAIL_ENTRY)
    _fields_ = [("hardware_entry_failure_reason", u64), ("cpu", u32)]


class _exit_ex(Structure):
    # ABI: kvm_run.ex (KVM_EXIT_EXCEPTION)
    _fields_ = [("exception", u32), ("error_code", u32)]


KVM_EXIT_IO_IN = 0
KVM_EXIT_IO_OUT = 1


class _exit_io(Structure):
    # ABI: kvm_run.io (KVM_EXIT_IO); data lives at (char *)run + data_offset
    _fields_ = [("direction", u8), ("size", u8), ("port", u16),
                ("count", u32), ("data_offset", u64)]


class kvm_debug_exit_arch(Structure):
    # ABI: struct kvm_debug_exit_arch (x86); pc is a LINEAR address
    _fields_ = [("exception", u32), ("pad", u32), ("pc", u64),
                ("dr6", u64), ("dr7", u64)]


class _exit_debug(Structure):
    # ABI: kvm_run.debug (KVM_EXIT_DEBUG)
    _fields_ = [("arch", kvm_debug_exit_arch)]


class _exit_mmio(Structure):
    # ABI: kvm_run.mmio (KVM_EXIT_MMIO)
    _fields_ = [("phys_addr", u64), ("data", u8 * 8), ("len", u32),
                ("is_write", u8)]


class _hypercall_u(Union):
    # ABI: kvm_run.hypercall's union { __u32 longmode; __u64 flags; }
    _fields_ = [("longmode", u32), ("flags", u64)]


class _exit_hypercall(Structure):
    # ABI: kvm_run.hypercall (KVM_EXIT_HYPERCALL)
    _anonymous_ = ("u",)
    _fields_ = [("nr", u64), ("args", u64 * 6), ("ret", u64),
                ("u", _hypercall_u)]


class _exit_internal(Structure):
    # ABI: kvm_run.internal (KVM_EXIT_INTERNAL_ERROR)
    _fields_ = [("suberror", u32), ("ndata", u32), ("data", u64 * 16)]


class _exit_emulation_failure(Structure):
    # ABI: kvm_run.emulation_failure, overlays internal when
    # suberror == KVM_INTERNAL_ERROR_EMULATION
    _fields_ = [("suberror", u32), ("ndata", u32), ("flags", u64),
                ("insn_size", u8), ("insn_bytes", u8 * 15)]


class _system_event_u(Union):
    # ABI: kvm_run.system_event's union { __u64 flags; __u64 data[16]; }
    _fields_ = [("flags", u64), ("data", u64 * 16)]


class _exit_system_event(Structure):
    # ABI: kvm_run.system_event (KVM_EXIT_SYSTEM_EVENT)
    _anonymous_ = ("u",)
    _fields_ = [("type", u32), ("ndata", u32), ("u", _system_event_u)]


class _exit_msr(Structure):
    # ABI: kvm_run.msr (KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR)
    _fields_ = [("error", u8), ("pad", u8 * 7), ("reason", u32),
                ("index", u32), ("data", u64)]


class _exit_memory_fault(Structure):
    # ABI: kvm_run.memory_fault (KVM_EXIT_MEMORY_FAULT)
    _fields_ = [("flags", u64), ("gpa", u64), ("size", u64)]


class _kvm_run_exit(Union):
    # ABI: struct kvm_run's anonymous exit union (256 bytes at offset 32)
    _fields_ = [("hw", _exit_hw), ("fail_entry", _exit_fail_entry),
                ("ex", _exit_ex), ("io", _exit_io), ("debug", _exit_debug),
                ("mmio", _exit_mmio), ("hypercall", _exit_hypercall),
                ("internal", _exit_internal),
                ("emulation_failure", _exit_emulation_failure),
                ("system_event", _exit_system_event), ("msr", _exit_msr),
                ("memory_fault", _exit_memory_fault),
                ("padding", c_char * 256)]


class kvm_sync_regs(Structure):
    # ABI: struct kvm_sync_regs (x86): regs, sregs, events
    _fields_ = [("regs", kvm_regs), ("sregs", kvm_sregs),
                ("events", kvm_vcpu_events)]


class _kvm_run_s(Union):
    # ABI: kvm_run.s: union { struct kvm_sync_regs regs; char padding[2048]; }
    _fields_ = [("regs", kvm_sync_regs), ("padding", c_char * 2048)]


class kvm_run(Structure):
    # ABI: struct kvm_run (x86, 2352 bytes); exit union @32, s @304
    _anonymous_ = ("exit",)
    _fields_ = [("request_interrupt_window", u8), ("immediate_exit", u8),
                ("padding1", u8 * 6),
                ("exit_reason", u32),
                ("ready_for_interrupt_injection", u8), ("if_flag", u8),
                ("flags", u16),
                ("cr8", u64), ("apic_base", u64),
                ("exit", _kvm_run_exit),
                ("kvm_valid_regs", u64), ("kvm_dirty_regs", u64),
                ("s", _kvm_run_s)]


KVM_RUN_X86_SMM = 1
KVM_RUN_X86_BUS_LOCK = 2
KVM_RUN_X86_GUEST_MODE = 4

# kvm_valid_regs / kvm_dirty_regs bits (KVM_CAP_SYNC_REGS)
KVM_SYNC_X86_REGS = 1
KVM_SYNC_X86_SREGS = 2
KVM_SYNC_X86_EVENTS = 4

# ---------------------------------------------------------------------------
# Exit reasons (reference §1.5): kvm_run.exit_reason
# ---------------------------------------------------------------------------

KVM_EXIT_UNKNOWN = 0
KVM_EXIT_EXCEPTION = 1
KVM_EXIT_IO = 2
KVM_EXIT_HYPERCALL = 3
KVM_EXIT_DEBUG = 4
KVM_EXIT_HLT = 5
KVM_EXIT_MMIO = 6
KVM_EXIT_IRQ_WINDOW_OPEN = 7
KVM_EXIT_SHUTDOWN = 8
KVM_EXIT_FAIL_ENTRY = 9
KVM_EXIT_INTR = 10
KVM_EXIT_SET_TPR = 11
KVM_EXIT_TPR_ACCESS = 12
KVM_EXIT_S390_SIEIC = 13
KVM_EXIT_S390_RESET = 14
KVM_EXIT_DCR = 15                  # deprecated
KVM_EXIT_NMI = 16
KVM_EXIT_INTERNAL_ERROR = 17
KVM_EXIT_OSI = 18
KVM_EXIT_PAPR_HCALL = 19
KVM_EXIT_S390_UCONTROL = 20
KVM_EXIT_WATCHDOG = 21
KVM_EXIT_S390_TSCH = 22
KVM_EXIT_EPR = 23
KVM_EXIT_SYSTEM_EVENT = 24
KVM_EXIT_S390_STSI = 25
KVM_EXIT_IOAPIC_EOI = 26
KVM_EXIT_HYPERV = 27
KVM_EXIT_ARM_NISV = 28
KVM_EXIT_X86_RDMSR = 29
KVM_EXIT_X86_WRMSR = 30
KVM_EXIT_DIRTY_RING_FULL = 31
KVM_EXIT_AP_RESET_HOLD = 32
KVM_EXIT_X86_BUS_LOCK = 33
KVM_EXIT_XEN = 34
KVM_EXIT_RISCV_SBI = 35
KVM_EXIT_RISCV_CSR = 36
KVM_EXIT_NOTIFY = 37
KVM_EXIT_LOONGARCH_IOCSR = 38
KVM_EXIT_MEMORY_FAULT = 39
KVM_EXIT_TDX = 40

#: exit number -> name without the KVM_EXIT_ prefix ("IO", "HLT", ...)
EXIT_NAMES = MappingProxyType({
    value: name[len("KVM_EXIT_"):] for name, value in dict(globals()).items()
    if name.startswith("KVM_EXIT_") and not name.startswith("KVM_EXIT_IO_")})

# kvm_run.internal.suberror
KVM_INTERNAL_ERROR_EMULATION = 1
KVM_INTERNAL_ERROR_SIMUL_EX = 2
KVM_INTERNAL_ERROR_DELIVERY_EV = 3
KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4
KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = 1

# kvm_run.system_event.type
KVM_SYSTEM_EVENT_SHUTDOWN = 1
KVM_SYSTEM_EVENT_RESET = 2
KVM_SYSTEM_EVENT_CRASH = 3
KVM_SYSTEM_EVENT_WAKEUP = 4
KVM_SYSTEM_EVENT_SUSPEND = 5
KVM_SYSTEM_EVENT_SEV_TERM = 6
KVM_SYSTEM_EVENT_TDX_FATAL = 7

# kvm_guest_debug.control (generic low bits, x86 high bits)
KVM_GUESTDBG_ENABLE = 0x00000001
KVM_GUESTDBG_SINGLESTEP = 0x00000002
KVM_GUESTDBG_USE_SW_BP = 0x00010000
KVM_GUESTDBG_USE_HW_BP = 0x00020000
KVM_GUESTDBG_INJECT_DB = 0x00040000
KVM_GUESTDBG_INJECT_BP = 0x00080000
KVM_GUESTDBG_BLOCKIRQ = 0x00100000

# ---------------------------------------------------------------------------
# Capabilities used by kasou (KVM_CHECK_EXTENSION arguments)
# ---------------------------------------------------------------------------

KVM_CAP_IRQCHIP = 0
KVM_CAP_HLT = 1
KVM_CAP_USER_MEMORY = 3
KVM_CAP_SET_TSS_ADDR = 4
KVM_CAP_EXT_CPUID = 7
KVM_CAP_NR_VCPUS = 9
KVM_CAP_NR_MEMSLOTS = 10
KVM_CAP_MP_STATE = 14
KVM_CAP_COALESCED_MMIO = 15
KVM_CAP_USER_NMI = 22
KVM_CAP_SET_GUEST_DEBUG = 23
KVM_CAP_IRQ_ROUTING = 25
KVM_CAP_IRQ_INJECT_STATUS = 26
KVM_CAP_IRQFD = 32
KVM_CAP_PIT2 = 33
KVM_CAP_IOEVENTFD = 36
KVM_CAP_SET_IDENTITY_MAP_ADDR = 37
KVM_CAP_INTERNAL_ERROR_DATA = 40
KVM_CAP_VCPU_EVENTS = 41
KVM_CAP_DEBUGREGS = 50
KVM_CAP_X86_ROBUST_SINGLESTEP = 51
KVM_CAP_ENABLE_CAP = 54
KVM_CAP_XSAVE = 55
KVM_CAP_XCRS = 56
KVM_CAP_MAX_VCPUS = 66
KVM_CAP_SYNC_REGS = 74
KVM_CAP_READONLY_MEM = 81
KVM_CAP_IRQFD_RESAMPLE = 82
KVM_CAP_CHECK_EXTENSION_VM = 105
KVM_CAP_GUEST_DEBUG_HW_BPS = 119
KVM_CAP_GUEST_DEBUG_HW_WPS = 120
KVM_CAP_IOEVENTFD_ANY_LENGTH = 122
KVM_CAP_IMMEDIATE_EXIT = 136
KVM_CAP_X86_USER_SPACE_MSR = 188
KVM_CAP_SET_GUEST_DEBUG2 = 195
KVM_CAP_SREGS2 = 200
KVM_CAP_EXIT_HYPERCALL = 201

# ---------------------------------------------------------------------------
# ioctl numbers (reference §1.1-§1.2)
#
# nr = (dir << 30) | (size << 16) | (KVMIO << 8) | cmd (asm-generic/ioctl.h).
# The size is sizeof() of the DECLARED argument type; for variable-length
# structs that is only the 8-byte header.
# ---------------------------------------------------------------------------

KVMIO = 0xAE
_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _IOC(direction, cmd, size):
    return (direction << 30) | (size << 16) | (KVMIO << 8) | cmd


def _IO(cmd):
    return _IOC(_IOC_NONE, cmd, 0)


def _IOW(cmd, ctype):
    return _IOC(_IOC_WRITE, cmd, ctypes.sizeof(ctype))


def _IOR(cmd, ctype):
    return _IOC(_IOC_READ, cmd, ctypes.sizeof(ctype))


def _IOWR(cmd, ctype):
    return _IOC(_IOC_READ | _IOC_WRITE, cmd, ctypes.sizeof(ctype))


class kvm_lapic_state(Structure):
    # ABI: struct kvm_lapic_state (1024 bytes), only sized for the ioctl table
    _fields_ = [("regs", c_char * 1024)]


class kvm_xsave(Structure):
    # ABI: struct kvm_xsave (4096 bytes), only sized for the ioctl table
    _fields_ = [("region", u32 * 1024)]


class kvm_xcrs(Structure):
    # ABI: struct kvm_xcrs (392 bytes), only sized for the ioctl table
    _fields_ = [("nr_xcrs", u32), ("flags", u32), ("xcrs", u64 * 32),
                ("padding", u64 * 16)]


class kvm_sregs2(Structure):
    # ABI: struct kvm_sregs2 (320 bytes): sregs with flags + pdptrs[4]
    _fields_ = [(name, kvm_segment) for name in
                ("cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt")] + [
        ("gdt", kvm_dtable), ("idt", kvm_dtable),
        ("cr0", u64), ("cr2", u64), ("cr3", u64), ("cr4", u64),
        ("cr8", u64), ("efer", u64), ("apic_base", u64),
        ("flags", u64), ("pdptrs", u64 * 4)]


class kvm_signal_mask(Structure):
    # ABI: struct kvm_signal_mask header (4 bytes)
    _fields_ = [("len", u32)]


class kvm_irqchip(Structure):
    # ABI: struct kvm_irqchip (520 bytes), only sized for the ioctl table
    _fields_ = [("chip_id", u32), ("pad", u32), ("chip", c_char * 512)]


class kvm_pit_config(Structure):
    # ABI: struct kvm_pit_config (64 bytes)
    _fields_ = [("flags", u32), ("pad", u32 * 15)]


class kvm_irq_routing(Structure):
    # ABI: struct kvm_irq_routing header (8 bytes)
    _fields_ = [("nr", u32), ("flags", u32)]


class kvm_msi(Structure):
    # ABI: struct kvm_msi (32 bytes)
    _fields_ = [("address_lo", u32), ("address_hi", u32), ("data", u32),
                ("flags", u32), ("devid", u32), ("pad", u8 * 12)]


# The table.  Columns: name = number   # fd level; capability that brings it
# -- system fd (/dev/kvm) -----------------------------------------------------
KVM_GET_API_VERSION = _IO(0x00)                       # sys; basic API
KVM_CREATE_VM = _IO(0x01)                             # sys; basic API
KVM_CHECK_EXTENSION = _IO(0x03)                       # sys (vm: CAP_CHECK_EXTENSION_VM)
KVM_GET_VCPU_MMAP_SIZE = _IO(0x04)                    # sys; basic API
KVM_GET_SUPPORTED_CPUID = _IOWR(0x05, kvm_cpuid2)     # sys; CAP_EXT_CPUID
# -- VM fd --------------------------------------------------------------------
KVM_CREATE_VCPU = _IO(0x41)                           # vm; basic API
KVM_SET_USER_MEMORY_REGION = _IOW(0x46, kvm_userspace_memory_region)  # vm; CAP_USER_MEMORY
KVM_SET_TSS_ADDR = _IO(0x47)                          # vm; CAP_SET_TSS_ADDR
KVM_SET_IDENTITY_MAP_ADDR = _IOW(0x48, u64)           # vm; CAP_SET_IDENTITY_MAP_ADDR
KVM_CREATE_IRQCHIP = _IO(0x60)                        # vm; CAP_IRQCHIP
KVM_IRQ_LINE = _IOW(0x61, kvm_irq_level)              # vm; CAP_IRQCHIP
KVM_GET_IRQCHIP = _IOWR(0x62, kvm_irqchip)            # vm; CAP_IRQCHIP
KVM_SET_IRQCHIP = _IOR(0x63, kvm_irqchip)             # vm; CAP_IRQCHIP (sic: _IOR)
KVM_SET_GSI_ROUTING = _IOW(0x6A, kvm_irq_routing)     # vm; CAP_IRQ_ROUTING
KVM_IRQFD = _IOW(0x76, kvm_irqfd)                     # vm; CAP_IRQFD
KVM_CREATE_PIT2 = _IOW(0x77, kvm_pit_config)          # vm; CAP_PIT2
KVM_IOEVENTFD = _IOW(0x79, kvm_ioeventfd)             # vm; CAP_IOEVENTFD
KVM_SIGNAL_MSI = _IOW(0xA5, kvm_msi)                  # vm; CAP_SIGNAL_MSI
KVM_ENABLE_CAP = _IOW(0xA3, kvm_enable_cap)           # vm (CAP_ENABLE_CAP_VM) / vcpu (CAP_ENABLE_CAP)
# -- vCPU fd ------------------------------------------------------------------
KVM_RUN = _IO(0x80)                                   # vcpu; basic API
KVM_GET_REGS = _IOR(0x81, kvm_regs)                   # vcpu; basic API
KVM_SET_REGS = _IOW(0x82, kvm_regs)                   # vcpu; basic API
KVM_GET_SREGS = _IOR(0x83, kvm_sregs)                 # vcpu; basic API
KVM_SET_SREGS = _IOW(0x84, kvm_sregs)                 # vcpu; basic API
KVM_TRANSLATE = _IOWR(0x85, kvm_translation)          # vcpu; basic API
KVM_INTERRUPT = _IOW(0x86, kvm_interrupt)             # vcpu; basic API (no in-kernel irqchip)
KVM_GET_MSRS = _IOWR(0x88, kvm_msrs)                  # vcpu; basic API
KVM_SET_MSRS = _IOW(0x89, kvm_msrs)                   # vcpu; basic API
KVM_SET_SIGNAL_MASK = _IOW(0x8B, kvm_signal_mask)     # vcpu; basic API
KVM_GET_FPU = _IOR(0x8C, kvm_fpu)                     # vcpu; basic API
KVM_SET_FPU = _IOW(0x8D, kvm_fpu)                     # vcpu; basic API
KVM_GET_LAPIC = _IOR(0x8E, kvm_lapic_state)           # vcpu; CAP_IRQCHIP
KVM_SET_LAPIC = _IOW(0x8F, kvm_lapic_state)           # vcpu; CAP_IRQCHIP
KVM_SET_CPUID2 = _IOW(0x90, kvm_cpuid2)               # vcpu; CAP_EXT_CPUID
KVM_GET_CPUID2 = _IOWR(0x91, kvm_cpuid2)              # vcpu; CAP_EXT_CPUID
KVM_GET_MP_STATE = _IOR(0x98, kvm_mp_state)           # vcpu; CAP_MP_STATE
KVM_SET_MP_STATE = _IOW(0x99, kvm_mp_state)           # vcpu; CAP_MP_STATE
KVM_NMI = _IO(0x9A)                                   # vcpu; CAP_USER_NMI
KVM_SET_GUEST_DEBUG = _IOW(0x9B, kvm_guest_debug)     # vcpu; CAP_SET_GUEST_DEBUG
KVM_GET_VCPU_EVENTS = _IOR(0x9F, kvm_vcpu_events)     # vcpu; CAP_VCPU_EVENTS
KVM_SET_VCPU_EVENTS = _IOW(0xA0, kvm_vcpu_events)     # vcpu; CAP_VCPU_EVENTS
KVM_GET_DEBUGREGS = _IOR(0xA1, kvm_debugregs)         # vcpu; CAP_DEBUGREGS
KVM_SET_DEBUGREGS = _IOW(0xA2, kvm_debugregs)         # vcpu; CAP_DEBUGREGS
KVM_GET_XSAVE = _IOR(0xA4, kvm_xsave)                 # vcpu; CAP_XSAVE
KVM_SET_XSAVE = _IOW(0xA5, kvm_xsave)                 # vcpu; CAP_XSAVE
KVM_GET_XCRS = _IOR(0xA6, kvm_xcrs)                   # vcpu; CAP_XCRS
KVM_SET_XCRS = _IOW(0xA7, kvm_xcrs)                   # vcpu; CAP_XCRS
KVM_GET_SREGS2 = _IOR(0xCC, kvm_sregs2)               # vcpu; CAP_SREGS2
KVM_SET_SREGS2 = _IOW(0xCD, kvm_sregs2)               # vcpu; CAP_SREGS2


def _is_ioctl(name, value):
    return (name.startswith("KVM_") and isinstance(value, int)
            and value >= (KVMIO << 8) and (value >> 8) & 0xFF == KVMIO)


#: ioctl number -> kernel name, for error messages
IOCTL_NAMES = MappingProxyType({
    value: name for name, value in dict(globals()).items()
    if _is_ioctl(name, value)})

#: the usual guest-physical address of the 3-page TSS region (§1.6)
DEFAULT_TSS_ADDR = 0xFFFBD000

# ---------------------------------------------------------------------------
# x86 architectural bits the state checker needs (SDM Vol. 3A §2.5, §2.2.1)
# ---------------------------------------------------------------------------

X86_CR0_PE = 1 << 0
X86_CR0_MP = 1 << 1
X86_CR0_EM = 1 << 2
X86_CR0_TS = 1 << 3
X86_CR0_ET = 1 << 4
X86_CR0_NE = 1 << 5
X86_CR0_WP = 1 << 16
X86_CR0_AM = 1 << 18
X86_CR0_NW = 1 << 29
X86_CR0_CD = 1 << 30
X86_CR0_PG = 1 << 31

X86_CR4_PSE = 1 << 4
X86_CR4_PAE = 1 << 5
X86_CR4_PGE = 1 << 7
X86_CR4_OSFXSR = 1 << 9
X86_CR4_OSXMMEXCPT = 1 << 10
X86_CR4_LA57 = 1 << 12
X86_CR4_VMXE = 1 << 13
X86_CR4_PCIDE = 1 << 17
X86_CR4_OSXSAVE = 1 << 18

EFER_SCE = 1 << 0
EFER_LME = 1 << 8
EFER_LMA = 1 << 10
EFER_NX = 1 << 11

MSR_IA32_SYSENTER_CS = 0x174
MSR_IA32_SYSENTER_ESP = 0x175
MSR_IA32_SYSENTER_EIP = 0x176
MSR_EFER = 0xC0000080
MSR_STAR = 0xC0000081
MSR_LSTAR = 0xC0000082
MSR_KERNEL_GS_BASE = 0xC0000102
