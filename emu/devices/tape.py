"""An input tape: the bytes a console's far end offers a guest, in order.

A serial line or a semihosting console reads its input from a tape:
bytes given up front (``InputTape(b"...")``), bytes added with
``feed()``, and bytes pulled from a callable source (called with no
arguments, returning bytes, b"" or None; it must not block) when the
tape has run out.  The tape only grows; ``pos`` is how far the guest has
read, so a device that takes bytes back (a FIFO reset) moves ``pos``
back and the bytes are offered again.  Two devices that share one tape
(the ``virt`` board's PL011 and its semihosting console, which QEMU
multiplexes on one stdio) read one stream.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

InputSource = Union[None, bytes, bytearray, str, Callable[[], Optional[bytes]], "InputTape"]


class InputTape:
    """``InputTape(source=None)``: see the module docstring."""

    def __init__(self, source: InputSource = None):
        self.data = bytearray()
        self.pos = 0
        self.source: Optional[Callable[[], Optional[bytes]]] = None
        if callable(source):
            self.source = source
        elif source is not None:
            self.feed(source)

    @classmethod
    def of(cls, source: InputSource) -> "InputTape":
        """``source`` if it is already a tape, else a new tape reading it."""
        return source if isinstance(source, InputTape) else cls(source)

    def feed(self, data: Union[bytes, bytearray, str]) -> None:
        self.data += data.encode() if isinstance(data, str) else bytes(data)

    def available(self) -> int:
        """Bytes offered and not yet taken (pulling the source if none are)."""
        if self.pos == len(self.data) and self.source is not None:
            more = self.source()
            if more:
                self.data += more
        return len(self.data) - self.pos

    def take(self, n: int, gate=None) -> bytes:
        """Up to ``n`` bytes (fewer, or none, if the far end has no more now).

        ``gate`` (a device's ``input_gate``: None, or the debugger's record
        of when input arrived, :class:`emu.debug.record.InputLog`) decides
        how many move while it is ``replaying()`` -- the source is not read
        then -- and is told of each live transfer with ``record(n)``."""
        if gate is not None and gate.replaying():
            n = min(gate.replay(n), len(self.data) - self.pos)
        else:
            n = min(n, self.available())
            if n and gate is not None:
                gate.record(n)
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out

    def give_back(self, n: int) -> None:
        """Un-take the last ``n`` bytes taken."""
        self.pos -= n

    def pending(self) -> bytes:
        """Bytes offered and not yet taken (without pulling the source)."""
        return bytes(self.data[self.pos:])

    def snapshot(self) -> dict:
        return {"pos": self.pos, "pending": self.pending()}

    def restore(self, state: dict) -> None:
        """Back to a snapshot: the tape only grows, so on a rewind it already
        holds what was pending then; a fresh tape gets the saved rest."""
        pos, pending = int(state["pos"]), bytes(state["pending"])
        if bytes(self.data[pos:pos + len(pending)]) != pending:
            del self.data[pos:]
            self.data += bytes(max(0, pos - len(self.data)))    # unknown history
            self.data += pending
        self.pos = pos
