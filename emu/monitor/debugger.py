"""``emu debug`` with ``-qmp``/``-monitor``: the REPL debugger as a client
of the monitor's run state, as gdb is one in QEMU (``gdbstub/system.c``,
``gdb_vm_state_change``; see docs/monitor.md, "One run state").

The REPL runs on the main thread and runs the guest itself, through its
debugging session; monitor clients are served on their threads, and what
they ask of the machine runs on the main thread (:meth:`Monitor.call`):
while the REPL waits at its prompt, between two of its commands; while a
REPL command runs the guest, between the session's chunks of instructions
(the session polls, as it polls for Ctrl-C).  Lines typed to the REPL are
read on a thread of their own and handed to the main thread the same way,
so both wait in one queue.

The run state, as with gdb:

* the REPL at its prompt with the guest stopped: ``paused`` at the start
  (as a guest gdb attached to), ``debug`` after a breakpoint, a watchpoint
  or a finished step (QMP STOP, then ``X-KASOU-DEBUG-STOP``);
* a REPL command that runs the guest on (``continue``, ``stepi``,
  ``next``, ``finish``, ...): ``running`` (RESUME) until it stops;
* QMP/HMP ``stop`` while a REPL command runs the guest: ``paused`` (STOP),
  and the REPL stops there as after Ctrl-C ("Program received signal
  SIGINT");
* QMP/HMP ``cont`` while the REPL waits at its prompt: ``running``
  (RESUME), and the REPL continues as if ``continue`` had been typed --
  it says so ("Continuing (cont from the monitor).") -- until a breakpoint,
  a watchpoint, the guest's end or the monitor's ``stop``; it then shows
  the stop and its prompt again.  Lines typed meanwhile wait their turn;
* the guest ending: ``shutdown`` (SHUTDOWN, ``guest-shutdown`` or
  ``guest-reset``); the REPL can still go back through its history
  (``reverse-stepi``, ``run``), which makes the state ``debug`` again
  without events (QEMU has no reverse execution to send one for);
* ``quit`` from the REPL ends ``emu debug`` (SHUTDOWN, ``host-ui``), and
  ``quit`` from the monitor ends it too (``host-qmp-quit``).

The monitor's ``system_reset`` and ``loadvm`` replace the machine's state:
the REPL's reverse-execution history starts afresh there.  HMP
``gdbserver`` is refused: the REPL is this guest's debugger.
"""

from __future__ import annotations

import threading

from .qmp import Quit

#: REPL stops that are the debugger's own (a ``debug`` stop), by the
#: session's Stop reasons; the others end the guest or were interrupts
_ENDED = ("exited", "halted", "crashed")


class ReplDriver:
    """The REPL (:class:`emu.debug.repl.Repl`) under a Monitor: the run
    loop of ``emu debug -qmp/-monitor`` (see the module docstring)."""

    def __init__(self, mon, repl):
        self.mon = mon
        self.repl = repl
        self.session = repl.s
        self.quitting = False        # the monitor's quit came while a command ran
        self.done = threading.Event()
        self.executing = False       # a REPL command is under way
        self.lines = []              # lines read meanwhile, run after it
        mon.debugger = self
        mon.state = "paused"         # the guest stands at the REPL's first prompt
        repl.monitor_poll = self.poll
        self.session.run_observer = self

    # -- the session's run observer (main thread) ------------------------------------------
    def resuming(self) -> None:
        if self.mon.state != "running":
            self.mon.set_state("running")

    def stopped(self, st, forward: bool) -> None:
        mon = self.mon
        if st.reason in _ENDED:
            if mon.state != "shutdown":
                mon.guest_ended(st.reason == "crashed")
        elif not forward:
            if mon.state == "shutdown":  # back in history: the guest lives again
                mon.state = "debug"
        elif st.reason == "interrupted":
            mon.set_state("paused")
        elif mon.state == "running":
            mon.set_state("debug", st)
            mon.emit_debug_stop(st)

    def poll(self) -> bool:
        """Between the session's chunks while a REPL command runs the guest:
        serve what the monitor's clients asked for; True to stop the guest
        (the monitor's ``stop`` or ``quit``)."""
        mon = self.mon
        if mon.has_jobs():
            try:
                mon.serve_jobs(block=False)
            except Quit:
                self.quitting = True
        return self.quitting or mon.state != "running"

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stdin, interactive: bool) -> int:
        """Serve REPL lines from ``stdin`` and monitor commands until the
        REPL or the monitor quits; the exit status (0)."""
        repl = self.repl
        if interactive:
            try:
                import readline  # noqa: F401  (line editing and history on a terminal)
            except ImportError:
                pass
        repl.show_pc()
        if not interactive:
            self._prompt()
        threading.Thread(target=self._read, args=(stdin, interactive), daemon=True).start()
        machine = self.session.machine
        machine.add_exit_observer(self.mon.let_clients_run)
        try:
            while not self.done.is_set() and not self.quitting:
                try:
                    self.mon.serve_jobs(block=True)
                except KeyboardInterrupt:        # Ctrl-C at the prompt: gdb's "Quit"
                    repl.out("Quit")
                    self._prompt()
                    continue
                while self.lines and not self.done.is_set() and not self.quitting:
                    self._execute(self.lines.pop(0))
                if self.mon.state == "running" and not self.done.is_set():
                    # the monitor's cont at the prompt: the REPL continues
                    repl.out("Continuing (cont from the monitor).")
                    repl.stdout.flush()
                    self._execute("continue")
                    if repl.interactive:         # (the reader's prompt scrolled away)
                        self._prompt()
        except Quit:                             # the monitor's quit at the prompt
            return 0
        finally:
            machine.remove_exit_observer(self.mon.let_clients_run)
        if not self.quitting:                    # (the monitor's quit sent its SHUTDOWN)
            self.mon.shut_down(False, "host-ui")
        return 0

    def _line(self, line: str) -> None:
        """A line read (main thread): run it now, or after the REPL command
        under way if it came while that one runs the guest."""
        if self.executing:
            self.lines.append(line)
        else:
            self._execute(line)

    def _execute(self, line: str) -> None:
        """One REPL line (main thread)."""
        self.executing = True
        try:
            end = self.repl.execute(line)
        finally:
            self.executing = False
        if end or self.quitting:
            self.done.set()
        elif not self.repl.interactive:
            self._prompt()

    def _prompt(self) -> None:
        self.repl.stdout.write(self.repl.prompt)
        self.repl.stdout.flush()

    def _read(self, stdin, interactive: bool) -> None:
        """The reader thread: each line, then EOF, to the main thread."""
        mon = self.mon
        try:
            while not self.done.is_set():
                if interactive:
                    try:
                        line = input(self.repl.prompt)
                    except EOFError:
                        line = "EOF"
                else:
                    text = stdin.readline()
                    line = text.rstrip("\r\n") if text else "EOF"
                mon.call(lambda line=line: self._line(line))
        except Quit:                             # the run is over
            pass
