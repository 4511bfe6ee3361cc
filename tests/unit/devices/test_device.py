"""The device contract helpers: IrqLine, StopRequest, clocks, byte splitting."""

import io

import pytest

from emu.devices.device import (ByteRegisterDevice, Clock, IrqLine, ManualClock,
                                StopRequest, make_sink, size_mask)


def test_irq_line_calls_back_on_changes_only():
    seen = []
    line = IrqLine(seen.append)
    assert line.level is False
    line.raise_()
    line.raise_()
    line.lower()
    line.set(True)
    assert seen == [True, False, True]
    assert line.level is True


def test_irq_line_unconnected_keeps_level_and_connect_reports_it():
    line = IrqLine()
    line.raise_()
    seen = []
    line.connect(seen.append)
    assert seen == [True]


def test_irq_line_pulse_gives_one_rising_edge():
    seen = []
    line = IrqLine(seen.append)
    line.raise_()
    line.pulse()
    assert seen == [True, False, True]


def test_stop_request_is_plain_data():
    req = StopRequest(3, "why")
    assert (req.status, req.reason) == (3, "why")


def test_manual_clock_is_a_clock_and_never_goes_back_by_advance():
    clock = ManualClock(5)
    assert isinstance(clock, Clock)
    assert clock.advance(10) == 15
    with pytest.raises(ValueError):
        clock.advance(-1)
    clock.set(2)
    assert clock.now_ns() == 2


def test_size_mask():
    assert [size_mask(n) for n in (1, 2, 4)] == [0xFF, 0xFFFF, 0xFFFFFFFF]
    with pytest.raises(ValueError):
        size_mask(3)


class _Regs(ByteRegisterDevice):
    region_size = 3

    def __init__(self):
        super().__init__("regs")
        self.regs = [0x11, 0x22, 0x33]

    def read_byte(self, offset):
        return self.regs[offset]

    def write_byte(self, offset, value):
        self.regs[offset] = value


def test_wide_access_splits_little_endian_and_ignores_bytes_past_the_end():
    dev = _Regs()
    assert dev.read(0, 2) == 0x2211
    assert dev.read(1, 4) == 0xFFFF3322
    dev.write(1, 4, 0xAABBCCDD)
    assert dev.regs == [0x11, 0xDD, 0xCC]


def test_make_sink_kinds():
    write, buf = make_sink(None)
    write(b"ab")
    assert buf == bytearray(b"ab")
    got = []
    write, buf = make_sink(got.append)
    write(b"x")
    assert got == [b"x"] and buf is None
    raw = io.BytesIO()
    write, buf = make_sink(raw)
    write(b"y")
    assert raw.getvalue() == b"y" and buf is None
    text = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    write, _ = make_sink(text)
    write(b"z")
    assert text.buffer.getvalue() == b"z"
    with pytest.raises(TypeError):
        make_sink(42)


def test_a_stop_request_tells_its_listener_when_made():
    """Device.on_stop_request: the Machine is told of a request as it is
    made (and at once of one already pending), not by looking at every
    device after every exit; clearing it tells no one."""
    from emu.devices.device import Device, StopRequest
    told = []
    dev = Device("d")
    dev.stop_request = StopRequest(3, "before")
    dev.on_stop_request(told.append)
    assert told == [dev]
    dev.stop_request = None
    assert told == [dev] and dev.take_stop_request() is None
    dev.stop_request = StopRequest(5, "now")
    assert told == [dev, dev] and dev.take_stop_request() == StopRequest(5, "now")
    assert dev.stop_request is None
