"""Uart16550.quiet_io (Device.quiet_io): the accesses translated code may
have served in its middle -- exactly what read/write do to the registers,
the FIFO, LSR's error bits, the output and the input tape, and only those
that cannot change the interrupt line."""

import random

import pytest

from emu.devices.device import IrqLine
from emu.devices.uart16550 import Uart16550

IER, LCR, MCR, LSR = 1, 3, 4, 5


class Source:
    """A callable input source that counts its calls (the UART pulls input
    at every access: the quiet path must pull as often)."""

    def __init__(self, data: bytes):
        self.data = data
        self.calls = 0

    def __call__(self):
        self.calls += 1
        chunk, self.data = self.data[:3], self.data[3:]
        return chunk


def pair(kind):
    """Two UARTs with the same input: from a callable, given up front, none."""
    irqs = (IrqLine(), IrqLine())
    srcs = (Source(b"hello, uart" * 4), Source(b"hello, uart" * 4))
    if kind == "callable":
        return [Uart16550(irq=i, source=s) for i, s in zip(irqs, srcs)], irqs, srcs
    tape = b"hello, uart" * 4 if kind == "tape" else None
    return [Uart16550(irq=i, source=tape) for i in irqs], irqs, srcs


def state(u, irq, src):
    return u.snapshot(), bytes(u.output), irq.level, src.calls


@pytest.mark.parametrize("via", ["quiet_io", "quiet_access"])
@pytest.mark.parametrize("kind", ["callable", "tape", "none"])
def test_quiet_accesses_do_what_read_and_write_do(kind, via):
    """Through quiet_io, or through the servers quiet_access makes once per
    register and direction (the polled LSR and THR have their own)."""
    (plain, quiet), irqs, srcs = pair(kind)
    servers = {}

    def quiet_access(off, size, is_write, value):
        if via == "quiet_io":
            return quiet.quiet_io(off, size, is_write, value)
        serve = servers.get((off, is_write))
        if serve is None:
            serve = servers[(off, is_write)] = quiet.quiet_access(off, is_write)
        return serve(size, value)
    rng = random.Random(15)
    served = 0
    for _ in range(4000):
        off = rng.choice((0, 0, 5, 5, 5, 1, 2, 3, 4, 6, 7))
        is_write = rng.random() < 0.4
        value = rng.choice((0, 0x41, 0x80, 0x83, 0x03, 0x10, 0x01, 0xC7, 0x02, 0xFF)) if is_write else 0
        if off == IER and is_write and rng.random() < 0.7:
            value = 0            # keep the quiet path in play most of the time
        if off == MCR and is_write and rng.random() < 0.5:
            value |= 0x10        # loopback: overruns set LSR.OE, cleared by reading LSR
        v = quiet_access(off, 1, is_write, value)
        if v < 0:
            # declined: nothing changed; the ordinary access follows
            assert state(quiet, irqs[1], srcs[1]) == state(plain, irqs[0], srcs[0])
            v = None if is_write else quiet.read(off, 1)
            if is_write:
                quiet.write(off, 1, value)
        else:
            served += 1
            assert quiet.ier == 0
        if is_write:
            plain.write(off, 1, value)
            assert v in (0, None)
        else:
            assert v == plain.read(off, 1)
        assert state(quiet, irqs[1], srcs[1]) == state(plain, irqs[0], srcs[0])
    assert served > 1000 and plain.bytes_tx > 50
    assert plain.bytes_rx > 10 if kind != "none" else plain.bytes_rx == 0


def test_declines_what_may_change_the_interrupt_line():
    u = Uart16550(irq=IrqLine())
    assert u.quiet_io(IER, 1, True, 0x02) == -1           # enabling THRE's interrupt
    assert u.ier == 0
    assert u.quiet_io(IER, 1, True, 0xF0) == 0             # no interrupt bit: quiet
    u.write(IER, 1, 0x02)
    before = u.snapshot()
    assert u.quiet_io(0, 1, True, 0x41) == -1              # IER != 0: THR write may interrupt
    assert u.quiet_io(LSR, 1, False, 0) == -1
    assert u.snapshot() == before and bytes(u.output) == b""
    u.write(IER, 1, 0)
    assert u.quiet_io(0, 2, True, 0x4141) == -1            # a word access: the general path
    assert u.quiet_io(0, 1, True, 0x41) == 0 and bytes(u.output) == b"A"
    u.write(LCR, 1, 0x83)                                  # DLAB: offset 1 is DLM, quiet
    assert u.quiet_io(IER, 1, True, 0x01) == 0 and u.divisor == 0x10C


def test_declines_while_input_is_recorded_or_replayed():
    class Gate:
        def replaying(self):
            return False

        def record(self, n):
            pass

    u = Uart16550(irq=IrqLine())
    u.input_gate = Gate()
    assert u.quiet_io(LSR, 1, False, 0) == -1
    assert u.quiet_io(0, 1, True, 0x41) == -1 and bytes(u.output) == b""
