"""kvm.uapi against the numbers in shared/reference/kvm_qmp_gdb.md §1.2-§1.5.

These checks need no /dev/kvm: they compare the ctypes mirrors with the
sizes, offsets and ioctl numbers that the reference verified against the C
headers, so a typo in uapi.py fails here rather than in a guest.
"""

import ast
import ctypes
import pathlib

import pytest

from kvm import uapi

KVM_DIR = pathlib.Path(uapi.__file__).parent

# §1.3 / §1.4: struct sizes in bytes
SIZES = {
    "kvm_userspace_memory_region": 32,
    "kvm_regs": 144,
    "kvm_segment": 24,
    "kvm_dtable": 16,
    "kvm_sregs": 312,
    "kvm_sregs2": 320,
    "kvm_fpu": 416,
    "kvm_guest_debug": 72,
    "kvm_cpuid2": 8,
    "kvm_cpuid_entry2": 40,
    "kvm_msrs": 8,
    "kvm_msr_entry": 16,
    "kvm_irq_level": 8,
    "kvm_interrupt": 4,
    "kvm_ioeventfd": 64,
    "kvm_irqfd": 32,
    "kvm_vcpu_events": 64,
    "kvm_translation": 24,
    "kvm_debugregs": 128,
    "kvm_enable_cap": 104,
    "kvm_mp_state": 4,
    "kvm_debug_exit_arch": 32,
    "kvm_run": 2352,
    "kvm_xsave": 4096,
    "kvm_irqchip": 520,
}


@pytest.mark.parametrize("name,size", sorted(SIZES.items()))
def test_struct_size(name, size):
    assert ctypes.sizeof(getattr(uapi, name)) == size


def offset(struct, path):
    """Offset of a dotted field path inside a ctypes struct type."""
    total = 0
    for part in path.split("."):
        field = getattr(struct, part)
        total += field.offset
        struct = _field_type(struct, part)
    return total


def _field_type(struct, name):
    for entry in struct._fields_:
        if entry[0] == name:
            return entry[1]
    for anon in getattr(struct, "_anonymous_", ()):
        found = _field_type(_field_type(struct, anon), name)
        if found is not None:
            return found
    return None


