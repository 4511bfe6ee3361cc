"""Decimal-adjust instructions against QEMU's TCG (``qemu-system-i386``).

tests/guests/x86/bcd_sums.S runs DAA, DAS, AAA, AAS over every AL, CF and
AF (and AH edges), AAM over every AL with bases 10, 16, 7, 2, 1 and 255,
and AAD over every AX with bases 10, 16 and 7, and prints one checksum per
instruction of AX and the flags the SDM defines for it.  The same boot
sector, booted by SeaBIOS from a floppy image under ``qemu-system-i386``
(a program nobody here wrote), is the judge for ``-cpu max`` on interp,
tcg and unicorn.  (KVM on this host cannot emulate DAA in real mode; its
AAM/AAD flags are host deviations: tests/conformance/known_kvm_disagreements.json.)
"""

import os
import subprocess

import pytest

from emu.loader import load_file
from emu.machine import Machine
from tests.conftest import tool

GUEST = os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86", "bcd_sums.S")
NAMES = ("DAA", "DAS", "AAA", "AAS", "AAM10", "AAM16", "AAM7", "AAM2", "AAM1", "AAM255",
         "AAD10", "AAD16", "AAD7")


def qemu_command(image):
    """How the test boots the sector on QEMU (COM1 on stdout; isa-debug-exit ends it)."""
    return [tool("qemu-system-i386"), "-M", "pc", "-accel", "tcg", "-display", "none",
            "-monitor", "none", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-drive", f"file={image},format=raw,if=floppy", "-boot", "a"]


@pytest.fixture(scope="module")
def guest():
    code = load_file(GUEST).data
    assert len(code) <= 510, f"bcd_sums.S is {len(code)} bytes; a boot sector holds 510"
    return code


@pytest.fixture(scope="module")
def qemu_lines(guest, tmp_path_factory):
    image = tmp_path_factory.mktemp("bcd") / "floppy.img"
    sector = guest.ljust(510, b"\0") + b"\x55\xaa"
    image.write_bytes(sector.ljust(1440 * 1024, b"\0"))
    r = subprocess.run(qemu_command(image), capture_output=True, timeout=120)
    assert r.returncode == 1, f"qemu-system-i386 exit {r.returncode}: {r.stderr.decode()}"
    lines = r.stdout.decode().split()
    assert lines[0::2] == list(NAMES), r.stdout
    return lines


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_bcd_checksums_match_qemu(accel, guest, qemu_lines):
    m = Machine(accel=accel, cpu="max")
    try:
        m.load_image(guest)
        res = m.run()
        out = m.serial_output().decode().split()
    finally:
        m.close()
    assert (res.reason, res.status) == ("debug-exit", 1), res
    mismatched = [n for n, mine, ref in zip(NAMES, out[1::2], qemu_lines[1::2]) if mine != ref]
    assert out == qemu_lines, f"{accel}: checksums differ from qemu-system-i386 for {mismatched}"
