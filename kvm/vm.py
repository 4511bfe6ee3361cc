"""``Vm``: a VM file descriptor (returned by KVM_CREATE_VM).

What is modelled: the VM-level ioctls of the KVM API
(``Documentation/virt/kvm/api.rst`` §4.7 KVM_CREATE_VCPU, §4.35
KVM_SET_USER_MEMORY_REGION, §4.36 KVM_SET_TSS_ADDR, §4.40
KVM_SET_IDENTITY_MAP_ADDR, §4.24/§4.25 irqchip, §4.59 KVM_IOEVENTFD,
§4.75 KVM_IRQFD; reference ``kvm_qmp_gdb.md`` §1.1, §1.6).

Guest RAM: ``map_memory()`` takes any writable Python buffer (an anonymous
``mmap``, a numpy array over one, a ``bytearray``), finds its host address
with ``ctypes.addressof(c_char.from_buffer(buf))`` and keeps that ctypes
export alive while the slot exists.  While it lives the buffer cannot be
closed or resized, which is the point: KVM keeps using the host address, and
an mmap closed underneath it would turn guest accesses into EFAULT from
KVM_RUN.  ``unmap_memory()`` / ``close()`` release it.

A ``Vm`` owns the vCPUs it created: ``close()`` closes them first.
"""

import ctypes
import errno
import os

from . import uapi
from .errors import ioctl
from .vcpu import Vcpu


def pin_buffer(buffer):
    """Return ``(host_address, pin)`` for a writable buffer.

    ``pin`` is a ctypes object exporting the buffer; while it is referenced
    the buffer cannot be closed or resized, so the address stays valid.
    Drop the reference to release it.
    """
    # ABI: userspace_addr must be the host virtual address of the bytes;
    # from_buffer takes a buffer export (writable, contiguous required).
    pin = (ctypes.c_char * len(memoryview(buffer).cast("B"))).from_buffer(
        buffer)
    return ctypes.addressof(pin), pin


