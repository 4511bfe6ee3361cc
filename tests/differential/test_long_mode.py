"""The long-mode guest (tests/guests/x86/long_boot.S) on every engine.

The expected text is written from the SDM and the guest's own labels: SYSCALL
leaves the address after itself in RCX (the label ``after_syscall``) and
enters CS = STAR[47:32] = 0x18; SYSRETQ returns with CS = STAR[63:48] + 16
| 3 = 0x3b and SS = STAR[63:48] + 8 | 3 = 0x33; INT 0x80 from ring 3 through
a 64-bit gate switches to RSP0 = 0x88000 (already 16-byte aligned) and pushes
five qwords (SDM Vol. 3A §6.14.2), so the handler sees RSP = 0x88000 - 40.

interp, tcg and unicorn must print all of it.  On unicorn the guest enters
long mode inside the engine, which must move the run to its 64-bit engine;
SYSCALL is only a hook point there, run on kasou's own semantics, while
SYSRETQ, SWAPGS and IRETQ are unicorn's.  This host's KVM (kvm_pvm) runs
the guest to ring 3 and takes the SYSCALL, but the SWAPGS at the kernel
entry point faults on it (the run ends in a triple fault the accelerator
names); on a VT-x/AMD-V host the whole text must match.
"""

import os

import pytest

from emu.cli import accel_available
from emu.loader import load_file
from emu.machine import Machine

GUEST = os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86", "long_boot.S")


def expected():
    after = load_file(GUEST).symbols["after_syscall"]
    return ("real mode: hello from 0000:7c00\n"
            "protected mode: building 4-level page tables\n"
            "long mode: 64-bit code segment 0018, 2 MiB identity page\n"
            "ring 0: iretq to ring 3\n"
            "ring 3: hello through syscall\n"
            f"  ring 0 handler: rcx={after:08x} cs=0018\n"
            "ring 3: int 0x80\n"
            f"  int 0x80 gate: frame cs=003b ss=0033 rsp={0x88000 - 5 * 8:08x}\n"
            "ring 3: back from iretq\n"
            "ring 0: exit requested from ring 3\n")


KVM_PREFIX = "ring 0: iretq to ring 3\n"


def run(accel):
    img = load_file(GUEST)
    m = Machine(accel=accel, cpu="max")
    m.load_image(img.data, img.name)
    r = m.run(icount_limit=2_000_000)
    out = m.serial_output().decode("latin-1")
    m.close()
    return r, out


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", "kvm"])
def test_long_boot(accel):
    ok, why = accel_available(accel)
    if not ok:
        if accel == "kvm" and not os.path.exists("/dev/kvm"):
            pytest.skip("no /dev/kvm on this machine")
        pytest.fail(f"engine {accel} unavailable: {why}")
    r, out = run(accel)
    want = expected()
    if accel == "kvm" and out != want:
        assert want.startswith(out), f"kvm printed something else:\n{out}"
        assert out.endswith(KVM_PREFIX), f"kvm stopped earlier than expected:\n{out}"
        assert "triple fault" in r.message and "swapgs" in r.message, r.message
        return
    assert out == want, f"long_boot on {accel}: {r.reason} {r.message}"
    assert r.status == 1, r.message          # isa-debug-exit with 0


# -- the CPL-3 bench guest (emu/guests/lm_loop.S) -----------------------------------------
def lm_loop_expected(iters=0x20000):
    """The loop's final RBX, computed here in Python (the guest's header)."""
    a = b = 0
    for c in range(iters, 0, -1):
        a = (a + c) & 0xFFFFFFFFFFFFFFFF
        b ^= a
    return f"{b:016x}\n"


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", "kvm"])
def test_lm_loop(accel):
    from emu.cli import run_guest
    ok, why = accel_available(accel)
    if not ok:
        if accel == "kvm" and not os.path.exists("/dev/kvm"):
            pytest.skip("no /dev/kvm on this machine")
        pytest.fail(f"engine {accel} unavailable: {why}")
    r, out, m, _ = run_guest("lm_loop", accel, icount_limit=20_000_000)
    m.close()
    assert out.decode("latin-1") == lm_loop_expected(), f"lm_loop on {accel}: {r.reason} {r.message}"
    assert r.status == 1, r.message
