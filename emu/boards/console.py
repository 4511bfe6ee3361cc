"""The console sink boards give their output devices: the Machine's output
log, and the terminal (or file) the user sees, shown once even when a
debugger rewinds the guest and it prints again."""

from __future__ import annotations

from ..machine import OutputLog


def console_sink(machine, serial_sink):
    """The sink a board gives its output devices (UART, debug console,
    semihosting): it appends to ``machine.serial_log`` and passes the
    bytes on to ``serial_sink`` (None: nowhere).

    A debugger rewinds serial_log with the guest (reverse execution); the
    guest then writes again what the terminal has already shown.  As with
    gdb's record, the output is shown once: a byte is passed on only where
    it differs from what was shown at that position of the log (a guest
    that went another way is shown from there)."""
    shown = OutputLog(machine.serial_log.keep)   # what went to serial_sink, by position

    def sink(data: bytes) -> None:
        nonlocal shown
        if serial_sink is None:
            machine.serial_log += data
            return
        at = len(machine.serial_log)
        machine.serial_log += data
        # the bytes shown at these positions (none where they are no longer held)
        before = shown[at:at + len(data)] if at >= shown.start else b""
        same = 0
        while same < len(before) and before[same] == data[same]:
            same += 1
        if same < len(data):
            del shown[at + same:]
            shown += data[same:]
            serial_sink(data[same:])
    return sink
