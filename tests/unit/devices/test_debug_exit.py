"""isa-debug-exit: status (v << 1) | 1 as QEMU hw/misc/debugexit.c computes it."""

import pytest

from emu.devices.debug_exit import IsaDebugExit


@pytest.mark.parametrize("size,value,status", [
    (1, 0, 1),
    (1, 1, 3),
    (1, 0x10, 0x21),
    (1, 0x7F, 0xFF),
    (1, 0xFF, 0x1FF),
    (2, 0x1234, 0x2469),
    (4, 0x80000000, 0x100000001),
])
def test_write_requests_stop_with_qemu_status(size, value, status):
    dev = IsaDebugExit(iosize=4)
    assert dev.stop_request is None
    dev.write(0, size, value)
    assert dev.stop_request.status == status


def test_value_is_masked_to_access_size():
    dev = IsaDebugExit()
    dev.write(0, 1, 0x1FF)
    assert dev.stop_request.status == 0x1FF


def test_read_returns_zero_like_qemu():
    dev = IsaDebugExit()
    assert dev.read(0, 1) == 0
    assert dev.read(0, 4) == 0
    assert dev.stop_request is None


@pytest.mark.parametrize("iosize", [1, 2, 4])
def test_iosize_sets_region(iosize):
    assert IsaDebugExit(iosize=iosize).region_size == iosize


def test_bad_iosize_rejected():
    with pytest.raises(ValueError):
        IsaDebugExit(iosize=3)


def test_first_request_wins_and_take_clears():
    dev = IsaDebugExit()
    dev.write(0, 1, 2)
    dev.write(0, 1, 7)
    assert dev.take_stop_request().status == 5
    assert dev.stop_request is None
    dev.write(0, 1, 7)
    assert dev.stop_request.status == 15


def test_reset_and_snapshot_restore():
    dev = IsaDebugExit()
    dev.write(0, 1, 3)
    state = dev.snapshot()
    dev.reset()
    assert dev.stop_request is None
    dev.restore(state)
    assert dev.stop_request.status == 7
    dev.restore(IsaDebugExit().snapshot())
    assert dev.stop_request is None