class Vm:
    """A KVM virtual machine.  Created by ``Kvm.create_vm()``."""

    def __init__(self, fd, vcpu_mmap_size, device_path="/dev/kvm"):
        self._fd = fd
        self._vcpu_mmap_size = vcpu_mmap_size
        self.device_path = device_path
        self._slots = {}       # slot -> (guest_phys, size, host_addr, flags)
        self._pins = {}        # slot -> ctypes export keeping the buffer open
        self._vcpus = []

    # -- life cycle -----------------------------------------------------------

    def fileno(self):
        if self._fd < 0:
            raise ValueError("Vm is closed")
        return self._fd

    @property
    def closed(self):
        return self._fd < 0

    def close(self):
        """Close the vCPUs, the VM fd, then release pinned guest memory."""
        for vcpu in self._vcpus:
            vcpu.close()
        self._vcpus.clear()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._pins.clear()
        self._slots.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_fd", -1) >= 0:
            self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"fd={self._fd}"
        return f"<Vm {state} slots={sorted(self._slots)}>"

    # -- capabilities ---------------------------------------------------------

    def check_extension(self, cap):
        """KVM_CHECK_EXTENSION on the VM fd (KVM_CAP_CHECK_EXTENSION_VM)."""
        # ABI: KVM_CHECK_EXTENSION takes the capability number by value
        return ioctl(self.fileno(), uapi.KVM_CHECK_EXTENSION, cap)

    def enable_cap(self, cap, *args, flags=0):
        """KVM_ENABLE_CAP on the VM fd with up to four u64 arguments."""
        arg = uapi.kvm_enable_cap(cap=cap, flags=flags)
        for i, value in enumerate(args):
            arg.args[i] = value
        # ABI: KVM_ENABLE_CAP takes struct kvm_enable_cap *
        ioctl(self.fileno(), uapi.KVM_ENABLE_CAP, arg)

    # -- memory ---------------------------------------------------------------

    def set_user_memory_region(self, slot, guest_phys, size, host_addr,
                               flags=0):
        """KVM_SET_USER_MEMORY_REGION with a raw host address.

        ``size`` 0 deletes the slot.  ``flags``: ``uapi.KVM_MEM_READONLY``
        (writes become MMIO exits), ``uapi.KVM_MEM_LOG_DIRTY_PAGES``.
        The caller keeps ``host_addr`` mapped; prefer ``map_memory()``.
        """
        region = uapi.kvm_userspace_memory_region(
            slot=slot, flags=flags, guest_phys_addr=guest_phys,
            memory_size=size, userspace_addr=host_addr)

        def advise(err):
            if err == errno.EEXIST:
                return (f"slot {slot} at {guest_phys:#x}+{size:#x} overlaps "
                        "another memory slot")
            if err == errno.EINVAL:
                return ("guest_phys, size and host address must be "
                        "page-aligned and the slot id in range")
            return None
        # ABI: KVM_SET_USER_MEMORY_REGION takes
        # struct kvm_userspace_memory_region *
        ioctl(self.fileno(), uapi.KVM_SET_USER_MEMORY_REGION, region,
              advise=advise)
        if size:
            self._slots[slot] = (guest_phys, size, host_addr, flags)
        else:
            self._slots.pop(slot, None)

    def map_memory(self, slot, guest_phys, buffer, flags=0):
        """Register a whole writable buffer as guest RAM; return its address.

        The buffer stays pinned (cannot be closed) until ``unmap_memory()``
        or ``close()``.
        """
        address, pin = pin_buffer(buffer)
        self.set_user_memory_region(slot, guest_phys, len(pin), address,
                                    flags)
        self._pins[slot] = pin
        return address

    def unmap_memory(self, slot):
        """Delete a slot (size 0) and release the buffer it pinned."""
        guest_phys, _, _, flags = self._slots[slot]
        self.set_user_memory_region(slot, guest_phys, 0, 0, flags)
        self._pins.pop(slot, None)

    def memory_slots(self):
        """``{slot: (guest_phys, size, host_addr, flags)}`` (a copy)."""
        return dict(self._slots)

    # -- x86 set-up -----------------------------------------------------------

    def set_tss_addr(self, addr=uapi.DEFAULT_TSS_ADDR):
        """KVM_SET_TSS_ADDR: a 3-page guest-physical hole below 4 GiB."""
        # ABI: KVM_SET_TSS_ADDR takes an unsigned long BY VALUE (c_ulong:
        # 0xfffbd000 does not fit fcntl.ioctl's signed int)
        ioctl(self.fileno(), uapi.KVM_SET_TSS_ADDR, addr)

    def set_identity_map_addr(self, addr):
        """KVM_SET_IDENTITY_MAP_ADDR: one page below 4 GiB; before any vCPU."""
        value = ctypes.c_uint64(addr)

        def advise(err):
            if err in (errno.EINVAL, errno.EEXIST) and self._vcpus:
                return "it must be called before the first create_vcpu()"
            return None
        # ABI: KVM_SET_IDENTITY_MAP_ADDR takes a POINTER to __u64
        ioctl(self.fileno(), uapi.KVM_SET_IDENTITY_MAP_ADDR, value,
              advise=advise)

    # -- interrupts -----------------------------------------------------------

    def create_irqchip(self):
        """KVM_CREATE_IRQCHIP: in-kernel PIC pair + IOAPIC (+ LAPIC per vCPU).

        Call before ``create_vcpu()``.  Afterwards guest HLT stays in the
        kernel (no Hlt exits) and ``Vcpu.interrupt()`` fails with ENXIO.
        """
        def advise(err):
            if err in (errno.EINVAL, errno.EEXIST):
                return ("an irqchip already exists, or vCPUs were created "
                        "first; call create_irqchip() before create_vcpu()")
            return None
        # ABI: KVM_CREATE_IRQCHIP takes no argument
        ioctl(self.fileno(), uapi.KVM_CREATE_IRQCHIP, 0, advise=advise)

    def create_pit2(self, flags=0):
        """KVM_CREATE_PIT2: an in-kernel 8254 timer (needs the irqchip)."""
        config = uapi.kvm_pit_config(flags=flags)
        # ABI: KVM_CREATE_PIT2 takes struct kvm_pit_config *
        ioctl(self.fileno(), uapi.KVM_CREATE_PIT2, config)

    def irq_line(self, irq, level):
        """KVM_IRQ_LINE: set GSI ``irq`` to ``level`` (1 = asserted)."""
        arg = uapi.kvm_irq_level(level=1 if level else 0)
        arg.irq = irq
        # ABI: KVM_IRQ_LINE takes struct kvm_irq_level *
        ioctl(self.fileno(), uapi.KVM_IRQ_LINE, arg, advise=_needs_irqchip)

    def register_irqfd(self, fd, gsi, resample_fd=None):
        """KVM_IRQFD: writing eventfd ``fd`` raises GSI ``gsi``."""
        arg = uapi.kvm_irqfd(fd=fd, gsi=gsi)
        if resample_fd is not None:
            arg.flags = uapi.KVM_IRQFD_FLAG_RESAMPLE
            arg.resamplefd = resample_fd
        # ABI: KVM_IRQFD takes struct kvm_irqfd *
        ioctl(self.fileno(), uapi.KVM_IRQFD, arg, advise=_needs_irqchip)

    def unregister_irqfd(self, fd, gsi):
        """KVM_IRQFD with DEASSIGN."""
        arg = uapi.kvm_irqfd(fd=fd, gsi=gsi,
                             flags=uapi.KVM_IRQFD_FLAG_DEASSIGN)
        # ABI: KVM_IRQFD takes struct kvm_irqfd *
        ioctl(self.fileno(), uapi.KVM_IRQFD, arg)

    def register_ioeventfd(self, fd, addr, length, pio=False,
                           datamatch=None):
        """KVM_IOEVENTFD: a guest write of ``length`` bytes at ``addr``
        (a port if ``pio``) signals eventfd ``fd`` instead of exiting."""
        # ABI: KVM_IOEVENTFD takes struct kvm_ioeventfd *
        ioctl(self.fileno(), uapi.KVM_IOEVENTFD,
              _ioeventfd(fd, addr, length, pio, datamatch, 0))

    def unregister_ioeventfd(self, fd, addr, length, pio=False,
                             datamatch=None):
        """KVM_IOEVENTFD with DEASSIGN (same arguments as registration)."""
        # ABI: KVM_IOEVENTFD takes struct kvm_ioeventfd * (flags |= DEASSIGN)
        ioctl(self.fileno(), uapi.KVM_IOEVENTFD,
              _ioeventfd(fd, addr, length, pio, datamatch,
                         uapi.KVM_IOEVENTFD_FLAG_DEASSIGN))

    # -- vCPUs ----------------------------------------------------------------

    def create_vcpu(self, vcpu_id=0):
        """KVM_CREATE_VCPU(vcpu_id): a ``Vcpu`` with its kvm_run mapped."""
        def advise(err):
            if err == errno.EEXIST:
                return f"vCPU {vcpu_id} already exists"
            if err == errno.EINVAL:
                return (f"vCPU id {vcpu_id} is out of range "
                        "(KVM_CAP_MAX_VCPU_ID)")
            return None
        # ABI: KVM_CREATE_VCPU takes the vcpu id by value, returns an fd
        fd = ioctl(self.fileno(), uapi.KVM_CREATE_VCPU, vcpu_id, advise=advise)
        try:
            vcpu = Vcpu(fd, vcpu_id, self._vcpu_mmap_size)
        except BaseException:
            os.close(fd)
            raise
        self._vcpus.append(vcpu)
        return vcpu


def _ioeventfd(fd, addr, length, pio, datamatch, flags):
    # ABI: struct kvm_ioeventfd; len 0 needs KVM_CAP_IOEVENTFD_ANY_LENGTH
    arg = uapi.kvm_ioeventfd(addr=addr, len=length, fd=fd, flags=flags)
    if pio:
        arg.flags |= uapi.KVM_IOEVENTFD_FLAG_PIO
    if datamatch is not None:
        arg.flags |= uapi.KVM_IOEVENTFD_FLAG_DATAMATCH
        arg.datamatch = datamatch
    return arg


def _needs_irqchip(err):
    if err in (errno.ENXIO, errno.EINVAL, errno.ENODEV):
        return "this needs an in-kernel irqchip: call create_irqchip() first"
    return None