# §1.3 / §1.4: key offsets (absolute within the named struct)
OFFSETS = [
    ("kvm_userspace_memory_region", "guest_phys_addr", 8),
    ("kvm_userspace_memory_region", "memory_size", 16),
    ("kvm_userspace_memory_region", "userspace_addr", 24),
    ("kvm_regs", "rip", 128),
    ("kvm_regs", "rflags", 136),
    ("kvm_segment", "limit", 8),
    ("kvm_segment", "selector", 12),
    ("kvm_segment", "type", 14),
    ("kvm_segment", "unusable", 22),
    ("kvm_sregs", "ds", 24),
    ("kvm_sregs", "ss", 120),
    ("kvm_sregs", "tr", 144),
    ("kvm_sregs", "ldt", 168),
    ("kvm_sregs", "gdt", 192),
    ("kvm_sregs", "idt", 208),
    ("kvm_sregs", "cr0", 224),
    ("kvm_sregs", "cr2", 232),
    ("kvm_sregs", "cr3", 240),
    ("kvm_sregs", "cr4", 248),
    ("kvm_sregs", "cr8", 256),
    ("kvm_sregs", "efer", 264),
    ("kvm_sregs", "apic_base", 272),
    ("kvm_sregs", "interrupt_bitmap", 280),
    ("kvm_fpu", "fcw", 128),
    ("kvm_fpu", "last_ip", 136),
    ("kvm_fpu", "xmm", 152),
    ("kvm_fpu", "mxcsr", 408),
    ("kvm_guest_debug", "arch", 8),
    ("kvm_vcpu_events", "interrupt", 8),
    ("kvm_vcpu_events", "nmi", 12),
    ("kvm_vcpu_events", "sipi_vector", 16),
    ("kvm_vcpu_events", "flags", 20),
    ("kvm_vcpu_events", "smi", 24),
    ("kvm_vcpu_events", "triple_fault", 28),
    ("kvm_vcpu_events", "exception_has_payload", 55),
    ("kvm_vcpu_events", "exception_payload", 56),
    ("kvm_ioeventfd", "len", 16),
    ("kvm_ioeventfd", "fd", 20),
    ("kvm_ioeventfd", "flags", 24),
    ("kvm_irqfd", "resamplefd", 12),
    ("kvm_translation", "valid", 16),
    ("kvm_debugregs", "dr6", 32),
    ("kvm_debugregs", "dr7", 40),
    ("kvm_irq_level", "level", 4),
    # struct kvm_run
    ("kvm_run", "immediate_exit", 1),
    ("kvm_run", "exit_reason", 8),
    ("kvm_run", "ready_for_interrupt_injection", 12),
    ("kvm_run", "if_flag", 13),
    ("kvm_run", "flags", 14),
    ("kvm_run", "cr8", 16),
    ("kvm_run", "apic_base", 24),
    ("kvm_run", "exit", 32),
    ("kvm_run", "kvm_valid_regs", 288),
    ("kvm_run", "kvm_dirty_regs", 296),
    ("kvm_run", "s", 304),
    ("kvm_run", "io.direction", 32),
    ("kvm_run", "io.size", 33),
    ("kvm_run", "io.port", 34),
    ("kvm_run", "io.count", 36),
    ("kvm_run", "io.data_offset", 40),
    ("kvm_run", "mmio.phys_addr", 32),
    ("kvm_run", "mmio.data", 40),
    ("kvm_run", "mmio.len", 48),
    ("kvm_run", "mmio.is_write", 52),
    ("kvm_run", "fail_entry.hardware_entry_failure_reason", 32),
    ("kvm_run", "fail_entry.cpu", 40),
    ("kvm_run", "debug.arch.exception", 32),
    ("kvm_run", "debug.arch.pc", 40),
    ("kvm_run", "debug.arch.dr6", 48),
    ("kvm_run", "debug.arch.dr7", 56),
    ("kvm_run", "internal.suberror", 32),
    ("kvm_run", "internal.ndata", 36),
    ("kvm_run", "internal.data", 40),
    ("kvm_run", "emulation_failure.flags", 40),
    ("kvm_run", "emulation_failure.insn_size", 48),
    ("kvm_run", "emulation_failure.insn_bytes", 49),
    ("kvm_run", "system_event.type", 32),
    ("kvm_run", "system_event.ndata", 36),
    ("kvm_run", "system_event.data", 40),
    ("kvm_run", "system_event.flags", 40),
    ("kvm_run", "msr.reason", 40),
    ("kvm_run", "msr.index", 44),
    ("kvm_run", "msr.data", 48),
    ("kvm_run", "memory_fault.gpa", 40),
    ("kvm_run", "memory_fault.size", 48),
    ("kvm_run", "hypercall.ret", 88),
    ("kvm_run", "hypercall.longmode", 96),
]


@pytest.mark.parametrize("struct,path,expected", OFFSETS,
                         ids=[f"{s}.{p}" for s, p, _ in OFFSETS])
def test_field_offset(struct, path, expected):
    assert offset(getattr(uapi, struct), path) == expected


def test_sync_regs_layout():
    # kvm_sync_regs = { kvm_regs; kvm_sregs; kvm_vcpu_events } inside s
    assert ctypes.sizeof(uapi.kvm_sync_regs) == 144 + 312 + 64
    assert ctypes.sizeof(uapi._kvm_run_s) == 2048
    assert ctypes.sizeof(uapi._kvm_run_exit) == 256


def test_variable_length_helpers():
    cpuid = uapi.cpuid2_type(3)
    msrs = uapi.msrs_type(2)
    assert ctypes.sizeof(cpuid) == 8 + 3 * 40
    assert cpuid.entries.offset == 8
    assert ctypes.sizeof(msrs) == 8 + 2 * 16


