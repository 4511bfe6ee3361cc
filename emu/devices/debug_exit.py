"""QEMU's ``isa-debug-exit`` device: a port write that stops the machine.

Model: QEMU ``hw/misc/debugexit.c`` (no datasheet; QEMU is the reference).

* A write of value ``v`` (of any access size 1..4, at any offset inside the
  device) requests a stop with status ``(v << 1) | 1``, exactly as QEMU's
  ``debug_exit_write`` computes it.  Status is therefore always odd, so a
  test harness can tell "the guest asked to exit" (odd) from QEMU's own
  exit codes (0 = normal exit).  ``v`` is the value as written, masked to
  the access size (a 1-byte ``out 0xf4, al`` of 0xFF gives 0x1FF).
* A read returns 0, as QEMU's ``debug_exit_read`` does (added to QEMU so
  that reads no longer crash it); it does not return all ones.
* QEMU's defaults are ``iobase=0x501, iosize=2``; kasou's pc board uses
  ``iobase=0xf4``, and ``iosize`` is a constructor argument (1, 2 or 4).

Deliberate deviations from QEMU:

* QEMU calls ``exit()`` (newer versions request a shutdown with that exit
  code) at once.  Here the device only sets ``stop_request``; the Machine
  polls it after the I/O access.  When QEMU exits the host process, the
  shell sees ``status & 0xFF``; ``StopRequest.status`` keeps the full value
  and truncating it for a process exit code is the CLI's business.
* If the guest writes again before the Machine has taken the request, the
  first request is kept (QEMU would already have exited on the first one).
"""

from __future__ import annotations

from typing import Optional

from emu.devices.device import Device, StopRequest, size_mask


class IsaDebugExit(Device):
    """``IsaDebugExit(iosize=4, name="isa-debug-exit")``."""

    name = "isa-debug-exit"
    inline_io = True        # a write only records the stop request

    def __init__(self, iosize: int = 4, name: Optional[str] = None):
        super().__init__(name)
        if iosize not in (1, 2, 4):
            raise ValueError(f"isa-debug-exit iosize {iosize!r}: expected 1, 2 or 4")
        self.iosize = iosize
        self.region_size = iosize

    @staticmethod
    def status_for(value: int) -> int:
        """The exit status QEMU computes for a written value."""
        return (value << 1) | 1

    def read(self, offset: int, size: int) -> int:
        size_mask(size)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= size_mask(size)
        if self.stop_request is None:
            self.stop_request = StopRequest(
                self.status_for(value),
                f"isa-debug-exit: guest wrote 0x{value:x} (size {size})")

    def reset(self) -> None:
        self.stop_request = None

    def snapshot(self) -> dict:
        req = self.stop_request
        return {"iosize": self.iosize,
                "stop": None if req is None else [req.status, req.reason]}

    def restore(self, state: dict) -> None:
        stop = state["stop"]
        self.stop_request = None if stop is None else StopRequest(int(stop[0]), str(stop[1]))
