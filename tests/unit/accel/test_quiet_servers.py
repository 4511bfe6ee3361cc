"""Quiet port I/O through the bus's per-address servers
(``Machine.quiet_port_reads`` / ``quiet_port_writes``, built by
``Machine._quiet_server`` from ``Device.quiet_access``): the server of a
port is made once per direction, a quiet access is one lookup and one call
of it from the engine -- no Machine method on the path -- and it is counted
as the IO exit the run loop would have counted, the same on every engine."""

import os
import sys

import pytest

from emu import loader
from emu.devices.device import Device
from emu.machine import Machine

PROBE_PORT = 0x310          # free on the pc board
ROUNDS = 500

#: IN and OUT of the probe port ROUNDS times, then "ok" on COM1 (polled)
#: and isa-debug-exit
GUEST = f"""
    .code16
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov cx, {ROUNDS}
    mov dx, {PROBE_PORT:#x}
again:
    in al, dx
    add al, cl
    out dx, al
    loop again
    mov si, 2
    mov bl, 'o'
wait:
    mov dx, 0x3fd
    in al, dx
    test al, 0x20
    jz wait
    mov dx, 0x3f8
    mov al, bl
    out dx, al
    mov bl, 'k'
    dec si
    jnz wait
    mov al, 0
    out 0xf4, al
"""

KVM = pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                   reason="no /dev/kvm on this host"))


class Probe(Device):
    """A register that reads 0x5A and keeps what is written, always quiet;
    it counts the servers asked of it and the calls they get, and where
    each call came from (the frames above the device's server)."""

    name = "probe"
    inline_io = True

    def __init__(self):
        super().__init__()
        self.built = []             # (offset, is_write) of each server made
        self.calls = 0
        self.written = []
        self.callers = set()        # (file name, function) of the two frames above

    def read(self, offset, size):
        return 0x5A

    def write(self, offset, size, value):
        self.written.append(value)

    def quiet_io(self, offset, size, is_write, value):
        return 0 if is_write else 0x5A

    def quiet_access(self, offset, is_write):
        self.built.append((offset, is_write))

        def serve(size, value):
            self.calls += 1
            if is_write:
                self.written.append(value)
            frame = sys._getframe(1)
            above = frame.f_back
            self.callers.add(((os.path.basename(frame.f_code.co_filename), frame.f_code.co_qualname),
                              (os.path.basename(above.f_code.co_filename), above.f_code.co_qualname)))
            return 0 if is_write else 0x5A
        return serve


def _run(accel, observe=False):
    m = Machine(accel=accel, memory=16 << 20)
    probe = Probe()
    try:
        m.ports.map(PROBE_PORT, 1, probe)
        seen = []
        if observe:
            m.add_exit_observer(seen.append)
        m.load_image(loader.assemble(GUEST, "<test>", 0x7C00).data)
        r = m.run(icount_limit=1_000_000)
        assert (r.reason, r.status) == ("debug-exit", 1), r.message
        return probe, dict(m.stats.by_key), m.serial_output(), seen
    finally:
        m.close()


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_a_quiet_access_is_one_call_of_the_ports_server(accel):
    """One server per direction, one call per access, reached from the
    engine through the Machine-built counting server alone: the frame above
    the device's server is that server (machine.py), and the one above it
    the engine's code, not a Machine method."""
    probe, by_key, out, _ = _run(accel)
    assert sorted(probe.built) == [(0, False), (0, True)]
    assert probe.calls == 2 * ROUNDS
    assert probe.written == [(0x5A + n) & 0xFF for n in range(ROUNDS, 0, -1)]
    assert by_key["IO in 0x310"] == by_key["IO out 0x310"] == ROUNDS
    assert out == b"ok"
    for (file1, fn1), (file2, fn2) in probe.callers:
        assert (file1, fn1) == ("machine.py", "Machine._quiet_server.<locals>.serve")
        assert file2 != "machine.py", fn2


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", KVM])
def test_exits_are_counted_alike_on_every_engine(accel):
    """The polled guest's exits by port: those of the run loop serving
    every access (as with an exit observer, on the interpreter)."""
    _, reference, ref_out, seen = _run("interp", observe=True)
    assert len(seen) == sum(reference.values())
    assert reference == {"IO in 0x310": ROUNDS, "IO out 0x310": ROUNDS, "IO in 0x3fd": 2,
                         "IO out 0x3f8": 2, "IO out 0xf4": 1}
    _, by_key, out, _ = _run(accel)
    assert (by_key, out) == (reference, ref_out)


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_an_observer_added_between_runs_gets_every_exit(accel):
    """The servers built while nothing wanted real exits are forgotten
    when an exit observer is added: the accesses after it are exits it
    sees, and the device's server is no longer called."""
    m = Machine(accel=accel, memory=16 << 20)
    probe = Probe()
    try:
        m.ports.map(PROBE_PORT, 1, probe)
        m.load_image(loader.assemble(GUEST, "<test>", 0x7C00).data)
        m.run(icount_limit=400)
        quiet = probe.calls
        assert quiet > 0
        seen = []
        m.add_exit_observer(seen.append)
        r = m.run(icount_limit=1_000_000)
        assert r.reason == "debug-exit"
        assert probe.calls == quiet
        assert len([ex for ex in seen if ex.port == PROBE_PORT]) == 2 * ROUNDS - quiet
        assert m.stats.by_key["IO in 0x310"] == m.stats.by_key["IO out 0x310"] == ROUNDS
    finally:
        m.close()


#: 300 bytes to the debug console (port 0xE9, the immediate form of OUT)
DEBUGCON = """
    .code16
    mov cx, 300
    mov bl, 0x20
again:
    mov al, bl
    out 0xe9, al
    inc bl
    and bl, 0x3f
    or bl, 0x20
    loop again
    mov al, 0
    out 0xf4, al
"""


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_debug_console_output_is_served_inside_the_run(accel):
    """isa-debugcon has no interrupt and asks no stop: its writes are
    served quietly -- one engine run reaches isa-debug-exit, translated
    code does not bail at OUT 0xE9 -- and counted as IO exits."""
    m = Machine(accel=accel, memory=16 << 20)
    try:
        m.load_image(loader.assemble(DEBUGCON, "<test>", 0x7C00).data)
        ex = m.accel.run(None)
        assert (ex.reason, ex.port, ex.dispatched) == ("IO", 0xF4, True)
        want = bytearray()
        b = 0x20
        for _ in range(300):
            want.append(b)
            b = ((b + 1) & 0x3F) | 0x20
        assert m.serial_output() == bytes(want)
        assert m.stats.by_key == {"IO out 0xe9": 300, "IO out 0xf4": 1}
        if accel == "tcg":
            assert m.accel.counters["bails"] == 0
    finally:
        m.close()
