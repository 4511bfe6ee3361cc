# Lab 6, exercise 1, wrong: the IN from 0x12 (the sum's high byte) is not served.
"""A VMM in about forty lines: lab 6.

It runs a 16-bit guest (assembly source, assembled by kasou) on /dev/kvm
with kasou's ``kvm`` package, making the calls QEMU makes, in QEMU's order:

* ``kvm_init()`` (accel/kvm/kvm-all.c): open /dev/kvm, check the API
  version, create the VM, give it memory (KVM_SET_USER_MEMORY_REGION);
* ``kvm_init_vcpu()``: create the vCPU, map its ``kvm_run``, set its
  registers (real mode, CS:IP = 0000:7C00);
* ``kvm_cpu_exec()``: KVM_RUN until an exit, then serve it -- the
  ``switch (run->exit_reason)`` -- and run again.

Usage: python vmm.py GUEST.S.  The guest's COM1 output (port 0x3F8) goes
to standard output; the run ends when the guest halts (status 0).  An exit
this VMM does not serve ends it with a message and status 1.

(The answer key.)  The "adder" device the guest adder.S uses: an OUT of
a byte to port 0x10 adds it to a 16-bit sum (starting at 0); an IN from
port 0x11 returns the sum's low byte, from 0x12 its high byte.
"""

import mmap
import sys

import kvm
from emu.asm import assemble_file
from kvm import uapi

RAM_SIZE = 0x10000                  # 64 KiB of guest RAM at guest-physical 0
LOAD = 0x7C00                       # where the guest is loaded and entered


def main(path):
    with open(path) as f:
        code = assemble_file(f.read(), path, base=LOAD).data
    # kvm_init(): the system fd, the VM fd, the guest's memory
    system = kvm.Kvm()
    assert system.api_version() == 12
    vm = system.create_vm()
    ram = mmap.mmap(-1, RAM_SIZE)
    ram[LOAD:LOAD + len(code)] = code
    vm.map_memory(0, 0, ram)
    # kvm_init_vcpu(): the vCPU fd and its registers
    vcpu = vm.create_vcpu(0)
    sregs = vcpu.get_sregs()
    sregs.cs.base = sregs.cs.selector = 0
    vcpu.set_sregs(sregs)
    vcpu.set_regs(uapi.kvm_regs(rip=LOAD, rflags=2))
    # kvm_cpu_exec(): run, serve the exit, run again
    adder = 0                           # the adder device's 16-bit sum
    while True:
        exit = vcpu.run()
        if isinstance(exit, kvm.IoOut) and exit.port == 0x3F8:
            sys.stdout.write(bytes(exit.data).decode("latin-1"))
        elif isinstance(exit, kvm.IoOut) and exit.port == 0x10:
            for byte in bytes(exit.data):       # one per OUT (several for OUTSB)
                adder = (adder + byte) & 0xFFFF
        elif isinstance(exit, kvm.IoIn) and exit.port == 0x11:
            exit.reply(adder & 0xFF)
        elif isinstance(exit, kvm.Hlt):
            return 0
        else:
            print(f"vmm: unhandled exit: {exit.describe()}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
