"""``Kvm``: the system file descriptor (``/dev/kvm``).

What is modelled: the system-level ioctls of the KVM API
(``Documentation/virt/kvm/api.rst`` §4.1-§4.6, §4.46; reference
``kvm_qmp_gdb.md`` §1.1-§1.2, §1.6): the API version check, capability
queries, the vCPU mmap size, the supported CPUID, and VM creation, the first
steps of QEMU's ``kvm_init()``.

The device path is ``/dev/kvm`` unless the constructor gets another, or the
environment variable ``KASOU_KVM_DEV`` names one (for tests).  Nothing is
opened until a ``Kvm`` is constructed: importing the package touches no
device.
"""

import errno
import os

from . import uapi
from .errors import KvmError, api_version_advice, ioctl, open_advice

DEFAULT_PATH = "/dev/kvm"
ENV_PATH = "KASOU_KVM_DEV"
API_VERSION = 12


def device_path(path=None):
    """The device node to open: ``path``, ``$KASOU_KVM_DEV`` or /dev/kvm."""
    return path or os.environ.get(ENV_PATH) or DEFAULT_PATH


class Kvm:
    """The KVM system file descriptor.  Use as a context manager."""

    def __init__(self, path=None):
        self.path = device_path(path)
        self._fd = -1
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise KvmError(f"open({self.path})", exc.errno,
                           open_advice(self.path, exc.errno)) from None
        try:
            version = self.api_version()
            if version != API_VERSION:
                raise KvmError("KVM_GET_API_VERSION", 0,
                               api_version_advice(version))
        except KvmError:
            self.close()
            raise

    # -- life cycle -----------------------------------------------------------

    def fileno(self):
        if self._fd < 0:
            raise ValueError("Kvm is closed")
        return self._fd

    @property
    def closed(self):
        return self._fd < 0

    def close(self):
        """Close the system fd.  VMs already created stay usable."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"fd={self._fd}"
        return f"<Kvm {self.path} {state}>"

    # -- queries --------------------------------------------------------------

    def api_version(self):
        """KVM_GET_API_VERSION: 12 on every kernel since 2.6.22."""
        # ABI: KVM_GET_API_VERSION takes no argument, returns the version
        return ioctl(self.fileno(), uapi.KVM_GET_API_VERSION, 0,
                     advise=self._not_kvm_advice)

    def check_extension(self, cap):
        """KVM_CHECK_EXTENSION(cap): 0 if absent, else a cap-specific int."""
        # ABI: KVM_CHECK_EXTENSION takes the capability number by value
        return ioctl(self.fileno(), uapi.KVM_CHECK_EXTENSION, cap)

    def vcpu_mmap_size(self):
        """KVM_GET_VCPU_MMAP_SIZE: bytes to mmap from each vCPU fd."""
        # ABI: KVM_GET_VCPU_MMAP_SIZE takes no argument, returns bytes
        return ioctl(self.fileno(), uapi.KVM_GET_VCPU_MMAP_SIZE, 0)

    def get_supported_cpuid(self, max_entries=256):
        """KVM_GET_SUPPORTED_CPUID: a list of ``kvm_cpuid_entry2`` copies.

        The list can be edited and passed to ``Vcpu.set_cpuid2()``.
        """
        buf = uapi.cpuid2_type(max_entries)()
        # ABI: kvm_cpuid2.nent is the capacity in, the count out
        buf.nent = max_entries

        def advise(err):
            if err == errno.E2BIG:
                return (f"more than {max_entries} entries; "
                        "pass a larger max_entries")
            return None
        # ABI: KVM_GET_SUPPORTED_CPUID takes struct kvm_cpuid2 * (in/out)
        ioctl(self.fileno(), uapi.KVM_GET_SUPPORTED_CPUID, buf, advise=advise)
        return [_copy(entry) for entry in buf.entries[:buf.nent]]

    # -- VM creation ----------------------------------------------------------

    def create_vm(self, machine_type=0):
        """KVM_CREATE_VM (retried on EINTR, as QEMU does): a ``Vm``."""
        from .vm import Vm
        while True:
            try:
                # ABI: KVM_CREATE_VM takes the machine type by value and
                # returns the VM fd
                fd = ioctl(self.fileno(), uapi.KVM_CREATE_VM, machine_type)
            except KvmError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            return Vm(fd, self.vcpu_mmap_size(), self.path)

    def _not_kvm_advice(self, err):
        if err == errno.ENOTTY:
            return f"{self.path} is not a KVM device"
        return None


def _copy(struct):
    """A detached copy of a ctypes struct (not sharing the source buffer)."""
    return type(struct).from_buffer_copy(struct)


__all__ = ["Kvm", "device_path", "DEFAULT_PATH", "ENV_PATH", "API_VERSION"]

