"""Fast port I/O on the interpreter and the translator: an IN/OUT to a
device that allows it (``Device.inline_io``: the UART, isa-debug-exit) is
served from inside the engine's run (``Machine.serve_port_inline``) instead
of returning an exit to the run loop -- and is still counted and logged as
an IO exit, so the exit statistics, ``-d exits`` and the output are those
of the run loop serving every access (as it does whenever ``-d exits`` or
an exit observer wants the exit itself)."""

import pytest

import io
import os

from emu.cli import GUESTS_DIR, load_guest
from emu.machine import Machine

UART = os.path.join(GUESTS_DIR, "uart.S")


def _machine(accel, **kw):
    img = load_guest(UART)
    m = Machine(accel=accel, cpu="max", memory=16 << 20, **kw)
    m.load_image(img.data, img.name, img.entry)
    return m


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_one_run_serves_every_uart_access_and_stops_at_debug_exit(accel):
    m = _machine(accel)
    try:
        ex = m.accel.run(None)
        # the run ended only at isa-debug-exit, already served and counted
        assert (ex.reason, ex.port, ex.is_write) == ("IO", 0xF4, True)
        assert ex.dispatched
        assert m.stats.by_reason == {"IO": 18001}
        assert m.serial_output() == b"The quick brown fox jumps over the lazy dog.\n" * 200
    finally:
        m.close()


def _counts(accel, **kw):
    m = _machine(accel, **kw)
    try:
        r = m.run(icount_limit=10_000_000)
        return (r.reason, r.status, r.icount, dict(m.stats.by_reason), dict(m.stats.by_key),
                m.serial_output())
    finally:
        m.close()


def test_exit_counts_on_tcg_equal_interp():
    interp = _counts("interp")
    assert interp[3] == {"IO": 18001}
    assert _counts("tcg") == interp


def test_d_exits_logs_every_access_on_both_engines():
    logs = {}
    for accel in ("interp", "tcg"):
        log = io.StringIO()
        counts = _counts(accel, log=log, log_flags=("exits",))
        logs[accel] = [line for line in log.getvalue().splitlines() if line.startswith("exit:")]
        assert counts[3] == {"IO": 18001}
    assert len(logs["tcg"]) == 18001
    assert logs["tcg"] == logs["interp"]


def test_translated_in_out_are_served_without_leaving_the_block():
    """The polling loop's IN and OUT run in the translated code: no helper
    call and no bail for them, the region loops on its own, and the exits
    are counted as the interpreter counts them."""
    m = _machine("tcg")
    try:
        r = m.run(icount_limit=10_000_000)
        c = m.accel.counters
        assert r.reason == "debug-exit"
        assert m.stats.by_key == {"IO in 0x3fd": 9000, "IO out 0x3f8": 9000, "IO out 0xf4": 1}
        # the last OUT (isa-debug-exit asks to stop) runs cold on the interpreter
        assert (c["helper_calls"], c["bails"]) == (0, 0)
        assert c["blocks_executed"] < 100
    finally:
        m.close()


def test_a_real_exit_wanted_makes_translated_port_io_bail():
    """-d exits, an exit observer: each translated IN/OUT leaves its block
    before the instruction and the interpreter makes the exit."""
    log = io.StringIO()
    seen = []
    for kw, observe in (({"log": log, "log_flags": ("exits",)}, False), ({}, True)):
        m = _machine("tcg", **kw)
        try:
            if observe:
                m.add_exit_observer(seen.append)
            m.run(icount_limit=10_000_000)
            assert m.stats.by_reason == {"IO": 18001}
            assert m.accel.counters["bails"] > 17000
        finally:
            m.close()
    assert len(seen) == 18001


def test_a_device_that_is_not_quiet_gets_a_real_exit():
    """isa-debug-exit asks to stop: the Machine's quiet server of its port
    declines and leaves everything as it was; a UART access is served and
    counted."""
    m = _machine("tcg")
    try:
        reads, writes = m.quiet_port_reads, m.quiet_port_writes
        assert writes[0xF4](1, 0) == -1
        assert m.stats.by_reason == {} and not m.stop_pending()
        assert reads[0x3FD](1, 0) == 0x60
        assert writes[0x3F8](1, 0x41) == 0
        assert writes[0x3F8](1, 0x42) == 0
        assert m.stats.by_key == {"IO in 0x3fd": 1, "IO out 0x3f8": 2}
        assert m.serial_output() == b"AB"
        assert reads[0x2F8](1, 0) == -1        # nothing there
    finally:
        m.close()
