"""Arm semihosting: the guest asks the host for console I/O, time and exit.

Model: *Semihosting for AArch32 and AArch64* (Arm, version 2.0), chapter 5
"Semihosting operations" and 4.1 "Semihosting extensions"; where the
specification leaves the host a choice, QEMU (``semihosting/arm-compat-semi.c``)
decides, since guests for ``-M virt -semihosting`` are run there.

The trap (``SVC 0x123456`` in A32, ``BKPT 0xAB`` in Thumb) is the engine's
business: it ends its run with a ``SEMIHOSTING`` exit (:class:`emu.exits.
SemihostingExit`: the operation from r0, the parameter from r1) when the
Machine has a semihosting service (``-semihosting``; off by default, as in
QEMU, and then the instruction is an ordinary SVC or BKPT).  The Machine's
run loop calls :meth:`Semihosting.call` and the engine puts the result in
r0 before the next instruction, as a VMM completes a hypercall.  Guest
memory is read and written through the Machine's RAM (32-bit words, the
AArch32 field size); a block outside RAM fails the call (-1, errno EFAULT).

Operations (number, parameter block, result):

    0x01 SYS_OPEN     [name, mode, length]: ``:tt`` only, the console: modes
                      0-3 (r) standard input, 4-7 (w) standard output, 8-11
                      (a) standard error; and ``:semihosting-features`` (4.1:
                      "SHFB" and a byte of extension bits, EXIT_EXTENDED and
                      STDOUT_STDERR).  There are no host files: any other
                      name fails with -1, errno ENOENT.
    0x02 SYS_CLOSE    [handle]: 0, or -1 (EBADF)
    0x03 SYS_WRITEC   r1 -> a character, written to the console
    0x04 SYS_WRITE0   r1 -> a NUL-terminated string, written to the console
    0x05 SYS_WRITE    [handle, buffer, length]: bytes *not* written (0)
    0x06 SYS_READ     [handle, buffer, length]: bytes *not* read (length at
                      end of input)
    0x07 SYS_READC    a character from the console (-1 at end of input)
    0x08 SYS_ISERROR  [status]: 1 if negative
    0x09 SYS_ISTTY    [handle]: 1 for the console, 0 for the features file
                      (QEMU asks the host whether its stdin/stdout is one)
    0x0A SYS_SEEK     [handle, position]: the features file seeks; the
                      console cannot, as a pipe cannot (-1, ESPIPE)
    0x0C SYS_FLEN     [handle]: the features file's length; the console's
                      is 0
    0x10 SYS_CLOCK    centiseconds of guest time since power-on
    0x11 SYS_TIME     seconds since the Unix epoch (the host's clock)
    0x13 SYS_ERRNO    errno of the last failed call
    0x15 SYS_GET_CMDLINE [buffer, size]: the command line ("" unless given;
                      -1, E2BIG, if it does not fit)
    0x16 SYS_HEAPINFO r1 -> a word -> a 4-word block: heap base, heap limit,
                      stack base, stack limit, as QEMU gives them: the
                      largest part of RAM the loaded image leaves free
                      (:meth:`Semihosting.set_image`) is the heap, from its
                      start, and the stack, from its end down
    0x18 SYS_EXIT     r1 = reason (AArch32): ADP_Stopped_ApplicationExit
                      (0x20026) stops with status 0, any other with 1
    0x20 SYS_EXIT_EXTENDED [reason, subcode]: ApplicationExit stops with
                      status ``subcode``, any other reason with 1
    0x30 SYS_ELAPSED  [low, high] <- guest time in ticks (nanoseconds)
    0x31 SYS_TICKFREQ ticks per second: 1000000000
    0x0D SYS_TMPNAM, 0x0E SYS_REMOVE, 0x0F SYS_RENAME, 0x12 SYS_SYSTEM:
                      -1, errno ENOSYS (no host files, no host commands)

SYS_WRITEC and SYS_WRITE0 return 0 (the specification leaves r0
corrupted).  An operation number not listed fails with -1 (ENOSYS) and
is counted in ``unsupported`` (QEMU aborts the emulator instead).  Exits
stop the machine through ``stop_request``, as isa-debug-exit does, with
the guest's own status (no ``(v << 1) | 1``).

Input: the console reads an input tape (:mod:`emu.devices.tape`), shared
with the board's UART as QEMU shares its stdio; a read takes what is
there (it does not wait for more), so ``SYS_READ`` of an exhausted tape
reports end of input.  ``input_gate``, as on the UARTs, lets the
debugger's recorder replay when input arrived.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from .device import Device, StopRequest, make_sink
from .tape import InputSource, InputTape

SYS_OPEN, SYS_CLOSE, SYS_WRITEC, SYS_WRITE0, SYS_WRITE, SYS_READ, SYS_READC = range(1, 8)
SYS_ISERROR, SYS_ISTTY, SYS_SEEK = 0x08, 0x09, 0x0A
SYS_FLEN, SYS_TMPNAM, SYS_REMOVE, SYS_RENAME, SYS_CLOCK, SYS_TIME, SYS_SYSTEM, SYS_ERRNO = (
    0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13)
SYS_GET_CMDLINE, SYS_HEAPINFO, SYS_EXIT, SYS_EXIT_EXTENDED = 0x15, 0x16, 0x18, 0x20
SYS_ELAPSED, SYS_TICKFREQ = 0x30, 0x31

ADP_STOPPED_APPLICATION_EXIT = 0x20026
FEATURES_NAME = b":semihosting-features"
CONSOLE_NAME = b":tt"
SH_EXT_EXIT_EXTENDED, SH_EXT_STDOUT_STDERR = 1, 2
FEATURES = b"SHFB" + bytes([SH_EXT_EXIT_EXTENDED | SH_EXT_STDOUT_STDERR])

# errno values (newlib's, which are Linux's for these)
ENOENT, E2BIG, EBADF, EFAULT, EINVAL, ESPIPE, ENOSYS = 2, 7, 9, 14, 22, 29, 38

MASK32 = 0xFFFFFFFF
FAIL = MASK32                   # -1 as a 32-bit register value


class GuestFault(Exception):
    """A parameter block or buffer outside RAM."""


class Semihosting(Device):
    """``Semihosting(ram, now_ns, sink=None, source=None, cmdline=b"")``:
    ``ram`` the Machine's RAM (``base``, ``size``, ``contains``,
    ``read_bytes``, ``load``), ``now_ns`` the guest clock, ``sink`` and
    ``source`` the console (as :func:`make_sink` and an input tape)."""

    name = "semihosting"
    region_size = 0

    def __init__(self, ram, now_ns: Callable[[], int], sink=None, source: InputSource = None,
                 cmdline: bytes = b"", name: Optional[str] = None):
        super().__init__(name)
        self.ram = ram
        self.now_ns = now_ns
        self._emit, self.output = make_sink(sink)
        self.tape = InputTape.of(source)
        self.cmdline = bytes(cmdline)
        self.calls = 0
        self.unsupported = 0
        self.input_gate = None          # record/replay of arrival times (emu.debug.record)
        self.image = (ram.base, ram.base)       # the loaded image: [start, end)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.errno = 0
        self.handles: dict[int, list] = {}     # handle -> [kind, position]
        self.next_handle = 1

    # -- the call -------------------------------------------------------------------
    def call(self, op: int, param: int) -> int:
        """Serve operation ``op`` with parameter ``param`` (r0, r1); return
        the value for r0 (32 bits)."""
        self.calls += 1
        handler = self._OPS.get(op)
        if handler is None:
            self.unsupported += 1
            return self._fail(ENOSYS)
        try:
            return handler(self, param) & MASK32
        except GuestFault:
            return self._fail(EFAULT)

    def _fail(self, errno: int) -> int:
        self.errno = errno
        return FAIL

    # -- guest memory -----------------------------------------------------------------
    def _bytes(self, addr: int, n: int) -> bytes:
        if n < 0 or not self.ram.contains(addr, max(n, 1)):
            raise GuestFault(addr)
        return self.ram.read_bytes(addr, n)

    def _put(self, addr: int, data: bytes) -> None:
        if data and not self.ram.contains(addr, len(data)):
            raise GuestFault(addr)
        if data:
            self.ram.load(addr, data)

    def _args(self, addr: int, n: int) -> list:
        raw = self._bytes(addr, 4 * n)
        return [int.from_bytes(raw[4 * i:4 * i + 4], "little") for i in range(n)]

    def _cstring(self, addr: int) -> bytes:
        """The NUL-terminated string at ``addr`` (which must end inside RAM)."""
        out = bytearray()
        end = self.ram.base + self.ram.size
        while True:
            at = addr + len(out)
            chunk = self._bytes(at, min(256, end - at) if at < end else 1)
            nul = chunk.find(b"\0")
            if nul >= 0:
                return bytes(out + chunk[:nul])
            out += chunk

    def _console_out(self, data: bytes) -> None:
        if data:
            self._emit(data)

    # -- files: the console and the features file ----------------------------------------
    def _open(self, param):
        name_addr, mode, length = self._args(param, 3)
        name = self._bytes(name_addr, length)
        if name == CONSOLE_NAME and 0 <= mode <= 11:
            kind = ("stdin", "stdout", "stderr")[mode // 4]
        elif name == FEATURES_NAME and mode in (0, 1):     # "r", "rb"
            kind = "features"
        else:
            return self._fail(ENOENT)
        h = self.next_handle
        self.next_handle += 1
        self.handles[h] = [kind, 0]
        return h

    def _file(self, h: int, kinds=("stdin", "stdout", "stderr", "features")):
        """The open file ``h`` if it is of one of ``kinds``, else None."""
        f = self.handles.get(h)
        return f if f is not None and f[0] in kinds else None

    def _close(self, param):
        (h,) = self._args(param, 1)
        if self.handles.pop(h, None) is None:
            return self._fail(EBADF)
        return 0

    def _write(self, param):
        h, buf, length = self._args(param, 3)
        if self._file(h, ("stdout", "stderr")) is None:
            return self._fail(EBADF)
        self._console_out(self._bytes(buf, length))
        return 0

    def _read(self, param):
        h, buf, length = self._args(param, 3)
        f = self._file(h, ("stdin", "features"))
        if f is None:
            return self._fail(EBADF)
        if f[0] == "features":
            data = FEATURES[f[1]:f[1] + length]
            f[1] += len(data)
        else:
            data = self.tape.take(length, self.input_gate)
        self._put(buf, data)
        return length - len(data)

    def _readc(self, param):
        data = self.tape.take(1, self.input_gate)
        return data[0] if data else FAIL

    def _istty(self, param):
        f = self._file(*self._args(param, 1))
        if f is None:
            return self._fail(EBADF)
        return int(f[0] != "features")

    def _seek(self, param):
        h, pos = self._args(param, 2)
        f = self._file(h)
        if f is None:
            return self._fail(EBADF)
        if f[0] != "features":
            return self._fail(ESPIPE)
        if pos > len(FEATURES):
            return self._fail(EINVAL)
        f[1] = pos
        return 0

    def _flen(self, param):
        f = self._file(*self._args(param, 1))
        if f is None:
            return self._fail(EBADF)
        return len(FEATURES) if f[0] == "features" else 0

    # -- console characters -------------------------------------------------------------
    def _writec(self, param):
        self._console_out(self._bytes(param, 1))
        return 0

    def _write0(self, param):
        self._console_out(self._cstring(param))
        return 0

    # -- time, errors, environment --------------------------------------------------------
    def _clock(self, param):
        return self.now_ns() // 10_000_000

    def _time(self, param):
        return int(time.time())

    def _iserror(self, param):
        (status,) = self._args(param, 1)
        return int(status & 0x80000000 != 0)

    def _errno(self, param):
        return self.errno

    def _no_host(self, param):
        return self._fail(ENOSYS)

    def _get_cmdline(self, param):
        buf, size = self._args(param, 2)
        text = self.cmdline + b"\0"
        if len(text) > size:
            return self._fail(E2BIG)
        self._put(buf, text)
        self._put(param + 4, (len(text) - 1).to_bytes(4, "little"))
        return 0

    def set_image(self, start: int, end: int) -> None:
        """The loaded image occupies [start, end) of RAM (SYS_HEAPINFO)."""
        self.image = (start, end)

    def heap_info(self) -> tuple:
        """(heap base, heap limit, stack base, stack limit), as QEMU: the
        larger of the free parts of RAM below and above the image (the one
        above on a tie), its start the heap base and its end the stack base."""
        base, end = self.ram.base, self.ram.base + self.ram.size
        lo, hi = self.image
        below, above = (base, max(base, lo)), (min(hi, end), end)
        gap = below if below[1] - below[0] > above[1] - above[0] else above
        return (gap[0], gap[1] & MASK32, gap[1] & MASK32, gap[0])

    def _heapinfo(self, param):
        (block,) = self._args(param, 1)
        self._put(block, b"".join(v.to_bytes(4, "little") for v in self.heap_info()))
        return 0

    def _elapsed(self, param):
        ns = self.now_ns()
        low, high = ns & MASK32, (ns >> 32) & MASK32
        self._put(param, low.to_bytes(4, "little") + high.to_bytes(4, "little"))
        return 0

    def _tickfreq(self, param):
        return 1_000_000_000

    # -- exits ---------------------------------------------------------------------------
    def _stop(self, status: int, why: str) -> int:
        if self.stop_request is None:
            self.stop_request = StopRequest(status, f"semihosting: {why}")
        return 0

    def _exit(self, param):
        if param == ADP_STOPPED_APPLICATION_EXIT:
            return self._stop(0, "SYS_EXIT (ADP_Stopped_ApplicationExit)")
        return self._stop(1, f"SYS_EXIT with reason 0x{param:x}")

    def _exit_extended(self, param):
        reason, subcode = self._args(param, 2)
        if reason == ADP_STOPPED_APPLICATION_EXIT:
            return self._stop(subcode, f"SYS_EXIT_EXTENDED with status {subcode}")
        return self._stop(1, f"SYS_EXIT_EXTENDED with reason 0x{reason:x}")

    _OPS = {
        SYS_OPEN: _open, SYS_CLOSE: _close, SYS_WRITEC: _writec, SYS_WRITE0: _write0,
        SYS_WRITE: _write, SYS_READ: _read, SYS_READC: _readc, SYS_ISERROR: _iserror,
        SYS_ISTTY: _istty, SYS_SEEK: _seek, SYS_FLEN: _flen, SYS_TMPNAM: _no_host,
        SYS_REMOVE: _no_host, SYS_RENAME: _no_host, SYS_CLOCK: _clock, SYS_TIME: _time,
        SYS_SYSTEM: _no_host, SYS_ERRNO: _errno, SYS_GET_CMDLINE: _get_cmdline,
        SYS_HEAPINFO: _heapinfo, SYS_EXIT: _exit, SYS_EXIT_EXTENDED: _exit_extended,
        SYS_ELAPSED: _elapsed, SYS_TICKFREQ: _tickfreq,
    }

    # -- snapshots ------------------------------------------------------------------------
    def snapshot(self) -> dict:
        req = self.stop_request
        return {"errno": self.errno, "next_handle": self.next_handle,
                "handles": {str(h): list(f) for h, f in self.handles.items()},
                "tape": self.tape.snapshot(),
                "stop": None if req is None else [req.status, req.reason]}

    def restore(self, state: dict) -> None:
        self.errno = int(state["errno"])
        self.next_handle = int(state["next_handle"])
        self.handles = {int(h): [str(f[0]), int(f[1])] for h, f in state["handles"].items()}
        self.tape.restore(state["tape"])
        stop = state["stop"]
        self.stop_request = None if stop is None else StopRequest(int(stop[0]), str(stop[1]))
