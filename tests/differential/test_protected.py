"""The protected-mode guests (tests/guests/x86/) on every engine.

Each guest prints what it did through the UART; the expected text is written
here from the SDM (frames, error codes, PTE bits) and from the guest's own
labels (the faulting addresses), not taken from any engine.  ``interp``,
``tcg`` and ``unicorn`` must print all of it.  On KVM the output must be the
same up to the point where this host's KVM gives up (kvm_pvm: interrupt
delivery and IRETD in 32-bit ring 0, 32-bit paging), and the run must stop
with an explanation naming the host's limit; on a VT-x/AMD-V host the whole
text must match.
"""

import os

import pytest

from emu.cli import accel_available
from emu.loader import load_file
from emu.machine import Machine

GUESTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86")
ENGINES = ["interp", "tcg", "unicorn", "kvm"]


def _sym(guest, name):
    return load_file(os.path.join(GUESTS, guest + ".S")).symbols[name]


def expected(guest):
    if guest == "pm_boot":
        return ("real mode: hello from 0000:7c00\n"
                "protected mode: 32-bit code segment 0008, CPL 0\n"
                "int 0x30 through a 32-bit interrupt gate\n"
                "  in the handler: cs=0008 eflags.if=000\n"
                "back from int 0x30 (iretd)\n"
                # LAR: descriptor bytes 5-6 of 0x00cf9b00 masked with 0x00f0ff00;
                # LSL: 4 GiB flat (G=1) and the 104-byte TSS
                "str=0020 sldt=0000 lar(0008)=00c09b00 lsl(0010)=ffffffff lsl(0020)=0067\n"
                "verr(0008) verw(0008) verw(0010): 101\n"
                f"#UD at eip={_sym(guest, 'fault_ud'):08x}\n"
                # a selector beyond the GDT limit: #GP(selector)
                f"#GP error code=0080 at eip={_sym(guest, 'fault_gp'):08x}\n"
                "16-bit protected mode: code segment 0018\n"
                "back in 32-bit protected mode; done\n")
    if guest == "ring3_gp":
        at = {k: _sym(guest, "fault_" + k) for k in ("cli", "hlt", "cr0", "out", "ds", "int")}
        # the kernel stack: ESP0 0x90000, minus the 5-dword ring-3 frame, minus PUSHAD
        kesp = 0x90000 - 5 * 4 - 32
        return ("ring 0: protected mode, TSS and IDT set up\n"
                "ring 0: iretd to ring 3\n"
                f"ring 3: hello through int 0x80 (caller cpl 3, kernel esp {kesp:08x})\n"
                "ring 3: out to 0x3f8, allowed by the TSS I/O bitmap\n"
                f"#GP error code 0000 at 001b:{at['cli']:08x}\n"
                f"#GP error code 0000 at 001b:{at['hlt']:08x}\n"
                f"#GP error code 0000 at 001b:{at['cr0']:08x}\n"
                f"#GP error code 0000 at 001b:{at['out']:08x}\n"
                f"#GP error code 0010 at 001b:{at['ds']:08x}\n"
                f"#GP error code {0x81 * 8 + 2:04x} at 001b:{at['int']:08x}\n"
                "ring 0: exit requested from ring 3\n")
    if guest == "paging":
        # frames come from a pool at 0x100000; #PF error codes (SDM Figure 4-12):
        # 2 = not present + write, 3 = present (protection) + write;
        # PTE flags: 0x003 + A (0x20) after a read, + D (0x40) after a write
        return ("protected mode; building page tables\n"
                "paging on: CR3=00020000, 4 KiB pages below 4 MiB, a 4 MiB page at 00800000\n"
                "#PF cr2=00400000 error=2 -> mapped frame 00100000\n"
                "#PF cr2=00401000 error=2 -> mapped frame 00101000\n"
                "#PF cr2=005ff004 error=2 -> mapped frame 00102000\n"
                "read back: 11111111 22222222 33333333 44444444\n"
                "frame 00100000 through the 4 MiB page: 11111111\n"
                "PTE flags after a read: 023, after a write: 063\n"
                "#PF cr2=00061000 error=3 -> made writable\n"
                "read-only page after the fault: 55555555\n"
                "done\n")
    raise KeyError(guest)


# how far this host's KVM (kvm_pvm) gets, and what it must say
KVM_AT_LEAST = {
    "pm_boot": ("int 0x30 through a 32-bit interrupt gate\n", "cannot emulate INT"),
    "ring3_gp": ("ring 0: iretd to ring 3\n", "cannot emulate IRETD"),
    "paging": ("protected mode; building page tables\n", "cannot run 32-bit paged guests"),
}


def run(guest, accel):
    img = load_file(os.path.join(GUESTS, guest + ".S"))
    m = Machine(accel=accel, cpu="max")
    m.load_image(img.data, img.name)
    r = m.run(icount_limit=2_000_000)
    out = m.serial_output().decode("latin-1")
    m.close()
    return r, out


@pytest.mark.parametrize("guest", sorted(KVM_AT_LEAST))
@pytest.mark.parametrize("accel", ENGINES)
def test_protected_mode_guest(guest, accel):
    ok, why = accel_available(accel)
    if not ok:
        if accel == "kvm" and not os.path.exists("/dev/kvm"):
            pytest.skip("no /dev/kvm on this machine")
        pytest.fail(f"engine {accel} unavailable: {why}")
    r, out = run(guest, accel)
    want = expected(guest)
    if accel == "kvm" and out != want:
        prefix, says = KVM_AT_LEAST[guest]
        assert want.startswith(out), f"kvm printed something else:\n{out}"
        assert out.endswith(prefix), f"kvm stopped earlier than expected:\n{out}"
        assert says in r.message and "limit of this host's KVM" in r.message, r.message
        return
    assert out == want, f"{guest} on {accel}: {r.reason} {r.message}"
    assert r.status == 1, r.message          # isa-debug-exit with 0
