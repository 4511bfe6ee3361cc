"""Code and page tables outside RAM, on every engine.

Unassigned memory reads all ones for instruction fetches, page-table walks
and descriptor-table reads just as it does for data (QEMU's behaviour);
before, interp and tcg stopped with an internal IoPending error, unicorn
refused to fetch from its MMIO region and KVM's instruction emulator could
not fetch at all.  Each guest's expected result is worked out from the SDM
(the comments in the guests), and every engine must give it -- so they agree
with each other and with KVM.  KVM runs wherever /dev/kvm exists.
"""

import os

import pytest

from emu.loader import load_file
from emu.machine import Machine

GUESTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86")
ENGINES = ["interp", "tcg", "unicorn", "kvm"]

# guest, RAM size, expected (reason, status, output)
CASES = {
    # #UD at F000:FFF0: the handler prints U, IP FFF0, CS F000 (high byte first)
    "far_unassigned.S": (64 << 10, ("debug-exit", (0x55 << 1) | 1, b"U\xff\xf0\xf0\x00")),
    # #UD at EIP 40000000 in flat 32-bit protected mode
    "unassigned_fetch.S": (16 << 20, ("debug-exit", (6 << 1) | 1, b"06 at 40000000\n")),
    # CR3 above RAM: every walk and the IDT read fault; the machine shuts down
    "cr3_above_ram.S": (16 << 20, ("shutdown", None, b"")),
}


def run(accel, guest, memory):
    m = Machine(accel=accel, cpu="max", memory=memory)
    try:
        m.load_image(load_file(os.path.join(GUESTS, guest)).data)
        res = m.run(time_limit=60)
        return res.reason, (res.status if res.reason == "debug-exit" else None), \
            m.serial_output()
    finally:
        m.close()


@pytest.mark.parametrize("guest", list(CASES))
@pytest.mark.parametrize("accel", ENGINES)
def test_code_and_tables_outside_ram(accel, guest):
    if accel == "kvm" and not os.path.exists("/dev/kvm"):
        pytest.skip("/dev/kvm is absent on this host")
    memory, want = CASES[guest]
    assert run(accel, guest, memory) == want