# §1.2: every ioctl number of the reference table
IOCTLS = {
    "KVM_GET_API_VERSION": 0xAE00,
    "KVM_CREATE_VM": 0xAE01,
    "KVM_CHECK_EXTENSION": 0xAE03,
    "KVM_GET_VCPU_MMAP_SIZE": 0xAE04,
    "KVM_GET_SUPPORTED_CPUID": 0xC008AE05,
    "KVM_CREATE_VCPU": 0xAE41,
    "KVM_SET_USER_MEMORY_REGION": 0x4020AE46,
    "KVM_SET_TSS_ADDR": 0xAE47,
    "KVM_SET_IDENTITY_MAP_ADDR": 0x4008AE48,
    "KVM_CREATE_IRQCHIP": 0xAE60,
    "KVM_IRQ_LINE": 0x4008AE61,
    "KVM_IRQFD": 0x4020AE76,
    "KVM_IOEVENTFD": 0x4040AE79,
    "KVM_RUN": 0xAE80,
    "KVM_GET_REGS": 0x8090AE81,
    "KVM_SET_REGS": 0x4090AE82,
    "KVM_GET_SREGS": 0x8138AE83,
    "KVM_SET_SREGS": 0x4138AE84,
    "KVM_TRANSLATE": 0xC018AE85,
    "KVM_INTERRUPT": 0x4004AE86,
    "KVM_GET_MSRS": 0xC008AE88,
    "KVM_SET_MSRS": 0x4008AE89,
    "KVM_GET_FPU": 0x81A0AE8C,
    "KVM_SET_FPU": 0x41A0AE8D,
    "KVM_GET_LAPIC": 0x8400AE8E,
    "KVM_SET_LAPIC": 0x4400AE8F,
    "KVM_SET_CPUID2": 0x4008AE90,
    "KVM_GET_CPUID2": 0xC008AE91,
    "KVM_GET_MP_STATE": 0x8004AE98,
    "KVM_SET_MP_STATE": 0x4004AE99,
    "KVM_NMI": 0xAE9A,
    "KVM_SET_GUEST_DEBUG": 0x4048AE9B,
    "KVM_GET_VCPU_EVENTS": 0x8040AE9F,
    "KVM_SET_VCPU_EVENTS": 0x4040AEA0,
    "KVM_GET_DEBUGREGS": 0x8080AEA1,
    "KVM_SET_DEBUGREGS": 0x4080AEA2,
    "KVM_ENABLE_CAP": 0x4068AEA3,
    "KVM_GET_XSAVE": 0x9000AEA4,
    "KVM_SET_XSAVE": 0x5000AEA5,
    "KVM_GET_XCRS": 0x8188AEA6,
    "KVM_SET_XCRS": 0x4188AEA7,
    "KVM_GET_SREGS2": 0x8140AECC,
    "KVM_SET_SREGS2": 0x4140AECD,
    "KVM_SET_SIGNAL_MASK": 0x4004AE8B,
    "KVM_GET_IRQCHIP": 0xC208AE62,
    "KVM_SET_IRQCHIP": 0x8208AE63,
    "KVM_CREATE_PIT2": 0x4040AE77,
    "KVM_SET_GSI_ROUTING": 0x4008AE6A,
    "KVM_SIGNAL_MSI": 0x4020AEA5,
}


@pytest.mark.parametrize("name,number", sorted(IOCTLS.items()))
def test_ioctl_number(name, number):
    assert getattr(uapi, name) == number
    assert uapi.IOCTL_NAMES[number] == name


def test_ioctl_name_table_has_no_strays():
    # every number the reverse table knows is in the reference table
    assert set(uapi.IOCTL_NAMES.values()) == set(IOCTLS)


def test_ioc_formula():
    # _IOWR(KVMIO, 0x05, 8 bytes): dir 3, size 8, type 0xAE, nr 5
    assert uapi._IOC(3, 0x05, 8) == (3 << 30) | (8 << 16) | (0xAE << 8) | 5
    assert uapi._IO(0x80) == 0xAE80


# §1.5: all exit reasons 0..40
EXIT_REASONS = (
    "UNKNOWN EXCEPTION IO HYPERCALL DEBUG HLT MMIO IRQ_WINDOW_OPEN SHUTDOWN "
    "FAIL_ENTRY INTR SET_TPR TPR_ACCESS S390_SIEIC S390_RESET DCR NMI "
    "INTERNAL_ERROR OSI PAPR_HCALL S390_UCONTROL WATCHDOG S390_TSCH EPR "
    "SYSTEM_EVENT S390_STSI IOAPIC_EOI HYPERV ARM_NISV X86_RDMSR X86_WRMSR "
    "DIRTY_RING_FULL AP_RESET_HOLD X86_BUS_LOCK XEN RISCV_SBI RISCV_CSR "
    "NOTIFY LOONGARCH_IOCSR MEMORY_FAULT TDX").split()


