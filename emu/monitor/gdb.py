"""The gdb stub under the monitor: ``-gdb`` together with ``-qmp``/
``-monitor``, and HMP's ``gdbserver`` (QEMU ``gdbstub/system.c``,
``gdb_vm_state_change``; ``hmp-commands.hx``, "gdbserver").

One run state serves both.  The guest runs on the main thread (the
monitor's run loop); gdb is served on a thread of its own, and every packet
it sends is handled on the main thread between runs, as a monitor command
is.  As in QEMU:

* gdb connecting stops a running guest (``paused``, QMP ``STOP``);
* gdb's ``c``/``s`` resume it (``RESUME``) and the stop reply comes when it
  stops: a breakpoint, watchpoint or finished step puts it in the ``debug``
  run state (``STOP``, then kasou's ``X-KASOU-DEBUG-STOP``), gdb's Ctrl-C
  or the monitor's ``stop`` in ``paused`` (gdb hears SIGINT, ``T02``), the
  guest ending in ``shutdown`` (gdb hears ``W``/``X``);
* the monitor's ``cont`` resumes a guest gdb stopped (gdb, which believes it
  stopped, is told nothing until it asks again), and gdb's ``c`` one the
  monitor stopped;
* gdb's detach (``D``) resumes the guest, ``k`` ends the run.

While a stub is active the guest runs through the debugger's
:class:`~emu.debug.session.Session` (its breakpoints and watchpoints; on
KVM, which counts instructions only while stepping, every instruction is
stepped).  ``-icount-limit`` is then checked between the session's chunks
of instructions, so a run may end up to one chunk past it.
"""

from __future__ import annotations

import threading

from ..debug.gdbstub import Disconnected, GdbStub
from ..debug.session import Stop
from .qmp import Quit

#: handle()'s answer to c/s: the stop reply comes when the guest stops
WAIT = object()
#: how often (host seconds) the waiting gdb thread looks for gdb's Ctrl-C
POLL = 0.05


class GdbServer(GdbStub):
    """A gdb stub that shares the run state of a Monitor (see the module
    docstring); ``serve`` runs on a thread of its own."""

    def __init__(self, mon, port: int):
        super().__init__(mon.machine, mon.image, port=port)
        self.mon = mon
        self.action = None          # "c" or "s": what gdb asked the guest to do
        self.waiting = False        # gdb waits for a stop reply
        self.interrupt = False      # gdb's Ctrl-C, for the main thread
        self.budget_end = None      # the engine's icount where run_guest stops (-icount-limit)
        self.stopped = threading.Event()
        self.closing = False

    # -- the gdb thread --------------------------------------------------------------------
    def serve(self, freeze: bool = True) -> int:
        """Serve one gdb after another until the stub is closed or the run ends."""
        while not self.closing:
            try:
                self.conn, _ = self.listener.accept()
            except OSError:               # the listener was closed
                break
            try:
                self.mon.call(self._attached)
                if not self.serve_connection():
                    self.mon.call(self._detached)
            except Quit:                  # the run is over
                break
        return 0

    def handle(self, pkt: bytes):
        reply = self.mon.call(lambda: GdbStub.handle(self, pkt))
        if reply is WAIT:
            reply = self._wait_for_stop()
        if reply is Ellipsis and pkt == b"k":
            self.mon.call(self.mon.quit)  # QEMU: gdb's kill ends the emulator
        return reply

    def _wait_for_stop(self) -> bytes:
        """Until the main thread reports the stop; a Ctrl-C from gdb asks for one."""
        while not self.stopped.wait(POLL):
            if self.closing or self.mon.closed.is_set():
                raise Disconnected()
            if GdbStub._interrupt_pending(self):
                self.interrupt = True
                self.mon.machine.request_stop()
        return self.last_stop

    def _interrupt_pending(self) -> bool:
        """Polled by the session on the main thread: gdb's Ctrl-C, or work
        for the main thread (a monitor command, a packet)."""
        return (self.interrupt or self.mon.has_jobs()
                or (self.budget_end is not None and self.machine.accel.icount >= self.budget_end))

    # -- the main thread --------------------------------------------------------------------
    def _attached(self) -> None:
        mon = self.mon
        if mon.state == "running":
            mon.set_state("paused")         # gdb hears SIGINT (vm_stopped)

    def _detached(self) -> None:
        s = self.session
        s.breakpoints.clear()
        s.watchpoints.clear()
        self.waiting = False
        if self.mon.state in ("paused", "debug", "prelaunch"):
            self.mon.set_state("running")

    def resume(self, how: str):
        if how not in ("c", "s") or self.mon.state == "shutdown":
            return super().resume(how)
        self.action = how
        self.waiting = True
        self.stopped.clear()
        self.mon.set_state("running")
        return WAIT

    def run_guest(self, budget: int | None = None) -> Stop:
        """Run the guest as gdb asked (continue, or one step) until it
        stops, the main thread has other work, or about ``budget``
        instructions ran (Stop ``interrupted``: the session looks between
        its chunks of instructions)."""
        s = self.session
        accel = self.machine.accel
        self.budget_end = None if budget is None else accel.icount + budget
        s.interrupt_requested = self._interrupt_pending
        try:
            st = s.step(1) if self.action == "s" else s.cont()
        finally:
            self.budget_end = None
        if st.reason != "interrupted":
            self.action = None
        return st

    def vm_stopped(self, st: Stop | None) -> None:
        """The run state left ``running`` (main thread; QEMU's
        ``gdb_vm_state_change``): ``st`` the debugger's stop, None for a
        stop from outside the debugger (gdb hears SIGINT)."""
        self.report(st if st is not None else Stop("interrupted"))

    def report(self, st: Stop) -> None:
        """The guest stopped (main thread): the stop reply, for gdb if it waits."""
        self.last_stop = self.stop_reply(st).encode()
        self.interrupt = False
        if self.waiting:
            self.waiting = False
            self.stopped.set()

    def close(self) -> None:
        self.closing = True
        self.stopped.set()
        super().close()
