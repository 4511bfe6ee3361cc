"""Ctrl-C (SIGINT) and SIGTERM: stop whatever runs, then end with one line.

What is modelled: how a VMM stops a running guest on a signal, as QEMU's
``qemu_kill_report``/``cpu_exit`` path does: the signal handler only records
the signal and asks the running engines to stop; the engines leave their
run at the next instruction or block boundary, and the run loop then raises
:class:`Interrupted` from ordinary Python code.  Raising from the handler
itself is not safe while an engine runs: Python runs the handler wherever
the main thread is, which may be inside a ctypes callback (unicorn's hooks)
or a ``__del__`` (capstone's), where an exception is printed as "Exception
ignored" and dropped.

* :class:`StopSignals` installs the handlers (``emu``'s ``main()`` does, for
  the whole command) and restores the old ones on exit.
* :meth:`StopSignals.running` registers a stop function (``Machine.run``
  registers ``Machine.request_stop``) and defers the raise while it runs;
  :meth:`StopSignals.deferred` defers it around other loops that check
  (``emu diff``'s lockstep).  Outside those, the handler raises at once, so
  that a wait for a connection or for input ends too.
* :func:`check` raises a pending signal from a loop that drives engines
  without ``Machine.run`` (the conformance runner checks per vector).
* :func:`current` finds the installed guard (through ``signal.getsignal``:
  signal handlers are process-wide, nothing else here is), or None.

The first signal wins; :meth:`StopSignals.take` hands it out once, as the
exception (status 128 + the signal number: 130 for SIGINT, 143 for SIGTERM).
SIGINT's exception is a ``KeyboardInterrupt``, so code that catches Ctrl-C
(the debugger's prompt) still does; SIGTERM's is not.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The command was stopped by a signal.  ``status`` is the exit status
    (128 + signal number), ``line`` the one line ``emu`` prints."""

    def __init__(self, signum: int, result=None):
        self.signum = signum
        self.status = 128 + signum
        self.result = result            # the RunResult of the run it stopped, if any
        word = "interrupted" if signum == signal.SIGINT else "terminated"
        self.line = f"emu: {word}"
        super().__init__(f"{word} by {signal.Signals(signum).name}")


class KeyboardInterrupted(Interrupted, KeyboardInterrupt):
    """SIGINT: also a KeyboardInterrupt, for code that catches Ctrl-C."""


def interruption(signum: int, result=None) -> Interrupted:
    cls = KeyboardInterrupted if signum == signal.SIGINT else Interrupted
    return cls(signum, result)


class StopSignals:
    """The SIGINT/SIGTERM handlers of one command (a context manager; main
    thread only)."""

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = tuple(signals)
        self.signum = None
        self._stoppers = []
        self._defer = 0
        self._old = {}
        self._lock = threading.Lock()

    def __enter__(self):
        for s in self.signals:
            self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()
        return False

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        for stop in tuple(self._stoppers):
            stop()
        if not self._defer:
            raise self.take()

    def take(self, result=None):
        """The pending signal as an exception (and forget it), or None."""
        with self._lock:
            signum, self.signum = self.signum, None
        return None if signum is None else interruption(signum, result)

    def check(self, result=None) -> None:
        """Raise the pending signal, if any."""
        exc = self.take(result)
        if exc is not None:
            raise exc

    @contextmanager
    def deferred(self):
        """Inside: the handler never raises (the code checks)."""
        self._defer += 1
        try:
            yield self
        finally:
            self._defer -= 1

    @contextmanager
    def running(self, stop):
        """Inside: ``stop()`` is called on a signal, and the handler never
        raises."""
        self._stoppers.append(stop)
        self._defer += 1
        try:
            yield self
        finally:
            self._defer -= 1
            self._stoppers.remove(stop)


def current() -> StopSignals | None:
    """The installed :class:`StopSignals`, or None."""
    handler = signal.getsignal(signal.SIGINT)
    guard = getattr(handler, "__self__", None)
    return guard if isinstance(guard, StopSignals) else None


@contextmanager
def deferred():
    """:meth:`StopSignals.deferred` of the installed guard (if any)."""
    guard = current()
    if guard is None:
        yield None
        return
    with guard.deferred():
        yield guard


def check() -> None:
    """Raise the installed guard's pending signal, if any: for loops that
    call ``Machine.run`` many times (the conformance runner, between
    vectors)."""
    guard = current()
    if guard is not None:
        guard.check()
