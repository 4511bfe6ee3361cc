"""The monitor's run loop: the guest runs on the main thread while QMP and
HMP clients are served on their own threads, as QEMU's main loop serves its
monitors while vCPU threads run.

Anything that reads or changes the machine (registers, memory, reset,
``stop``/``cont``) runs on the main thread, between runs: a client thread
queues it and asks the running engine to stop (:meth:`Machine.request_stop`:
KVM is kicked out of ``KVM_RUN`` with ``immediate_exit``, unicorn's
``emu_stop``, the translator and the interpreter at their next block or
slice boundary), the main thread serves the queue and, unless the command
was ``stop``, resumes the guest where it stopped.  Such a pause is not a
run-state change and sends no event; ``stop`` and ``cont`` change the run
state (QEMU's ``RunState``: ``prelaunch`` under ``-S``, ``running``,
``paused``, ``shutdown``) and send STOP and RESUME.

Python threads share one interpreter lock, which a waiting thread gets
when the running one is asked to drop it (every 5 ms) -- unless the running
thread keeps releasing and taking it back itself: each short release (a
write of a serial byte to its file) wakes the waiting thread, which loses
the race and starts its 5 ms wait again.  A guest that prints fast would
keep a client thread from ever serving its command.  So while the guest
runs, the main thread sleeps for a moment at a VM exit every
:data:`YIELD_EVERY` seconds (an exit observer), long enough for a waiting
client thread to take the lock; a guest without exits needs no such help.

A gdb stub (``-gdb`` or HMP ``gdbserver``, :mod:`.gdb`) shares the run
state: while one is active the guest runs through the debugger's session,
a breakpoint, watchpoint or step puts it in the ``debug`` state (STOP and
kasou's ``X-KASOU-DEBUG-STOP``), and leaving ``running`` for any reason
answers a gdb that waits in ``continue``.  Under ``emu debug`` the REPL
debugger is the client that runs the guest, with its own loop
(:mod:`.debugger`), and serves the monitor's work between its commands and
its chunks of instructions.

When the guest ends (isa-debug-exit, HLT with interrupts off, a crash) the
clients hear SHUTDOWN -- ``guest-shutdown``, or ``guest-reset`` for a triple
fault, as QEMU with ``-no-reboot`` -- and ``emu run`` ends with the guest's
status, as without a monitor; ``quit`` ends it with 0.
"""

from __future__ import annotations

import os
import queue
import socket
import sys
import threading
import time

from .. import signals
from ..machine import STATUS_GUEST_CRASH, STATUS_HALT, STATUS_LIMIT, RunResult
from . import snapshot
from .hmp import Hmp, HmpConnection
from .qmp import QmpConnection, Quit


#: at most this often (host seconds), a VM exit lets the client threads run
YIELD_EVERY = 0.01
#: ... for this long (host seconds)
YIELD_FOR = 0.0002


class _Job:
    def __init__(self, fn):
        self.fn = fn
        self.done = threading.Event()
        self.value = None
        self.error = None


def timestamp() -> dict:
    t = time.time()
    sec = int(t)
    return {"seconds": sec, "microseconds": int((t - sec) * 1_000_000)}


