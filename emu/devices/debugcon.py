"""QEMU's ``isa-debugcon``: the Bochs-style "port 0xE9" debug console.

Model: QEMU ``hw/char/debugcon.c`` (no datasheet; QEMU is the reference).

* A write sends one byte, the low 8 bits of the value, to the output sink
  (``unsigned char ch = val`` in ``debugcon_ioport_write``).
* A read returns the ``readback`` value, 0xE9 by default (QEMU's
  ``readback`` property), so a guest can probe for the device.
* QEMU's default ``iobase`` is 0xE9 and the region is 1 byte wide.
* It has no interrupt, reads no guest time and never asks to stop, so
  every access is served from inside an engine's run (``inline_io``) and
  quietly (``quiet_io``: from the middle of translated code), still counted
  as an IO exit.

Output sink: ``None`` (collect in ``self.output``, a bytearray), a
bytearray, a file-like object with ``write`` (text streams are written
through their binary buffer), or a callable taking ``bytes``.

Deliberate deviations from QEMU:

* QEMU declares the region valid for 1-byte accesses only.  Here a 2- or
  4-byte access is accepted: a write emits only the low byte, a read returns
  ``readback`` zero-extended.
"""

from __future__ import annotations

from typing import Optional

from emu.devices.device import Device, make_sink, size_mask


class DebugCon(Device):
    """``DebugCon(sink=None, readback=0xE9, name="debugcon")``."""

    name = "debugcon"
    region_size = 1
    inline_io = True

    def __init__(self, sink=None, readback: int = 0xE9, name: Optional[str] = None):
        super().__init__(name)
        self._emit, self.output = make_sink(sink)
        self._output_base = 0 if self.output is None else len(self.output)
        self.readback = readback & 0xFF
        self.bytes_tx = 0

    def read(self, offset: int, size: int) -> int:
        return self.readback & size_mask(size)

    def write(self, offset: int, size: int, value: int) -> None:
        size_mask(size)
        self._emit(bytes([value & 0xFF]))
        self.bytes_tx += 1

    def quiet_io(self, offset: int, size: int, is_write: bool, value: int) -> int:
        """Device.quiet_io: every access (no interrupt, no stop request)."""
        if size not in (1, 2, 4):
            return -1
        if is_write:
            self._emit(bytes((value & 0xFF,)))
            self.bytes_tx += 1
            return 0
        return self.readback

    def reset(self) -> None:
        super().reset()

    def snapshot(self) -> dict:
        return {"bytes_tx": self.bytes_tx}

    def restore(self, state: dict) -> None:
        """Rewind the byte count; a bytearray sink is truncated to match."""
        self.bytes_tx = int(state["bytes_tx"])
        end = self._output_base + self.bytes_tx
        if self.output is not None and len(self.output) > end:
            del self.output[end:]