def test_exit_reason_numbers():
    assert len(EXIT_REASONS) == 41
    for number, name in enumerate(EXIT_REASONS):
        assert getattr(uapi, "KVM_EXIT_" + name) == number
        assert uapi.EXIT_NAMES[number] == name
    assert len(uapi.EXIT_NAMES) == 41


def test_constants_from_reference():
    assert uapi.KVM_GUESTDBG_ENABLE == 1
    assert uapi.KVM_GUESTDBG_SINGLESTEP == 2
    assert uapi.KVM_GUESTDBG_USE_SW_BP == 0x10000
    assert uapi.KVM_GUESTDBG_USE_HW_BP == 0x20000
    assert uapi.KVM_GUESTDBG_INJECT_DB == 0x40000
    assert uapi.KVM_GUESTDBG_INJECT_BP == 0x80000
    assert uapi.KVM_GUESTDBG_BLOCKIRQ == 0x100000
    assert (uapi.KVM_INTERNAL_ERROR_EMULATION,
            uapi.KVM_INTERNAL_ERROR_SIMUL_EX,
            uapi.KVM_INTERNAL_ERROR_DELIVERY_EV,
            uapi.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON) == (1, 2, 3, 4)
    assert [uapi.KVM_SYSTEM_EVENT_SHUTDOWN, uapi.KVM_SYSTEM_EVENT_RESET,
            uapi.KVM_SYSTEM_EVENT_CRASH, uapi.KVM_SYSTEM_EVENT_WAKEUP,
            uapi.KVM_SYSTEM_EVENT_SUSPEND, uapi.KVM_SYSTEM_EVENT_SEV_TERM,
            uapi.KVM_SYSTEM_EVENT_TDX_FATAL] == [1, 2, 3, 4, 5, 6, 7]
    assert uapi.KVM_CAP_SET_GUEST_DEBUG2 == 195
    assert (uapi.KVM_SYNC_X86_REGS, uapi.KVM_SYNC_X86_SREGS,
            uapi.KVM_SYNC_X86_EVENTS) == (1, 2, 4)
    assert (uapi.KVM_IOEVENTFD_FLAG_DATAMATCH, uapi.KVM_IOEVENTFD_FLAG_PIO,
            uapi.KVM_IOEVENTFD_FLAG_DEASSIGN) == (1, 2, 4)
    assert (uapi.KVM_IRQFD_FLAG_DEASSIGN,
            uapi.KVM_IRQFD_FLAG_RESAMPLE) == (1, 2)
    assert (uapi.KVM_MEM_LOG_DIRTY_PAGES, uapi.KVM_MEM_READONLY) == (1, 2)


# -- style checks as tests ----------------------------------------------------

def _abi_sites(path):
    """Lines of ``path`` that call ioctl(), mmap or ctypes from_buffer."""
    tree = ast.parse(path.read_text())
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = getattr(func, "attr", None) or getattr(func, "id", None)
            if name in ("ioctl", "mmap", "from_buffer"):
                sites.append(node.lineno)
    return sites


@pytest.mark.parametrize("module", ["system.py", "vm.py", "vcpu.py"])
def test_every_abi_site_has_an_abi_comment(module):
    path = KVM_DIR / module
    lines = path.read_text().splitlines()
    missing = []
    for lineno in _abi_sites(path):
        window = lines[max(0, lineno - 4):lineno]
        if not any("# ABI:" in line for line in window):
            missing.append(f"{module}:{lineno}: {lines[lineno - 1].strip()}")
    assert not missing, "ioctl/mmap/ctypes sites without '# ABI:':\n" + \
        "\n".join(missing)


@pytest.mark.parametrize("module", ["system.py", "vm.py", "vcpu.py",
                                    "exits.py", "errors.py", "__init__.py"])
def test_kernel_constants_only_via_uapi(module):
    """Kernel names are spelled in uapi.py; elsewhere only as uapi.X."""
    tree = ast.parse((KVM_DIR / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id.startswith("KVM_"):
            pytest.fail(f"{module}: bare kernel name {node.id}")
        if isinstance(node, ast.ImportFrom) and node.module == "uapi":
            pytest.fail(f"{module}: 'from .uapi import' hides the uapi prefix")