class Monitor:
    """One Machine, its run state, and every monitor client of one run."""

    def __init__(self, machine, image=None, name: str | None = None, paused: bool = False):
        self.machine = machine
        self.image = image
        self.name = name
        self.state = "prelaunch" if paused else "running"      # -S: prelaunch until cont
        self.status = None          # exit status once the run is over
        self.last_result = None     # the RunResult that ended the guest
        self.jobs = queue.Queue()
        self.lock = threading.Lock()
        self.clients = set()        # QMP connections in command mode (events go there)
        self.listeners = []
        self.threads = []
        self.ending = threading.Event()     # the run is over: no more work for the main thread
        self.closed = threading.Event()
        self.first_client = threading.Event()
        self.main_thread_id = threading.get_ident()
        self.busy = 0               # commands whose reply is not written yet
        self.idle = threading.Condition(self.lock)
        self._yielded = 0.0         # when the main thread last let client threads run
        self.gdb = None             # the gdb stub (.gdb.GdbServer), once one is started
        #: emu debug's REPL (.debugger.ReplDriver), which runs the guest
        #: itself: the run loop is then the REPL's, not :meth:`run`
        self.debugger = None

    def let_clients_run(self, ex) -> None:
        """Exit observer: now and then, let a client thread that waits for
        the interpreter lock take it (see the module docstring)."""
        now = time.monotonic()
        if now - self._yielded >= YIELD_EVERY:
            self._yielded = now
            time.sleep(YIELD_FOR)

    # -- run state and events ------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.state == "running"

    def emit(self, event: str, data: dict | None = None) -> None:
        msg = {"event": event}
        if data is not None:
            msg["data"] = data
        msg["timestamp"] = timestamp()
        with self.lock:
            clients = list(self.clients)
        for c in clients:
            c.send_message(msg)

    def set_state(self, state: str, stop=None) -> None:
        """Change the run state (main thread), with QEMU's STOP/RESUME; a
        gdb waiting for the guest to stop hears why (``stop``, the
        debugger's Stop; None: it was interrupted)."""
        was = self.state
        self.state = state
        if state == "running" and was != "running":
            self.emit("RESUME")
        elif was == "running" and state in ("paused", "debug"):
            self.emit("STOP")
            if self.gdb is not None:
                self.gdb.vm_stopped(stop)

    def command_started(self) -> None:
        with self.lock:
            self.busy += 1

    def command_done(self) -> None:
        with self.lock:
            self.busy -= 1
            self.idle.notify_all()

    # -- work for the main thread ----------------------------------------------------------
    def call(self, fn):
        """Run ``fn()`` on the main thread, between runs of the guest, and
        return its value (or raise its exception) in the calling thread."""
        if threading.get_ident() == self.main_thread_id:
            return fn()
        if self.ending.is_set():
            raise Quit()
        job = _Job(fn)
        self.jobs.put(job)
        if self.state == "running":
            self.machine.request_stop()
        while not job.done.wait(0.1):
            if self.ending.is_set():        # the main thread serves no more
                raise Quit()
        if job.error is not None:
            raise job.error
        return job.value

    def has_jobs(self) -> bool:
        """Work waits for the main thread."""
        return not self.jobs.empty()

    def serve_jobs(self, block: bool) -> None:
        try:
            job = self.jobs.get(timeout=0.1) if block else self.jobs.get_nowait()
        except queue.Empty:
            return
        while True:
            try:
                job.value = job.fn()
            except Quit:
                job.done.set()
                raise
            except Exception as e:      # handed to the client thread, which reports it
                job.error = e
            job.done.set()
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return

    # -- the run ------------------------------------------------------------------------------
    def run(self, wait: bool = False, icount_limit: int | None = None) -> int:
        """Run the guest under the monitor until it ends or ``quit``; the
        exit status.  ``icount_limit`` counts the instructions of the whole
        run, across stops."""
        while wait and not self.first_client.wait(0.1):
            signals.check()
        m = self.machine
        start = m.accel.icount
        m.add_exit_observer(self.let_clients_run)
        try:
            while True:
                signals.check()
                if self.state != "running":
                    self.serve_jobs(block=True)
                    continue
                left = None if icount_limit is None else max(icount_limit - (m.accel.icount - start), 0)
                if self.gdb is not None:
                    r = self._run_debugged(left)
                    if r is None:
                        continue
                    if r.reason == "limit":     # counted between the session's chunks
                        r.message = (f"instruction limit reached ({icount_limit} instructions; "
                                     f"{m.accel.icount - start} ran under the gdb stub)")
                    return self._ended(r)
                r = m.run(icount_limit=left)
                if r.reason == "stopped":
                    self.serve_jobs(block=False)
                    continue
                if r.reason == "limit" and left != icount_limit:
                    # the Machine counted from this run's start: say the whole run's limit
                    r.message = r.message.replace(str(left), str(icount_limit))
                return self._ended(r)
        except Quit:
            self.status = STATUS_HALT
            return STATUS_HALT
        finally:
            m.remove_exit_observer(self.let_clients_run)

    def _ended(self, r) -> int:
        """The guest ended with RunResult ``r``: SHUTDOWN, and the run's status."""
        self.last_result = r
        self.status = r.status
        if r.reason == "limit":     # -icount-limit: the host's decision
            self.shut_down(False, "none")
        else:
            self.guest_ended(r.reason in ("shutdown", "fail-entry", "internal-error",
                                          "unknown-exit"))
        return r.status

    def guest_ended(self, crashed: bool) -> None:
        """The guest ended (``crashed``: a triple fault or the like, which
        QEMU with ``-no-reboot`` reports as a reset): SHUTDOWN."""
        self.shut_down(True, "guest-reset" if crashed else "guest-shutdown")

    def shut_down(self, guest: bool, reason: str) -> None:
        """The ``shutdown`` run state and QEMU's SHUTDOWN event."""
        self.state = "shutdown"
        self.emit("SHUTDOWN", {"guest": guest, "reason": reason})

    # -- the gdb stub ------------------------------------------------------------------------
    def start_gdbserver(self, port: int) -> int:
        """Serve gdb on 127.0.0.1:``port`` (main thread), in place of a
        stub already started; the port it listens on (OSError if none)."""
        from .gdb import GdbServer
        self.stop_gdbserver()
        self.gdb = GdbServer(self, port)
        self._start(self.gdb.serve)
        return self.gdb.port

    def stop_gdbserver(self) -> None:
        """Stop serving gdb (main thread); a gdb connected is disconnected."""
        g, self.gdb = self.gdb, None
        if g is not None:
            g.close()

    def _run_debugged(self, left):
        """Run the guest through the gdb stub's session until it stops: a
        RunResult when the guest ended (or the limit), else None."""
        g = self.gdb
        if left is not None and left <= 0:
            return RunResult("limit", STATUS_LIMIT, "instruction limit reached")
        st = g.run_guest(left)
        if st.reason == "exited":
            r = RunResult("debug-exit", st.status, st.message)
        elif st.reason == "halted":
            r = RunResult("halt", STATUS_HALT, st.message)
        elif st.reason == "crashed":
            r = RunResult("shutdown", STATUS_GUEST_CRASH, st.message)
        elif st.reason == "interrupted":
            if g.interrupt:             # gdb's Ctrl-C: paused, as QEMU's
                self.set_state("paused", st)
            else:                       # work for the main thread (the monitor's stop, ...)
                self.serve_jobs(block=False)
            return None
        else:                           # a breakpoint, a watchpoint, a step
            self.set_state("debug", st)
            self.emit_debug_stop(st)
            return None
        g.report(st)
        return r

    def emit_debug_stop(self, st) -> None:
        """kasou's ``X-KASOU-DEBUG-STOP``: why and where the debugger stopped the guest."""
        data = {"reason": "watchpoint" if st.reason == "watchpoint" else
                ("breakpoint" if st.reason == "breakpoint" else "step"),
                "address": st.pc}
        if st.watch is not None:
            data["watch-kind"], data["watch-address"] = st.watch
        self.emit("X-KASOU-DEBUG-STOP", data)

    def quit(self):
        """``quit`` (main thread): the SHUTDOWN event, then the run ends."""
        self.shut_down(False, "host-qmp-quit")
        raise Quit()

    def system_reset(self) -> None:
        """The CPU as at power-on and the image loaded again (QEMU reloads
        ``-kernel`` on reset); RAM elsewhere and the devices keep their state."""
        m = self.machine
        m.accel.sync_state()
        m.board.reset_cpu(m)
        if self.image is not None:
            m.board.load(m, self.image.data, self.image.name)
        m.accel.flush_code_cache()
        m.accel.state_changed()
        self._state_replaced()
        self.emit("RESET", {"guest": False, "reason": "host-qmp-system-reset"})

    def loadvm(self, machine, path: str) -> None:
        """HMP ``loadvm`` (main thread): the machine as saved; a gdb stub's
        session starts its history afresh from here."""
        snapshot.load(machine, path)
        self._state_replaced()

    def _state_replaced(self) -> None:
        """A debugger's session (gdb's, the REPL's) starts its history afresh."""
        for d in (self.gdb, self.debugger):
            if d is not None:
                d.session.state_replaced()

    def human_monitor_command(self, line: str) -> str:
        """One HMP command line, as QMP's human-monitor-command runs it."""
        return Hmp(self).execute(line)

    # -- serving clients ------------------------------------------------------------------------
    def listen(self, endpoint, protocol: str) -> str:
        """Start serving ``protocol`` ("qmp" or "hmp") on ``endpoint``; where."""
        cls = QmpConnection if protocol == "qmp" else HmpConnection
        if endpoint.kind == "stdio":
            conn = cls(self, _StdioStream())
            self._start(conn.serve)
            self.first_client.set()
            return "stdio"
        sock = endpoint.listen()
        self.listeners.append((sock, endpoint))
        if not endpoint.wait:
            self.first_client.set()
        self._start(lambda: self._accept(sock, cls))
        return endpoint.describe(sock)

    def _start(self, fn) -> None:
        t = threading.Thread(target=fn, daemon=True)
        self.threads.append(t)
        t.start()

    def _accept(self, sock, cls) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self.first_client.set()
            self._start(cls(self, _SocketStream(conn)).serve)

    def close(self) -> None:
        """End serving: the replies of commands under way are written first
        (a 'cont' whose guest ended at once still hears its return)."""
        self.ending.set()
        self.stop_gdbserver()
        with self.lock:
            self.idle.wait_for(lambda: self.busy == 0, timeout=10)
        self.closed.set()
        for s, endpoint in self.listeners:
            try:
                if endpoint.kind == "unix" and os.path.exists(endpoint.path):
                    os.unlink(endpoint.path)
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.lock:
            clients = list(self.clients)
            self.clients.clear()
        for c in clients:
            c.stream.close()


class _SocketStream:
    """A client's socket: whole messages out (under a lock, since events
    come from the main thread), bytes in."""

    def __init__(self, sock):
        self.sock = sock
        self.wlock = threading.Lock()

    def read(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> bool:
        with self.wlock:
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                return False

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class _StdioStream:
    """``-monitor stdio``: standard input and output."""

    def __init__(self):
        self.wlock = threading.Lock()

    def read(self) -> bytes:
        try:
            return os.read(sys.stdin.fileno(), 65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> bool:
        with self.wlock:
            try:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                return True
            except (OSError, ValueError):
                return False

    def close(self) -> None:
        pass
