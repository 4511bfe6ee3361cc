"""Fast port I/O on the translator: an IN/OUT to a device that allows it
(``Device.inline_io``: the UART, isa-debug-exit) is served from inside the
engine's run (``Machine.serve_port_inline``) instead of returning an exit to
the run loop -- and is still counted and logged as an IO exit, so the exit
statistics, ``-d exits`` and the output are those of the interpreter, which
always exits."""

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


def test_one_run_serves_every_uart_access_and_stops_at_debug_exit():
    m = _machine("tcg")
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
