"""``python -m kvm``: a learner's first VMM.

What is modelled: the minimal VMM of LWN's "Using the KVM API" (reference
``kvm_qmp_gdb.md`` §2.2), written with this package in the order QEMU's
``kvm_init()`` and ``kvm_cpu_exec()`` follow.  It is the example of the
package docstring, with every step printed.  Exit status 0 if the guest
printed "4\\n", 1 otherwise; a one-line message (no traceback) if KVM is
missing.

``python -m kvm probe [--refresh] [--json]`` prints what this host's KVM
does differently from the SDM (:mod:`kvm.probe`; cached per boot).
"""

import mmap
import sys

import kvm
from kvm import uapi

GUEST_ADDR = 0x1000
SERIAL_PORT = 0x3F8

# The guest: 16-bit real-mode code, entered with AX = BX = 2.
CODE = bytes([0xBA, 0xF8, 0x03,   # mov dx, 0x3f8
              0x00, 0xD8,         # add al, bl
              0x04, ord("0"),     # add al, '0'
              0xEE,               # out dx, al
              0xB0, 0x0A,         # mov al, 10
              0xEE,               # out dx, al
              0xF4])              # hlt


def run_guest(out=print):
    """Run the guest; return what it wrote to the serial port."""
    output = ""
    with kvm.Kvm() as system:
        out(f"open {system.path}: KVM_GET_API_VERSION = "
            f"{system.api_version()}")
        with system.create_vm() as vm:
            out("KVM_CREATE_VM")
            for name in ("KVM_CAP_USER_MEMORY", "KVM_CAP_SET_TSS_ADDR",
                         "KVM_CAP_SYNC_REGS", "KVM_CAP_IMMEDIATE_EXIT"):
                out(f"KVM_CHECK_EXTENSION({name}) = "
                    f"{vm.check_extension(getattr(uapi, name))}")
            ram = mmap.mmap(-1, 0x1000)
            ram[:len(CODE)] = CODE
            vm.map_memory(0, GUEST_ADDR, ram)
            out(f"KVM_SET_USER_MEMORY_REGION: slot 0, 4 KiB at GPA "
                f"{GUEST_ADDR:#x}")
            vcpu = vm.create_vcpu(0)
            out(f"KVM_CREATE_VCPU(0); kvm_run mapped "
                f"({vcpu.mmap_size} bytes)")
            sregs = vcpu.get_sregs()
            sregs.cs.base = sregs.cs.selector = 0
            vcpu.set_sregs(sregs)
            vcpu.set_regs(uapi.kvm_regs(rip=GUEST_ADDR, rax=2, rbx=2,
                                        rflags=2))
            out("KVM_SET_SREGS / KVM_SET_REGS: real mode, cs:ip = "
                f"0000:{GUEST_ADDR:04x}, ax = bx = 2")
            while True:
                exit = vcpu.run()
                out(f"KVM_RUN -> {exit.name:4} {exit.describe()}")
                if isinstance(exit, kvm.IoOut) and exit.port == SERIAL_PORT:
                    output += bytes(exit.data).decode()
                elif isinstance(exit, kvm.Hlt):
                    break
                else:
                    raise RuntimeError(f"unexpected exit: {exit.describe()}")
        ram.close()
    return output


def probe_main(args):
    """``python -m kvm probe [--refresh] [--json]``."""
    import argparse
    import json
    from . import probe
    parser = argparse.ArgumentParser(prog="python -m kvm probe",
                                     description="probe this host's KVM against the SDM")
    parser.add_argument("--refresh", action="store_true", help="probe again (ignore the cache)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    opts = parser.parse_args(args)
    try:
        report = probe.host_limits(refresh=opts.refresh)
    except kvm.KvmError as exc:
        print(f"kvm: {exc}", file=sys.stderr)
        return 2
    if opts.json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        print("\n".join(probe.format_report(report)))
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["probe"]:
        return probe_main(argv[1:])
    try:
        output = run_guest()
    except kvm.KvmError as exc:
        print(f"kvm: {exc}", file=sys.stderr)
        return 2
    print(f"the guest wrote {output!r}")
    return 0 if output == "4\n" else 1


if __name__ == "__main__":
    sys.exit(main())
