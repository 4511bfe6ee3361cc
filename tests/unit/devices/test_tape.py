"""The input tape (emu/devices/tape.py): order, giving back, snapshots, and
the debugger's gate (emu.debug.record.InputLog) replaying when input moved."""

from emu.debug.record import InputLog
from emu.devices import pl011 as P
from emu.devices.semihosting import SYS_READC, Semihosting
from emu.devices.device import ManualClock
from emu.devices.tape import InputTape
from emu.memory import Ram


def test_bytes_come_in_order_and_can_be_given_back():
    t = InputTape(b"abc")
    assert t.take(2) == b"ab"
    t.give_back(1)
    assert t.take(5) == b"bc" and t.take(1) == b""


def test_a_callable_source_is_read_only_when_the_tape_runs_out():
    calls = []

    def source():
        calls.append(1)
        return b"xy" if len(calls) == 1 else None
    t = InputTape(source)
    assert t.take(1) == b"x" and t.take(1) == b"y" and t.take(1) == b""
    assert len(calls) == 2


def test_restore_brings_back_what_was_pending():
    t = InputTape(b"hello")
    t.take(2)
    snap = t.snapshot()
    t.take(3)
    fresh = InputTape()
    fresh.restore(snap)
    assert fresh.take(9) == b"llo"
    t.restore(snap)
    assert t.take(9) == b"llo"


def test_the_uart_and_semihosting_replay_arrivals_through_their_gates():
    """Recorded live, then re-executed from position 0: each device takes
    the same bytes at the same opportunities, without reading the source."""
    clock = ManualClock()
    position = lambda: clock.now_ns()            # noqa: E731 -- the recorder's position
    live = iter([b"ab", None, b"cd", None])
    tape = InputTape(lambda: next(live, None))
    uart = P.PL011(source=tape)
    semi = Semihosting(Ram(1 << 16, 0), clock.now_ns, source=tape)
    uart.input_gate, semi.input_gate = InputLog(position), InputLog(position)

    def session():
        got = []
        for step in range(4):
            clock.set(step)
            got.append(uart.read(P.DR, 4))
            got.append(semi.call(SYS_READC, 0))
        return got

    first = session()
    # rewind: the tape and the devices as at position 0, the logs rewound
    tape.pos = 0
    uart.reset()
    semi.reset()
    for log in (uart.input_gate, semi.input_gate):
        log.cursor = log.first
    tape.source = None                           # a replay must not read it
    assert session() == first
    # live: the UART holds one byte ahead (FIFO off); semihosting gets what
    # the UART left, or -1 when the far end had nothing then
    fail = 0xFFFFFFFF
    assert first == [ord("a"), fail, ord("b"), ord("d"), ord("c"), fail, 0, fail]
