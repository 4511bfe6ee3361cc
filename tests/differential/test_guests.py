"""The shipped guests (demo and bench) on every engine: the same UART output,
the same exit status, and -- in lockstep -- no divergence at all.

The expected outputs are computed independently of kasou (Python below),
so a bug shared by every engine still fails."""

import os
import zlib

import pytest

from emu.cli import GUESTS_DIR, accel_available, run_guest
from emu.loader import load_file
from tests.differential.models import fib, primes_below


def expected_outputs():
    # intloop: the loop's final BX, computed here in Python
    ax = bx = 0
    for cx in range(40000, 0, -1):
        ax = (ax + cx) & 0xFFFF
        bx = ((bx ^ ax) + 1) & 0xFFFF
    intloop = bytes([0x41 + (bx & 0x0F), 10])
    # sieve: primes below 0xF000, as 4 hex digits
    sieve = f"{primes_below(0xF000):04X}\n".encode()
    # crc32 over the 512 bytes at 0x7c00 (the program itself, then zeroed RAM)
    # sixteen times over
    code = load_file(os.path.join(GUESTS_DIR, "crc32.S")).data
    crc = f"{zlib.crc32((code + bytes(512))[:512] * 16):08X}\n".encode()
    return {
        "demo": b"Hello from the kasou demo guest!\nCounting to 1000, done.\n",
        "intloop": intloop,
        "sieve": sieve,
        "strcopy": b"OK\n",
        "crc32": crc,
        "fib": f"{fib(18)}\n".encode(),
        "uart": b"The quick brown fox jumps over the lazy dog.\n" * 200,
    }


EXPECTED = expected_outputs()
STATUS = {"demo": 0}     # the others exit through isa-debug-exit with 0 -> status 1


def engines():
    return [a for a in ("interp", "tcg", "unicorn", "kvm") if accel_available(a)[0]]


@pytest.mark.parametrize("guest", sorted(EXPECTED))
@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", "kvm"])
def test_guest_output(guest, accel):
    ok, why = accel_available(accel)
    if not ok:
        if accel == "kvm" and not os.path.exists("/dev/kvm"):
            pytest.skip("no /dev/kvm on this machine")
        pytest.fail(f"engine {accel} unavailable: {why}")
    r, out, m, _ = run_guest(guest, accel, icount_limit=20_000_000)
    assert out == EXPECTED[guest], f"{guest} on {accel}: {r.reason} {r.message}"
    assert r.status == STATUS.get(guest, 1), r.message
    m.close()


# Lockstep costs a few hundred microseconds a step; the default run checks
# the first 10,000 steps of every guest (all of demo and half of crc32 and
# fib), the slow run every step of every guest.
LOCKSTEP_STEPS = 10_000


def _lockstep(guest, accels, max_steps):
    from emu.diff import run_diff
    img = load_file(os.path.join(GUESTS_DIR, guest + ".S"))
    res = run_diff(img.data, accels=accels, max_steps=max_steps)
    assert not res.diverged, res.report_text
    assert res.steps > 0
    return res


@pytest.mark.parametrize("guest", sorted(EXPECTED))
def test_lockstep_interp_unicorn(guest):
    _lockstep(guest, ("interp", "unicorn"), LOCKSTEP_STEPS)


@pytest.mark.slow
@pytest.mark.parametrize("guest", sorted(EXPECTED))
def test_lockstep_interp_unicorn_whole_run(guest):
    res = _lockstep(guest, ("interp", "unicorn"), None)
    assert res.reason == "ended"


@pytest.mark.parametrize("guest", sorted(EXPECTED))
def test_lockstep_interp_kvm(guest):
    """KVM single-stepped against the interpreter (-cpu max), every register
    after every instruction; only the documented undefined-flag cases of
    emu/diff.py are masked."""
    if not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm on this machine")
    _lockstep(guest, ("interp", "kvm"), LOCKSTEP_STEPS)


@pytest.mark.slow
@pytest.mark.parametrize("guest", sorted(EXPECTED))
def test_lockstep_interp_kvm_whole_run(guest):
    if not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm on this machine")
    res = _lockstep(guest, ("interp", "kvm"), None)
    assert res.reason == "ended"
