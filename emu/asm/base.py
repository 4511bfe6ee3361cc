"""What every assembler path shares: the image it produces, the one-line
error it raises, and the two ways an assembler is run without letting it
hang kasou.

* An external assembler (nasm, GNU as, ld) runs as a subprocess with a time
  limit; Ctrl-C ends it (``subprocess.run`` kills the child on any exception
  in the parent).
* keystone runs in-process C code that can loop forever (``[bits 16]``,
  ``.fill`` with a ``.``-relative count) with signals blocked, so it runs in
  a forked child (POSIX ``fork``; the child inherits the parent's keystone
  module as it is) that reports back through a pipe.  The parent waits in
  ``select`` -- interruptible -- and kills the child when it has said
  nothing for ``timeout`` seconds or when the parent is interrupted.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
from dataclasses import dataclass, field

LIBRARY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "guests", "lib")
TIMEOUT = 30.0          # seconds an assembler may run (or stay silent, in a worker)


class ImageError(Exception):
    """A guest image could not be read or assembled (one-line message)."""


class WorkerTimeout(Exception):
    """The worker said nothing for ``timeout`` seconds; ``progress`` is the
    last thing it reported."""

    def __init__(self, progress):
        super().__init__(progress)
        self.progress = progress


@dataclass
class Image:
    data: bytes
    name: str
    base: int = 0x7C00
    #: where to enter the image (an ELF's entry point); None: where the board
    #: enters an image it loads
    entry: int | None = None
    symbols: dict = field(default_factory=dict)   # label -> address
    lines: dict = field(default_factory=dict)     # address -> (file, line number)
    source: list = field(default_factory=list)    # source lines, for `list`
    sources: dict = field(default_factory=dict)   # file -> its lines (the main one and includes)
    assembler: str = ""                            # which assembler made it, and the dialect
    #: line starts in ``lines`` where no statement starts (DWARF rows with
    #: is_stmt false only): gdb's step and next do not stop there
    not_statements: set = field(default_factory=set)
    #: addresses of functions in Thumb code (an Arm ELF's STT_FUNC symbols
    #: with bit 0 set; ``symbols`` holds them without it)
    thumb: set = field(default_factory=set)

    def source_line(self, loc) -> str:
        """The text of a ``(file, line number)`` from ``lines``, or ''."""
        name, n = loc
        text = self.sources.get(name, self.source if name == self.name else [])
        return text[n - 1] if 0 < n <= len(text) else ""


def read_lines(*candidates) -> list:
    """The lines of the first of these files that can be read, or []."""
    for path in candidates:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            continue
    return []


def run_tool(args: list, what: str, timeout: float = TIMEOUT, cwd=None) -> subprocess.CompletedProcess:
    """Run an external tool with a time limit; ImageError if it cannot run
    or does not finish (its own failures are the caller's to read)."""
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ImageError(f"{what}: {os.path.basename(args[0])} did not finish in "
                         f"{timeout:g} s (stopped)") from None
    except OSError as e:
        raise ImageError(f"{what}: cannot run {args[0]} ({e.strerror})") from None


def _send(fd: int, message) -> None:
    blob = pickle.dumps(message)
    data = struct.pack("<I", len(blob)) + blob
    while data:
        data = data[os.write(fd, data):]


def in_worker(fn, *args, timeout: float = TIMEOUT):
    """``fn(progress, *args)`` in a forked child; its return value (or the
    exception it raised) here.  ``progress(x)`` tells the parent the child
    is alive and what it is doing; the child is killed after ``timeout``
    seconds without a message (WorkerTimeout with the last progress) or when
    the parent is interrupted (the KeyboardInterrupt goes on)."""
    rfd, wfd = os.pipe()
    # SIGINT waits (blocked) from before the fork until the parent is inside
    # the try whose finally kills the child: an interrupt arriving between
    # them would leave the child running, holding the caller's output open
    sigint = {signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigint)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigint)
        raise
    if pid == 0:                                    # the child
        status = 0
        try:
            os.close(rfd)
            signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent decides
            signal.pthread_sigmask(signal.SIG_UNBLOCK, sigint)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)                        # keystone's warnings: errors come back here
            try:
                result = ("ok", fn(lambda x: _send(wfd, ("progress", x)), *args))
            except BaseException as e:              # noqa: BLE001 -- sent to the parent as is
                result = ("raise", e)
            try:
                _send(wfd, result)
            except (pickle.PicklingError, TypeError, AttributeError):
                _send(wfd, ("raise", ImageError(f"{type(result[1]).__name__}: {result[1]}")))
        except BaseException:                       # noqa: BLE001 -- a child never returns
            status = 1
        finally:
            os._exit(status)
    progress, buf, done = None, b"", False
    try:
        os.close(wfd)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigint)
        while True:
            ready, _, _ = select.select([rfd], [], [], timeout)
            if not ready:
                raise WorkerTimeout(progress)
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                raise ImageError("the assembler's worker process ended without an answer")
            buf += chunk
            while len(buf) >= 4 and len(buf) >= 4 + struct.unpack("<I", buf[:4])[0]:
                n = struct.unpack("<I", buf[:4])[0]
                kind, value = pickle.loads(buf[4:4 + n])
                buf = buf[4 + n:]
                if kind == "progress":
                    progress = value
                    continue
                done = True
                if kind == "raise":
                    raise value
                return value
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigint)
        os.close(rfd)
        if not done:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
