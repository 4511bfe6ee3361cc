"""Reserved bits in long-mode paging-structure entries and in CR3, on every
engine (SDM Vol. 3A §4.5.4, §4.7; Vol. 2B "MOV -- Move to/from Control
Registers").  MAXPHYADDR is 48 on ``-cpu max`` (CPUID 0x80000008, as KVM
reports on this host).  tests/guests/x86/pte_reserved.S reads through an
entry with a reserved bit at each level -- PTE bit 51, PTE XD with NXE off,
2 MiB PDE bit 48, 2 MiB PDE bit 13, PDPTE bit 50, PML4E bit 49 -- then a
good page, then loads CR3 with bit 50 set.  Worked out from the SDM: each
bad read is #PF with error code P | RSVD = 0x09 and CR2 = the address, the
good read does not fault, and the MOV to CR3 is #GP(0)."""

import os

import pytest

from emu.isa.x86.cpuid import cpuid_leaf
from emu.isa.x86.models import get_model
from emu.loader import load_file
from emu.machine import Machine

GUEST = os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86",
                     "pte_reserved.S")
FAULTS = [0x200000, 0x201000, 0x400000, 0x600000, 0x40000000, 0x8000000000]
PF_LINES = "".join(f"PF 09 {a:016x}\n" for a in FAULTS)
EXPECTED = ("debug-exit", (0x0D << 1) | 1, PF_LINES + "GP 0000\n")


def run(accel):
    m = Machine(accel=accel, cpu="max")
    try:
        m.load_image(load_file(GUEST).data)
        res = m.run(time_limit=60)
        status = res.status if res.reason == "debug-exit" else None
        return res.reason, status, m.serial_output().decode()
    finally:
        m.close()


@pytest.mark.parametrize("accel", ["interp", "tcg", "kvm"])
def test_reserved_bits_fault_as_the_sdm_says(accel):
    if accel == "kvm" and not os.path.exists("/dev/kvm"):
        pytest.skip("/dev/kvm is absent on this host")
    assert run(accel) == EXPECTED


def test_unicorn_faults_on_entries_but_takes_reserved_cr3_bits():
    """Unicorn's QEMU raises the same #PFs, but loads CR3 with bit 50 set
    instead of #GP(0); the next walk then faults until the machine shuts down."""
    reason, _, out = run("unicorn")
    assert out == PF_LINES
    assert reason == "shutdown"


def test_cpuid_reports_the_maxphyaddr_the_walk_checks():
    model = get_model("max")
    assert cpuid_leaf(model, 0x80000000, 0)[0] >= 0x80000008
    eax = cpuid_leaf(model, 0x80000008, 0)[0]
    assert eax & 0xFF == model.max_phys_bits == 48
    assert (eax >> 8) & 0xFF == 48
