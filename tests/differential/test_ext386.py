"""The 386+ real-mode extensions against two engines nobody here wrote:
KVM (the host's CPU and its instruction emulator) and unicorn (QEMU's TCG),
in lockstep, every register after every instruction."""

import os

import pytest

from emu.diff import run_diff
from emu.loader import load_file

GUEST = os.path.join(os.path.dirname(os.path.dirname(__file__)), "guests", "x86", "ext386.S")


@pytest.mark.parametrize("other", ["unicorn", "kvm"])
def test_ext386_lockstep(other):
    if other == "kvm" and not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm on this machine")
    img = load_file(GUEST)
    res = run_diff(img.data, accels=("interp", other))
    assert not res.diverged, res.report_text
    assert res.reason == "ended"
    assert res.steps > 80
