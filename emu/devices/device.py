"""The device contract: ``Device``, ``IrqLine``, ``StopRequest`` and ``Clock``.

Devices know nothing about backends, boards or the Machine.  A board places
a device on the port bus or the MMIO bus at a base address; the bus calls
``read(offset, size)`` / ``write(offset, size, value)`` with ``offset``
relative to that base and ``size`` in bytes (1, 2 or 4).

Three small pieces let a device talk to the rest of the machine without
knowing it:

* ``IrqLine`` -- an interrupt wire.  The device drives its level; the board
  connects the far end (a PIC input, the CPU's INTR pin) as a callback.
* ``StopRequest`` -- a device that wants the machine to stop (QEMU's
  ``isa-debug-exit``) sets ``self.stop_request``; setting it tells the
  Machine (:meth:`Device.on_stop_request`), which collects it after the
  I/O access and clears it once handled.  (An object on a bus that is no
  ``Device`` but has a ``stop_request`` attribute is looked at after
  every access instead.)
* ``Clock`` -- devices that count time (the 8254 PIT) read guest time in
  nanoseconds from a clock the Machine provides.  On software backends the
  Machine derives it from the instruction count (deterministic), on KVM
  from real time; devices do not care which.

``ManualClock`` is a ``Clock`` whose time only moves when told to; tests
and deterministic boards use it.

Snapshots are plain data (ints, bools, str, bytes, lists, dicts) so that
record/replay and savevm can store them without pickling objects.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, runtime_checkable

ACCESS_SIZES = (1, 2, 4)


def size_mask(size: int) -> int:
    """All-ones mask for an access of ``size`` bytes (1, 2 or 4)."""
    if size not in ACCESS_SIZES:
        raise ValueError(f"access size {size!r} is not 1, 2 or 4 bytes")
    return (1 << (8 * size)) - 1


@dataclass(frozen=True)
class StopRequest:
    """A device's request to stop the machine.

    ``status`` is the exit status the Machine should report (for
    isa-debug-exit, ``(value << 1) | 1``); ``reason`` says who asked and why,
    for the learner.
    """

    status: int
    reason: str


class IrqLine:
    """One interrupt wire, driven by a single device.

    ``level`` is the current level (True = asserted).  The callback, if
    connected, is called with the new level each time the level *changes*
    (setting the level it already has does nothing), so receivers such as an
    edge-triggered PIC input see every transition exactly once.
    """

    __slots__ = ("callback", "level")

    def __init__(self, callback: Optional[Callable[[bool], None]] = None):
        self.callback = callback
        self.level = False

    def connect(self, callback: Optional[Callable[[bool], None]]) -> None:
        """Attach the far end; it is told the current level if asserted."""
        self.callback = callback
        if callback is not None and self.level:
            callback(True)

    def set(self, level: bool) -> None:
        level = bool(level)
        if level == self.level:
            return
        self.level = level
        if self.callback is not None:
            self.callback(level)

    def raise_(self) -> None:
        self.set(True)

    def lower(self) -> None:
        self.set(False)

    def pulse(self) -> None:
        """Produce one rising edge and leave the line asserted."""
        self.set(False)
        self.set(True)

    def __repr__(self) -> str:
        return f"IrqLine(level={self.level})"


@dataclass(frozen=True)
class Doorbell:
    """A register whose writes only say "look at your queues" (a virtio
    QueueNotify): a write of ``value`` (``size`` bytes) at ``offset`` from
    the device's base.

    An engine that can take such a write without an exit (KVM's ioeventfd,
    ``Documentation/virt/kvm/api.rst`` KVM_IOEVENTFD) may do so and hand
    the device the write later, as ``write(offset, size, value)``; several
    writes may then arrive as one, so the device must treat one write as
    "everything pending"."""

    offset: int
    size: int
    value: int


@runtime_checkable
class Clock(Protocol):
    """Guest time as integer nanoseconds since machine power-on.

    ``now_ns()`` must never go backwards except when the Machine restores a
    snapshot (and then it restores the devices too).
    """

    def now_ns(self) -> int: ...


class ManualClock:
    """A ``Clock`` that moves only when told: ``advance(ns)`` or ``set(ns)``."""

    def __init__(self, now_ns: int = 0):
        self._now = int(now_ns)

    def now_ns(self) -> int:
        return self._now

    def advance(self, ns: int) -> int:
        if ns < 0:
            raise ValueError(f"clock cannot go backwards by {ns} ns")
        self._now += int(ns)
        return self._now

    def set(self, now_ns: int) -> None:
        self._now = int(now_ns)


class Device:
    """Base class.  A device sits on the port bus or MMIO bus at an address
    the board chooses.

    Subclasses implement ``read``/``write``/``reset``/``snapshot``/``restore``.
    ``region_size`` is the number of bytes of address space the device
    decodes, as a hint for the board when it maps the device.
    ``stop_request`` is ``None`` or a ``StopRequest`` the Machine acts on.
    ``inline_io``: the device reads no guest time and its accesses need
    nothing of the engine but their value, so an engine may have them
    served from inside its run (:meth:`emu.machine.Machine.serve_port_inline`)
    instead of returning an exit -- still counted and logged as one;
    ``quiet_io`` serves the accesses that may be served in the middle of
    translated code.
    """

    name: str = "device"
    region_size: int = 1
    inline_io: bool = False
    #: the registers served quietly by a method of their own, ``serve(size,
    #: value)`` as :meth:`quiet_io` for them (the ones a guest polls):
    #: ((offset, is_write, method name), ...)
    quiet_registers: tuple = ()
    #: the request itself (``stop_request`` reads and sets it) and who is
    #: told when one is made (:meth:`on_stop_request`)
    _stop_request: Optional[StopRequest] = None
    _stop_listener: Optional[Callable[["Device"], None]] = None

    def __init__(self, name: Optional[str] = None):
        if name is not None:
            self.name = name
        self.stop_request = None

    @property
    def stop_request(self) -> Optional[StopRequest]:
        """None, or the ``StopRequest`` the Machine is to act on."""
        return self._stop_request

    @stop_request.setter
    def stop_request(self, req: Optional[StopRequest]) -> None:
        self._stop_request = req
        if req is not None and self._stop_listener is not None:
            self._stop_listener(self)

    def on_stop_request(self, listener: Optional[Callable[["Device"], None]]) -> None:
        """Call ``listener(device)`` whenever a stop request is made (at
        once if one is pending): the Machine looks for requests only after
        it was told of one, not at every exit."""
        self._stop_listener = listener
        if listener is not None and self._stop_request is not None:
            listener(self)

    def read(self, offset: int, size: int) -> int:
        raise NotImplementedError(f"{type(self).__name__}.read")

    def write(self, offset: int, size: int, value: int) -> None:
        raise NotImplementedError(f"{type(self).__name__}.write")

    def reset(self) -> None:
        self.stop_request = None

    def snapshot(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        pass

    def doorbells(self) -> list:
        """The device's :class:`Doorbell` registers (none by default)."""
        return []

    @property
    def doorbells_armed(self) -> bool:
        """Would a doorbell write now do more than be counted (start work
        the guest or the output can see)?  True by default.  While False,
        an engine that takes doorbell writes without an exit may hold them
        until the next exit that reaches this device's own registers, an
        exit of another kind, or the end of the run (it hands them over
        then, counted as they were), instead of looking for them at every
        exit."""
        return True

    def quiet_io(self, offset: int, size: int, is_write: bool, value: int) -> int:
        """Serve an access from the middle of an engine's run (through
        :meth:`quiet_access`) if it is quiet: the device is ``inline_io`` --
        checked here, at each access -- and this access can neither change
        its interrupt line nor set ``stop_request`` -- then return the value
        read (0 for a write).  Else return -1 and do nothing (the engine makes
        the access the ordinary way).  None is quiet by default."""
        return -1

    def quiet_access(self, offset: int, is_write: bool) -> Optional[Callable[[int, int], int]]:
        """The server of the reads (writes) at ``offset`` that may be quiet:
        ``serve(size, value)`` returning what :meth:`quiet_io` returns for
        them, made once per register and direction (the bus keeps it:
        :class:`emu.quiet.QuietTable`); None when no access there is
        ever quiet (a device without :meth:`quiet_io`).  A register polled
        often has a server of its own (``quiet_registers``)."""
        own = self.own_quiet_server(offset, is_write)
        if own is not None:
            return own
        if type(self).quiet_io is Device.quiet_io:
            return None
        quiet = self.quiet_io

        def serve(size: int, value: int) -> int:
            return quiet(offset, size, is_write, value)
        return serve

    def own_quiet_server(self, offset: int, is_write: bool) -> Optional[Callable[[int, int], int]]:
        """The method ``quiet_registers`` names for ``offset`` and the
        direction, or None."""
        for off, write, method in self.quiet_registers:
            if off == offset and write == is_write:
                return getattr(self, method)
        return None

    def take_stop_request(self) -> Optional[StopRequest]:
        """Return the pending stop request (or None) and clear it."""
        req, self.stop_request = self.stop_request, None
        return req

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class ByteRegisterDevice(Device):
    """A device whose registers are all one byte wide (UART, PIC, PIT).

    A wider access is split into byte accesses at consecutive offsets,
    least significant byte first, as QEMU does for regions whose
    implementation size is 1 (``access_with_adjusted_size``).  Bytes that
    fall beyond ``region_size`` read as 0xFF and are dropped on write.
    Subclasses implement ``read_byte(offset)`` / ``write_byte(offset, value)``.
    """

    def read(self, offset: int, size: int) -> int:
        size_mask(size)
        value = 0
        for i in range(size):
            off = offset + i
            byte = self.read_byte(off) if off < self.region_size else 0xFF
            value |= (byte & 0xFF) << (8 * i)
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        value &= size_mask(size)
        for i in range(size):
            off = offset + i
            if off < self.region_size:
                self.write_byte(off, (value >> (8 * i)) & 0xFF)

    def read_byte(self, offset: int) -> int:
        raise NotImplementedError(f"{type(self).__name__}.read_byte")

    def write_byte(self, offset: int, value: int) -> None:
        raise NotImplementedError(f"{type(self).__name__}.write_byte")


def make_sink(sink) -> tuple[Callable[[bytes], None], Optional[bytearray]]:
    """Turn an output sink into ``(write, buffer)``.

    ``sink`` may be ``None`` (collect into a new bytearray, returned as
    ``buffer``), a bytearray (append to it; also returned as ``buffer``), a
    file-like object with ``write`` (bytes are written and, if it has
    ``flush``, flushed; a text stream's binary ``buffer`` is used), or a
    callable taking ``bytes``.  ``buffer`` is ``None`` for sinks the device
    cannot rewind.
    """
    if sink is None:
        sink = bytearray()
    if isinstance(sink, bytearray):
        return sink.extend, sink
    if isinstance(sink, io.TextIOBase) and hasattr(sink, "buffer"):
        sink = sink.buffer          # sys.stdout and friends: write the bytes
    write = getattr(sink, "write", None)
    if callable(write):
        flush = getattr(sink, "flush", None)

        def write_and_flush(data: bytes) -> None:
            write(data)
            if callable(flush):
                flush()
        return write_and_flush, None
    if callable(sink):
        return sink, None
    raise TypeError(f"output sink {sink!r} is not a bytearray, file or callable")
