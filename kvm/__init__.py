"""kvm: a pure-Python binding to Linux ``/dev/kvm`` (ctypes, mmap, ioctl).

What is modelled: the KVM userspace API (``Documentation/virt/kvm/api.rst``)
for x86-64, as summarised and verified in ``shared/reference/kvm_qmp_gdb.md``
§1, in the object model of rust-vmm's kvm-ioctls: one object per file
descriptor, one file per type.

* ``Kvm``  (``system.py``) -- the system fd, ``/dev/kvm``
* ``Vm``   (``vm.py``)     -- a VM fd: memory slots, TSS, irqchip, eventfds
* ``Vcpu`` (``vcpu.py``)   -- a vCPU fd + its mmapped ``kvm_run``; ``run()``
* ``kvm.exits``            -- the closed set of exit kinds ``run()`` returns
* ``kvm.uapi``             -- ctypes mirrors of the kernel structs, ioctl
  numbers and constants (the only place kernel names appear verbatim)
* ``KvmError``, ``explain_sregs`` (``errors.py``)

Importing this package opens nothing; ``Kvm()`` opens the device.

The smallest complete VMM, in the order QEMU's ``kvm_init()`` and
``kvm_cpu_exec()`` follow (the guest is the 16-bit program of LWN's "Using
the KVM API": it prints 2+2 on the serial port and halts).  ``python -m
kvm`` runs the same program, printing each exit::

    import mmap
    import kvm
    from kvm import uapi

    code = bytes([0xBA, 0xF8, 0x03,   # mov dx, 0x3f8
                  0x00, 0xD8,         # add al, bl
                  0x04, ord("0"),     # add al, '0'
                  0xEE,               # out dx, al
                  0xB0, 0x0A,         # mov al, 10
                  0xEE,               # out dx, al
                  0xF4])              # hlt
    output = ""
    with kvm.Kvm() as system:             # open /dev/kvm; KVM_GET_API_VERSION
        with system.create_vm() as vm:    # KVM_CREATE_VM
            assert vm.check_extension(uapi.KVM_CAP_USER_MEMORY)
            ram = mmap.mmap(-1, 0x1000)   # one page of guest RAM at GPA
            ram[:len(code)] = code        # 0x1000, KVM_SET_USER_MEMORY_REGION:
            vm.map_memory(0, 0x1000, ram)
            vcpu = vm.create_vcpu(0)      # KVM_CREATE_VCPU; mmap kvm_run
            sregs = vcpu.get_sregs()      # real mode, as after reset ...
            sregs.cs.base = sregs.cs.selector = 0   # ... but CS at 0
            vcpu.set_sregs(sregs)
            vcpu.set_regs(uapi.kvm_regs(rip=0x1000, rax=2, rbx=2, rflags=2))
            while True:                   # the KVM_RUN loop
                exit = vcpu.run()
                print(f"{exit.name:4} {exit.describe()}")
                if isinstance(exit, kvm.IoOut) and exit.port == 0x3F8:
                    output += bytes(exit.data).decode()
                elif isinstance(exit, kvm.Hlt):
                    break
                else:
                    raise SystemExit(f"unexpected exit: {exit.describe()}")
        ram.close()
    print(f"the guest wrote {output!r}")
"""

from . import uapi
from .errors import KvmError, explain_sregs
from .exits import (EXIT_KINDS, Debug, ExceptionExit, Exit, FailEntry, Hlt,
                    Hypercall, InternalError, Intr, IoIn, IoOut,
                    IrqWindowOpen, MemoryFault, MmioRead, MmioWrite,
                    Shutdown, SystemEvent, Unknown, Unsupported)
from .system import Kvm
from .vcpu import Translation, Vcpu, dr7_value
from .vm import Vm, pin_buffer

__all__ = [
    "Kvm", "Vm", "Vcpu", "KvmError", "explain_sregs", "uapi",
    "Translation", "dr7_value", "pin_buffer",
    "Exit", "EXIT_KINDS", "IoIn", "IoOut", "MmioRead", "MmioWrite", "Hlt",
    "Shutdown", "IrqWindowOpen", "Intr", "FailEntry", "InternalError",
    "Debug", "SystemEvent", "ExceptionExit", "Hypercall", "MemoryFault",
    "Unknown", "Unsupported",
]
