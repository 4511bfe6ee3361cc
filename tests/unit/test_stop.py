"""Stopping a run: ``Machine.request_stop`` and ``emu.signals``, in-process.

A device on port 0x80 sends a signal to this process from inside its own
read, that is from inside the engine's I/O path (unicorn's IN hook is a
ctypes callback): the run must end with ``Interrupted`` raised from the run
loop, nothing printed as "Exception ignored", and (on the engines that stop
at the next instruction) no further read.  ``request_stop`` from another
thread ends a tight loop with a ``"stopped"`` RunResult on every engine.
KVM cases are skipped only where /dev/kvm is absent."""

import os
import signal
import threading

import pytest

from emu import loader
from emu.devices.device import Device
from emu.machine import Machine
from emu.signals import Interrupted, StopSignals, current

ENGINES = ["interp", "tcg", "unicorn",
           pytest.param("kvm", marks=pytest.mark.skipif(
               not os.path.exists("/dev/kvm"),
               reason="/dev/kvm is absent on this host: the KVM case needs it"))]

IN_LOOP = """
    mov dx, 0x3f8
    mov al, 0x2e
    out dx, al
spin:
    in al, 0x80
    in al, 0x80
    jmp spin
"""


class SignalOnRead(Device):
    """Port 0x80: reads as 0; the ``at``-th read sends ``signum`` to this
    process (its Python handler then runs inside the engine's I/O path)."""

    name = "signal-on-read"

    def __init__(self, signum, at):
        super().__init__()
        self.signum, self.at, self.reads = signum, at, 0

    def read(self, offset, size):
        self.reads += 1
        if self.reads == self.at:
            signal.raise_signal(self.signum)
        return 0

    def write(self, offset, size, value):
        pass


def machine(accel, source, out=None):
    m = Machine(accel=accel, serial_sink=out)
    m.load_image(loader.assemble(source, "<test>").data)
    return m


@pytest.mark.parametrize("accel", ENGINES)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_inside_an_io_hook_stops_the_run(accel, signum, capfd):
    m = machine(accel, IN_LOOP)
    dev = SignalOnRead(signum, at=50)
    m.ports.map(0x80, 1, dev)
    stop_slice = m.accel.stop_slice
    try:
        with StopSignals():
            with pytest.raises(Interrupted) as e:
                m.run()
    finally:
        m.close()
    assert e.value.status == 128 + signum
    assert isinstance(e.value, KeyboardInterrupt) == (signum == signal.SIGINT)
    assert e.value.result is not None and e.value.result.reason == "stopped"
    assert "Exception ignored" not in capfd.readouterr().err
    if accel in ("unicorn", "kvm"):
        assert dev.reads == dev.at              # stopped after the reading instruction
    else:
        assert dev.reads - dev.at <= stop_slice  # stopped at the end of the slice


def test_handlers_are_restored_and_the_signal_is_handed_out_once():
    before = signal.getsignal(signal.SIGINT)
    with StopSignals() as guard:
        assert current() is guard
        with guard.deferred():
            signal.raise_signal(signal.SIGINT)      # deferred: recorded, not raised
        assert guard.signum == signal.SIGINT
        with pytest.raises(Interrupted):
            guard.check()
        guard.check()                               # handed out once
        with pytest.raises(KeyboardInterrupt):      # not deferred: raised at once
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before and current() is None


@pytest.mark.parametrize("accel", ENGINES)
def test_request_stop_from_another_thread_ends_a_tight_loop(accel):
    printed = threading.Event()
    m = machine(accel, "    mov dx, 0x3f8\n    mov al, 0x2e\n    out dx, al\nspin:\n    jmp spin\n",
                out=lambda data: printed.set())

    def stopper():
        printed.wait()
        m.request_stop()
    t = threading.Thread(target=stopper)
    t.start()
    try:
        r = m.run()
    finally:
        t.join()
    m.close()
    assert r.reason == "stopped"
    assert m.serial_output() == b"."
