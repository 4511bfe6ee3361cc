"""``emu debug``: a gdb-like step-through debugger as a ``cmd.Cmd`` (py65's monitor shape).

Commands keep gdb's names and abbreviations (``s``, ``n``, ``si``, ``ni``,
``c``, ``b``, ``x/8xb``, ``i r``, ``disas``, ``bt``, ``rsi``, ``rc``; any
unique prefix works too), so what a learner types here works in gdb later;
expressions are the simple cases of gdb's C (:mod:`emu.debug.expr`).
``step`` and ``next`` go by source line (:meth:`Session.step_line`), and
Ctrl-C while a command runs the guest stops it there (GDB manual,
"Continuing and Stepping", "Expressions", "Command Syntax").  Each
``do_x`` has its help in its docstring; stdin and stdout are injectable, so
a session is a script that tests replay (``-x FILE`` or commands on stdin),
and a terminal gets readline editing and history.

After every step it prints what happened: the instruction executed, the
registers it changed, the RAM bytes it changed (from the recorder's page
comparison: exact for changed bytes), each exit the Machine served
(port I/O, MMIO, ...) and the guest's output.  Bad input gets a one-line
explanation and the session goes on.
"""

from __future__ import annotations

import cmd
import re
import signal
import textwrap

from .expr import Evaluator
from .session import DebugError, Session

#: gdb's own abbreviations (which win over other commands with that prefix,
#: GDB manual "Command Syntax": s is step although set also begins with s);
#: any other unique prefix of a command works too
ALIASES = {
    "s": "step", "n": "next", "si": "stepi", "ni": "nexti", "c": "continue", "b": "break",
    "br": "break", "bre": "break", "brea": "break", "d": "delete", "i": "info",
    "disas": "disassemble", "bt": "backtrace", "where": "backtrace", "l": "list", "r": "run",
    "q": "quit", "rsi": "reverse-stepi", "rc": "reverse-continue", "p": "print", "h": "help",
    "exit": "quit", "EOF": "quit", "fin": "finish", "u": "until",
}
#: words gdb takes for commands this debugger does not have (gdb's aliases
#: and full names): they are not read as a prefix of another command here
GDB_ELSEWHERE = {"dis": "disable", "disa": "disable", "f": "frame", "t": "thread", "w": "with",
                 "rev": "reverse-search", "reverse-step": "reverse-step",
                 "reverse-next": "reverse-next", "reverse-nexti": "reverse-nexti",
                 "reverse-finish": "reverse-finish"}
COMMANDS = ("step", "next", "stepi", "nexti", "continue", "finish", "until", "advance", "break",
            "tbreak", "delete", "info", "x",
            "disassemble", "display", "undisplay", "set", "backtrace", "list", "run",
            "restart", "quit", "help", "reverse-stepi", "reverse-continue", "print", "watch",
            "rwatch", "awatch")
SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}
PRINT_FORMATS = "xduotcaz"
HELP_WIDTH = 79                  # help text is wrapped at word boundaries to this width
NO_TB = {"interp": "does not translate blocks: it decodes and runs one instruction at a time",
         "unicorn": "translates inside Unicorn (QEMU's TCG to host code), where its blocks "
                    "cannot be shown",
         "kvm": "runs guest code natively on the CPU: there are no translated blocks"}

def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


class Repl(cmd.Cmd):
    """The debugger's command loop (``Repl(session, stdin=..., stdout=...)``)."""

    prompt = "(emu) "
    intro = None

    def __init__(self, session: Session, stdin=None, stdout=None, echo: bool = False,
                 interactive: bool = False):
        super().__init__(stdin=stdin, stdout=stdout)
        self.s = session
        self.use_rawinput = interactive
        self.interactive = interactive
        self.echo = echo                 # scripts: show each command after the prompt
        self.displays: list = []         # (number, fmt or None, expression)
        self._display_no = 1
        self.history = 0                 # print's value history numbers ($1, $2, ...)
        self.last_x = ("x", 4)           # (format, unit size)
        self.next_x = None
        self.list_next = None
        self.list_file = None            # the file 'list' shows (a guest may include others)
        self.printed_serial = 0
        self.quit = False
        #: polled with Ctrl-C while a command runs the guest: True stops it
        #: there as Ctrl-C does (the monitor's ``stop``, under ``-qmp``)
        self.monitor_poll = None

    # -- plumbing ------------------------------------------------------------------
    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def precmd(self, line: str) -> str:
        if self.echo and not self.interactive:
            self.stdout.write(f"{line.rstrip()}\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return stripped
        m = re.match(r"([A-Za-z][\w-]*|x)(.*)$", stripped, re.S)
        if m is None:
            return stripped
        word, rest = m.group(1), m.group(2)
        if word.startswith("x") and (rest.startswith("/") or word == "x"):
            return "x " + rest if word == "x" else stripped
        name = self.resolve(word)
        if name is None:
            return stripped
        return name.replace("-", "_") + rest

    def resolve(self, word: str):
        if word in ALIASES:
            return ALIASES[word]
        if word in COMMANDS:
            return word
        if word in GDB_ELSEWHERE:
            return None
        hits = [c for c in COMMANDS if c.startswith(word)]
        if len(hits) == 1:
            return hits[0]
        return None

    def emptyline(self) -> bool:
        if self.interactive and self.lastcmd:
            return self.onecmd(self.lastcmd)
        return False

    def default(self, line: str) -> bool:
        if line.startswith("#"):
            return False
        word = line.split()[0]
        hits = [c for c in COMMANDS if c.startswith(word)]
        if word in GDB_ELSEWHERE:
            self.out(f'Undefined command: "{word}" (gdb\'s {GDB_ELSEWHERE[word]}, which this '
                     'debugger does not have).  Try "help".')
        elif len(hits) > 1:
            self.out(f'Ambiguous command "{word}": {", ".join(sorted(hits))}.')
        else:
            self.out(f'Undefined command: "{word}".  Try "help".')
        return False

    def onecmd(self, line: str) -> bool:
        # Ctrl-C while a command runs the guest stops the guest where it is
        # (the session polls between instructions or chunks of them), as
        # gdb's "Program received signal SIGINT"; a second Ctrl-C before it
        # stops abandons the command ("Quit").
        self._sigint = False
        try:
            previous = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:               # not the main thread: Ctrl-C stays Python's
            previous = None
        session = self.s
        if session is not None:
            session.interrupt_requested = self._interrupt_pending
        try:
            return super().onecmd(line)
        except DebugError as e:
            self.out(str(e))
        except (ValueError, KeyError, IndexError) as e:
            self.out(f"error: {e}")
        except KeyboardInterrupt:
            self.out("Quit (interrupted)")
        except Exception as e:           # a fault of the debugger's own: still one line
            self.out(f"internal error: {type(e).__name__}: {e} (the session goes on)")
        finally:
            if session is not None:
                session.interrupt_requested = None
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return False

    def _on_sigint(self, signum, frame) -> None:
        if self._sigint:
            raise KeyboardInterrupt
        self._sigint = True

    def _interrupt_pending(self) -> bool:
        return self._sigint or (self.monitor_poll is not None and self.monitor_poll())

    def execute(self, line: str) -> bool:
        """One command line, as the command loop runs it; True once the
        debugger should end."""
        line = self.precmd(line)
        return self.postcmd(self.onecmd(line), line)

    def postcmd(self, stop: bool, line: str) -> bool:
        return stop or self.quit

    def cmdloop(self, intro=None):
        if self.interactive:
            try:
                import readline  # noqa: F401  (line editing and history on a terminal)
            except ImportError:
                pass
        while True:
            try:
                return super().cmdloop(intro)
            except KeyboardInterrupt:    # Ctrl-C at the prompt: gdb's "Quit", a new prompt
                self.out("Quit")
                intro = None

    # -- expressions -------------------------------------------------------------------
    def evaluate(self, text: str):
        """An expression (:mod:`emu.debug.expr`): numbers, labels, $registers,
        casts, ``*``, ``&``, arithmetic, SEG:OFF."""
        img = self.s.image
        return Evaluator(img.symbols if img is not None else {}, self.s.get_register,
                         self.s.read_memory, 8 if self.s.width() == 8 else 4,
                         self.s.arch.segmented_address).eval(text)

    def value(self, text: str) -> int:
        return self.evaluate(text).v

    def label_before(self, addr: int):
        """(label, its address) of the label at or before ``addr`` that
        the address belongs to: the nearest one, when ``addr`` lies in the
        guest's image (an address outside it is named only by a label
        exactly there), else None."""
        img = self.s.image
        if img is None or not img.symbols:
            return None
        inside = img.base <= addr < img.base + len(img.data)
        best = None
        for name, a in img.symbols.items():
            if a == addr or (inside and img.base <= a < addr):
                if best is None or a > best[1]:
                    best = (name, a)
        return best

    def where(self, addr: int) -> str:
        """``<label+off>`` for an address, from the image's labels."""
        best = self.label_before(addr)
        if best is None:
            return ""
        off = addr - best[1]
        return f"<{best[0]}+{off}>" if off else f"<{best[0]}>"

    def loc(self, addr: int) -> str:
        """``0x7c10 <done+2>`` (the label part only when there is one)."""
        w = self.where(addr)
        return f"0x{addr:04x} {w}" if w else f"0x{addr:04x}"

    def source_line(self, addr: int):
        img = self.s.image
        if img is None or not img.lines:
            return None
        return img.lines.get(addr)

    # -- showing a stop -------------------------------------------------------------------
    def show_stop(self, st, verbose: bool = True) -> None:
        if st.reason == "breakpoint":
            self.out(f"{st.message}, 0x{st.pc:04x} {self.where(st.pc)}".rstrip())
        elif st.reason == "watchpoint":
            self.out(st.message)
            wo = getattr(st, "writes_watch", None)
            if wo:
                self.out(f"Old value = {wo[0].hex(' ')}")
                self.out(f"New value = {wo[1].hex(' ')}")
        elif st.reason == "interrupted":
            self.out("")
            self.out("Program received signal SIGINT, Interrupt.")
        elif st.reason in ("history-start", "restart"):
            self.out(st.message)
        if verbose and st.executed and st.reason not in ("restart",) and st.count > 0:
            pc, text = st.executed[-1]
            n = f" ({st.count} instructions)" if st.count > 1 else ""
            self.out(f"executed {self.loc(pc)}: {text}{n}")
        if verbose and st.count < 0:
            self.out(f"reversed {-st.count} instruction{'s' if st.count != -1 else ''}")
        if verbose:
            changed = st.changed_regs()
            if changed:
                parts = []
                for name, old, new in changed:
                    parts.append(f"{name} {self._reg_text(name, old)} -> {self._reg_text(name, new)}")
                self.out("  regs: " + ", ".join(parts))
            for addr, old, new in st.writes[:8]:
                self.out(f"  mem 0x{addr:x}: {old[:16].hex(' ')} -> {new[:16].hex(' ')}"
                         + (" ..." if len(new) > 16 else ""))
            if len(st.writes) > 8:
                self.out(f"  mem: {len(st.writes) - 8} more changed ranges")
            io = [e for e in st.exits if not e.startswith(("DEBUG", "BUDGET"))]
            for e in io[:8]:
                self.out(f"  exit: {e}")
            if len(io) > 8:
                self.out(f"  exits: {len(io) - 8} more")
        self.show_serial(st)
        if st.reason in ("exited", "halted", "crashed"):
            if st.reason == "exited":
                # as gdb: no "=>" line -- the program has ended (past its last
                # instruction lie bytes that were never code)
                self.out(f"[Inferior 1 (guest) exited with code 0{st.status:o}] ({st.message})")
                return
            self.out(f"[guest stopped: {st.message}]")
        self.show_pc()
        self.show_displays()

    def show_serial(self, st) -> None:
        log = self.s.machine.serial_log
        if len(log) < self.printed_serial:
            self.out(f"  guest output rewound to {_bytes(len(log))}")
            self.printed_serial = len(log)
        new = bytes(log[self.printed_serial:])
        if new:
            self.out("  guest output: " + repr(new.decode("latin-1"))[1:-1].join('""'))
            self.printed_serial = len(log)

    def show_pc(self) -> None:
        pc = self.s.pc()
        loc = self.source_line(pc)
        src = ""
        if loc is not None:
            text = self._text_of(loc[0])
            line = text[loc[1] - 1].strip() if 0 < loc[1] <= len(text) else ""
            src = f"    ({loc[0].rsplit('/', 1)[-1]}:{loc[1]}: {line})"
        self.out(f"=> {self.loc(pc)}: {self.s.insn_text(pc)}{src}")
        self.list_next = None
        self.list_file = None

    def show_displays(self) -> None:
        """Each display as gdb shows it: ``1: x/i $pc`` and the examined
        memory on the lines after, or ``1: /x $ax = 0x12``, ``1: $ax = 18 (0x12)``."""
        for num, fmt, expr in self.displays:
            try:
                if fmt is not None and self._examines(fmt):
                    self.out(f"{num}: x/{fmt} {expr}")
                    self.examine(fmt, expr)
                elif fmt is not None:
                    self.out(f"{num}: /{fmt} {expr} = {self._print_text(self.value(expr), fmt)}")
                else:
                    self.out(f"{num}: {expr} = {self._print_text(self.value(expr), None)}")
            except DebugError as e:
                self.out(f"{num}: {expr}: {e}")

    # -- stepping ----------------------------------------------------------------------------
    def _count(self, arg: str) -> int:
        arg = arg.strip()
        if not arg:
            return 1
        n = self.value(arg)
        if n <= 0:
            raise DebugError(f"the count must be positive, not {arg}")
        return n

    def do_step(self, arg):
        """step [N] (s): run until the start of another source line, N times,
        entering a called function that has line information (a .S/.asm
        guest's line map, an ELF's DWARF lines)."""
        self.show_stop(self.s.step_line(self._count(arg)))

    def do_next(self, arg):
        """next [N] (n): like step, but a called function runs whole."""
        self.show_stop(self.s.step_line(self._count(arg), over=True))

    def do_stepi(self, arg):
        """stepi [N] (si): execute exactly N instructions (default 1); interrupts
        are held back during a step unless 'set step-irqs on'."""
        self.show_stop(self.s.step(self._count(arg)))

    def do_nexti(self, arg):
        """nexti [N] (ni): like stepi, but a CALL or INT runs until it returns."""
        self.show_stop(self.s.next(self._count(arg)))

    def do_continue(self, arg):
        """continue [N] (c): run until a breakpoint, a watchpoint, or the guest
        stops; with N, pass the breakpoint stopped at N-1 more times."""
        n = self._count(arg)
        pc = self.s.pc()
        here = [bp for bp in self.s.breakpoints.values() if bp.addr == pc]
        if n > 1 and not here:
            self.out("Not stopped at any breakpoint; argument ignored.")
            n = 1
        if n > 1:
            self.out(f"Will ignore next {n - 1} crossings of breakpoint {here[0].number}.  Continuing.")
        st = self.s.cont()
        while n > 1 and st.reason == "breakpoint" and st.bp_number == here[0].number:
            n -= 1
            st = self.s.cont()
        self.show_stop(st, verbose=False)

    def _frame_text(self, frame) -> str:
        return f"#{frame.level}  0x{frame.pc:04x} in {self.where(frame.pc).strip('<>') or '??'} ()"

    def do_finish(self, arg):
        """finish (fin): run until the current function returns, and stop
        after its CALL.  Its return address is the first value at or above SP
        that names the instruction after a CALL (at the entry that is [SP];
        after 'push bp' it is [SP+2/4/8]), or else [BP+2/4/8] through the
        frame pointer; an INT's frame counts too, ended by IRET.  Not
        meaningful in the outermost frame."""
        if arg.strip():
            raise DebugError("finish takes no argument (it leaves the current function)")
        frame, st = self.s.finish()
        self.out(f"Run till exit from {self._frame_text(frame)}")
        self.show_stop(st)

    def _location(self, arg: str) -> int:
        arg = arg.strip()
        if not arg:
            raise DebugError("Argument required (a location: an address, a label, label+N).")
        addr = self.value(arg.lstrip("*"))
        if not self.s.mapped(addr):
            raise DebugError(f"cannot run to 0x{addr:x}: not in RAM")
        return addr

    def do_until(self, arg):
        """until [LOCATION] (u): without LOCATION, like nexti, but never stopping
        at a lower address: at a loop's backward jump it runs the loop to its
        end.  With LOCATION, run until it is reached in the current function
        (or a caller: a recursive call does not stop there), or the current
        function returns."""
        if arg.strip():
            st = self.s.until(self._location(arg))
        else:
            st = self.s.until()
        self.show_stop(st)

    def do_advance(self, arg):
        """advance LOCATION: run until LOCATION is reached (in any function,
        recursive calls included), or the current function returns."""
        self.show_stop(self.s.until(self._location(arg), any_frame=True))

    def do_reverse_stepi(self, arg):
        """reverse-stepi [N] (rsi): go back N instructions; registers, RAM, devices
        and guest output are as they were."""
        self.show_stop(self.s.reverse_step(self._count(arg)))

    def do_reverse_continue(self, arg):
        """reverse-continue (rc): go back to the most recent breakpoint hit,
        or write/read/access of a watched location, before now (stopping before
        that instruction), or to the start of the recorded history."""
        self.show_stop(self.s.reverse_continue(), verbose=False)

    def do_run(self, arg):
        """run (r): start the guest again from the beginning (breakpoints stay)."""
        st = self.s.restart()
        self.printed_serial = 0
        self.out(st.message)
        self.show_pc()

    def do_restart(self, arg):
        """restart: the same as run."""
        self.do_run(arg)

    def do_quit(self, arg):
        """quit (q): leave the debugger."""
        self.quit = True
        return True

    # -- breakpoints --------------------------------------------------------------------------
    def _break(self, arg, temporary):
        arg = arg.strip()
        addr = self.s.pc() if not arg else self.value(arg.lstrip("*"))
        if not self.s.mapped(addr):
            raise DebugError(f"cannot set a breakpoint at 0x{addr:x}: not in RAM")
        bp = self.s.add_breakpoint(addr, temporary, self.where(addr))
        kind = "Temporary breakpoint" if temporary else "Breakpoint"
        loc = self.source_line(addr)
        file_part = f": file {loc[0].rsplit('/', 1)[-1]}, line {loc[1]}." if loc else "."
        self.out(f"{kind} {bp.number} at 0x{addr:x} {self.where(addr)}".rstrip() + file_part)

    def do_break(self, arg):
        """break ADDR|LABEL (b): stop before the instruction at ADDR (a number,
        a label of the source, $reg, SEG:OFF, or sums such as loop+3)."""
        self._break(arg, False)

    def do_tbreak(self, arg):
        """tbreak ADDR|LABEL: a breakpoint deleted when first hit."""
        self._break(arg, True)

    def _watch(self, arg, kind):
        arg = arg.strip()
        length = None
        if "," in arg:                   # ADDR,LEN
            arg, length = (t.strip() for t in arg.rsplit(",", 1))
        addr, typed = self._place(arg)
        size = typed or 2
        if length is not None:
            if typed:
                raise DebugError("give the size by a type or by ,LEN, not both")
            try:
                size = int(length, 0)
            except ValueError:
                size = None
            if size is None or not 1 <= size <= 8:
                raise DebugError(f"the length of a watchpoint is a number from 1 to 8 bytes, "
                                 f"not '{length}' (watch ADDR,LEN)")
        wp = self.s.add_watchpoint(kind, addr, size)
        name = {"write": "Hardware watchpoint", "read": "Hardware read watchpoint",
                "access": "Hardware access (read/write) watchpoint"}[kind]
        self.out(f"{name} {wp.number}: 0x{addr:x} ({size} byte{'s' if size != 1 else ''})")

    def do_watch(self, arg):
        """watch ADDR[,LEN] | *(TYPE *)ADDR: stop when the LEN bytes at ADDR change
        (ADDR a number, a label, $reg or sums such as buf+2, written *ADDR as in
        gdb or not; LEN 1 to 8, else 2 bytes unless a type says: char, short,
        int, long)."""
        self._watch(arg, "write")

    def do_rwatch(self, arg):
        """rwatch ADDR[,LEN] | *(TYPE *)ADDR: stop before an instruction whose memory
        operand reads ADDR (a plain store such as MOV [ADDR], x does not read)."""
        self._watch(arg, "read")

    def do_awatch(self, arg):
        """awatch ADDR[,LEN] | *(TYPE *)ADDR: stop before an instruction whose memory
        operand reads or writes ADDR."""
        self._watch(arg, "access")

    def do_delete(self, arg):
        """delete [N...] (d): delete breakpoints/watchpoints N, or all of them."""
        if not arg.strip():
            self.s.delete(None)
            return
        for w in arg.split():
            self.s.delete(self._count(w))

    # -- information ------------------------------------------------------------------------------
    def do_info(self, arg):
        """info WHAT (i): registers (i r; flags by name), breakpoints (i b), exits
        (the Machine's exit counts), display, serial (guest output), record,
        tb [ADDR] (-accel tcg: the translated block at PC or ADDR -- guest
        instructions, IR, optimised IR, generated Python)."""
        words = arg.split()
        if not words:
            raise DebugError('"info" must be followed by the name of an info command: '
                             "registers, breakpoints, exits, display, serial, record, tb")
        what = words[0]
        table = {"registers": self.info_registers, "breakpoints": self.info_breakpoints,
                 "exits": self.info_exits, "display": self.info_display,
                 "serial": self.info_serial, "record": self.info_record,
                 "watchpoints": self.info_breakpoints, "all-registers": self.info_registers,
                 "tb": self.info_tb}
        aliases = {"r": "registers", "reg": "registers", "b": "breakpoints", "br": "breakpoints"}
        what = aliases.get(what, what)
        hits = [k for k in table if k.startswith(what)]
        if what in table:
            hits = [what]
        if len(hits) != 1:
            raise DebugError(f'Undefined info command: "{words[0]}".  Try "help info".')
        table[hits[0]](words[1:])

    def info_registers(self, names):
        vals = self.s.reg_values()
        if names:
            for n in names:
                n = n.lstrip("$")
                v = vals[n] if n in vals else self.s.get_register(n)
                self.out(self._reg_line(n, v))
            return
        for n, v in vals.items():
            self.out(self._reg_line(n, v))

    def _reg_text(self, n, v) -> str:
        """``0x246 [ PF ZF IF ]`` for a register the adapter decodes, else ``0x..``."""
        text = self.s.arch.describe_register(n, v)
        return f"0x{v:x}" if text is None else f"0x{v:x} [ {text} ]".replace("[  ]", "[ ]")

    def _reg_line(self, n, v):
        text = self.s.arch.describe_register(n, v)
        if text is not None:
            return f"{n:<15}0x{v:<17x} [ {text} ]".replace("[  ]", "[ ]")
        if n in self.s.arch.pc_names:
            return f"{n:<15}0x{v:<17x} 0x{v:x} {self.where(self.s.pc())}".rstrip()
        return f"{n:<15}0x{v:<17x} {v}"

    def info_breakpoints(self, _):
        if not self.s.breakpoints and not self.s.watchpoints:
            self.out("No breakpoints or watchpoints.")
            return
        self.out("Num     Type            Disp Enb Address    What")
        for bp in sorted(self.s.breakpoints.values(), key=lambda b: b.number):
            disp = "del " if bp.temporary else "keep"
            self.out(f"{bp.number:<7} breakpoint      {disp} y   0x{bp.addr:08x} {bp.where}".rstrip())
            if bp.hits:
                self.out(f"\tbreakpoint already hit {bp.hits} time{'s' if bp.hits > 1 else ''}")
        for wp in sorted(self.s.watchpoints.values(), key=lambda w: w.number):
            kind = {"write": "hw watchpoint", "read": "read watchpoint", "access": "acc watchpoint"}[wp.kind]
            self.out(f"{wp.number:<7} {kind:<15} keep y              *0x{wp.addr:x} "
                     f"({wp.length} byte{'s' if wp.length != 1 else ''})")

    def info_exits(self, _):
        st = self.s.machine.stats
        for line in st.summary_lines():
            self.out(line)
        for k, v in sorted(st.by_key.items(), key=lambda kv: -kv[1]):
            self.out(f"  {k:<24} {v}")

    def info_display(self, _):
        if not self.displays:
            self.out("There are no auto-display expressions now.")
            return
        self.out("Auto-display expressions now in effect:")
        self.out("Num Enb Expression")
        for num, fmt, expr in self.displays:
            self.out(f"{num}:   y  {'/' + fmt + ' ' if fmt else ''}{expr}")

    def info_serial(self, _):
        out = self.s.machine.serial_output()
        self.out(f"guest output ({_bytes(len(out))}): " + repr(out.decode("latin-1"))[1:-1].join('""'))

    def info_record(self, _):
        rec = self.s.recorder
        self.out(f"position {self.s.pos} (instructions since the start); history from {rec.oldest}, "
                 f"{len(rec.cps)} checkpoints; history-size {rec.history_size}; "
                 f"checkpoint-interval {self.s.interval}; step-irqs {'on' if self.s.step_irqs else 'off'}")

    def info_tb(self, words):
        """The block the translator runs from PC (or ADDR) in the current mode,
        as ``emu translate GUEST --at ADDR`` shows it."""
        accel = self.s.accel
        if accel.name != "tcg":
            why = NO_TB.get(accel.name, "does not translate blocks")
            self.out(f"info tb: the {accel.name} engine {why} (use -accel tcg)")
            return
        from ..accel.tcg import translate_at
        pc = self.s.pc()
        addr = self.value(" ".join(words)) if words else pc
        self.s.read_memory(addr, 1)              # one line if there is nothing to translate
        # translated apart from the engine's block cache, leaving no trace
        view = translate_at(self.s.machine, addr, apart=True)
        at = re.findall(r"^0x([0-9a-f]+):", view["in_asm"], re.M)
        insns = [int(a, 16) for a in at]
        n = len(insns)
        one = bool(getattr(self.s.machine, "one_insn_per_tb", False))
        how = ("-one-insn-per-tb: every run uses one-instruction blocks" if one else
               "as a run (continue) translates it; stepi and nexti run one-instruction blocks")
        self.out(f"translated block at {self.loc(addr)}: {n} instruction{'s' if n != 1 else ''}, {how}")
        inside = sorted((bp for bp in self.s.breakpoints.values() if bp.addr in insns[1:]),
                        key=lambda bp: bp.addr)
        for bp in inside:
            self.out(f"  (a continue ends it before breakpoint {bp.number} at {self.loc(bp.addr)})")
        for k in ("in_asm", "op", "op_opt", "out_asm"):
            self.out(f"---- {k} ----")
            self.out(view[k].rstrip())

    # -- memory ---------------------------------------------------------------------------------
    def do_x(self, arg):
        """x/NFU ADDR: examine memory.  N count, F format (x d u o t c a i s),
        U unit (b h w g).  e.g. x/8xb 0x7c00, x/4i $pc, x/s msg."""
        arg = arg.strip()
        fmt = ""
        if arg.startswith("/"):
            parts = arg[1:].split(None, 1)
            fmt = parts[0]
            arg = parts[1] if len(parts) > 1 else ""
        if not arg:
            if self.next_x is None:
                raise DebugError("Argument required (starting display address).")
            arg = str(self.next_x)
        self.examine(fmt, arg)

    def examine(self, fmt: str, expr: str) -> None:
        m = re.fullmatch(r"(\d*)([xduotcais]?)([bhwg]?)([xduotcais]?)", fmt)
        if m is None:
            raise DebugError(f"bad format '/{fmt}' (expected /NFU: count, format xduotcais, unit bhwg)")
        count = int(m.group(1)) if m.group(1) else 1
        f = m.group(2) or m.group(4) or self.last_x[0]
        unit = SIZES[m.group(3)] if m.group(3) else (1 if f in "cs" else self.last_x[1])
        addr = self.value(expr)
        if count > 4096:
            raise DebugError("count too large (at most 4096)")
        if f == "i":
            self.s.read_memory(addr, 1)          # one line if there is nothing to read
            for _ in range(count):
                insn_text = self.s.insn_text(addr)
                try:
                    length = self.s.decode(addr)[0].length
                except DebugError:
                    length = 1
                mark = "=> " if addr == self.s.pc() else "   "
                self.out(f"{mark}0x{addr:x} {self.where(addr)}:\t{insn_text}".replace(" :", ":"))
                addr += length
            self.next_x = addr
            self.last_x = ("x", self.last_x[1])
            return
        if f == "s":
            for _ in range(count):
                data = bytearray()
                while len(data) < 4096:
                    b = self.s.read_memory(addr + len(data), 1)
                    if b == b"\x00":
                        break
                    data += b
                self.out(f"0x{addr:x} {self.where(addr)}:\t".replace(" :", ":")
                         + repr(bytes(data).decode("latin-1"))[1:-1].join('""'))
                addr += len(data) + 1
            self.next_x = addr
            return
        data = self.s.read_memory(addr, count * unit)
        per_line = {1: 8, 2: 8, 4: 4, 8: 2}[unit]
        for row in range(0, count, per_line):
            a = addr + row * unit
            vals = []
            for k in range(row, min(count, row + per_line)):
                v = int.from_bytes(data[k * unit:(k + 1) * unit], "little")
                vals.append(self._fmt(v, f, unit))
            self.out(f"0x{a:x} {self.where(a)}:\t".replace(" :", ":") + "\t".join(vals))
        self.last_x = (f, unit)
        self.next_x = addr + count * unit

    @staticmethod
    def _fmt(v, f, unit):
        bits = 8 * unit
        if f == "x":
            return f"0x{v:0{2 * unit}x}"
        if f == "d":
            return str(v - (1 << bits) if v >> (bits - 1) else v)
        if f == "u":
            return str(v)
        if f == "o":
            return f"0{v:o}"
        if f == "t":
            return f"{v:0{bits}b}"
        if f == "c":
            ch = chr(v & 0xFF)
            shown = ch if ch.isprintable() else "\\x%02x" % (v & 0xFF)
            return f"{v & 0xFF} '{shown}'"
        if f == "a":
            return f"0x{v:x}"
        return hex(v)

    def do_print(self, arg):
        """print[/F] EXPR (p): the value of a number, label, $register or sum:
        decimal (and hex), or in format F (x d u o t c a z), e.g. p/x $ax."""
        arg = arg.strip()
        fmt = None
        if arg.startswith("/"):
            parts = arg[1:].split(None, 1)
            fmt, arg = parts[0], (parts[1] if len(parts) > 1 else "")
            self._print_format(fmt, "print")
        v = self.evaluate(arg)
        text = self._print_text(v.v, fmt, 8 * v.ctype.size if v.ctype is not None else None)
        self.history += 1                    # gdb's value history: $1, $2, ...
        self.out(f"${self.history} = {text}")

    @staticmethod
    def _print_format(fmt: str, command: str) -> str:
        """The format letter of print/F (gdb's checks: no count, no size)."""
        m = re.fullmatch(r"(\d*)([a-z]?)([bhwg]?)([a-z]?)", fmt)
        if m is None or (m.group(2) and m.group(4)):
            raise DebugError(f"bad format '/{fmt}' (expected /F, F one of {PRINT_FORMATS})")
        if m.group(1) and int(m.group(1)) != 1:
            raise DebugError(f'Item count other than 1 is meaningless in "{command}" command.')
        if m.group(3):
            raise DebugError(f'Size letters are meaningless in "{command}" command.')
        f = m.group(2) or m.group(4)
        if f and f not in PRINT_FORMATS:
            raise DebugError(f'Format letter "{f}" is meaningless in "{command}" command '
                             f"(expected one of {PRINT_FORMATS})")
        return f

    def _print_text(self, v: int, fmt, bits: int | None = None) -> str:
        """A value as print shows it: ``18 (0x12)``, or in a format (/x
        ``0x12``); a negative one in two's complement at ``bits`` (its
        type's width; the mode's by default)."""
        f = self._print_format(fmt, "print") if fmt else ""
        bits = bits or 8 * self.s.width()
        neg = v
        if v < 0:                        # two's complement at the mode's width (64 bits if wider)
            v &= (1 << (bits if v >= -(1 << (bits - 1)) else 64)) - 1
        if not f:
            return f"{neg} (0x{v:x})"
        if f == "x":
            return f"0x{v:x}"
        if f == "z":
            return f"0x{v:0{2 * max(bits // 8, (v.bit_length() + 7) // 8)}x}"
        if f == "d":
            return str(v - (1 << bits) if v < (1 << bits) and v >> (bits - 1) else v)
        if f == "a":
            return f"0x{v:x} {self.where(v)}".rstrip()
        return self._fmt(v, f, bits // 8) if f != "t" else f"{v:b}"

    def do_disassemble(self, arg):
        """disassemble [ADDR] (disas): the code around PC (or ADDR), from the
        label before it to the next one, '=>' marking the next instruction."""
        pc = self.s.pc()
        at = self.value(arg) if arg.strip() else pc
        self.s.read_memory(at, 1)                # one line if there is nothing to show
        img = self.s.image
        start, end = at, None
        first = self.label_before(at)
        if first is not None:
            start = first[1]
            limits = [a for a in img.symbols.values() if a > start]
            if start < img.base + len(img.data):
                limits.append(img.base + len(img.data))
            end = min(limits, default=None)
        name = self.where(start)
        self.out(f"Dump of assembler code{' for ' + name.strip('<>') if name else ''}:")
        addr = start
        n = 0
        while n < 40 and (end is None or addr < end) and (end is not None or n < 12):
            try:
                insn, _ = self.s.decode(addr)
                length, text = insn.length, self.s.insn_text(addr)
            except DebugError as e:
                self.out(f"   0x{addr:x}: {e}")
                break
            mark = "=> " if addr == pc else "   "
            off = self.where(addr)
            self.out(f"{mark}0x{addr:04x} {off}:\t{text}".replace(" :", ":"))
            addr += length
            n += 1
        self.out("End of assembler dump.")

    def do_display(self, arg):
        """display[/FMT] EXPR: show EXPR after every stop.  As gdb: like x/FMT
        (memory at EXPR) when FMT has format i or s or a unit size b h w g
        (display/i $pc, display/4xb 0x500); otherwise like print/FMT
        (display $ax, display/x $ax).  With no argument, show them all now."""
        arg = arg.strip()
        if not arg:
            self.show_displays()
            return
        fmt = None
        if arg.startswith("/"):
            parts = arg[1:].split(None, 1)
            fmt, arg = parts[0], (parts[1] if len(parts) > 1 else "")
            fmt = self._display_format(fmt)
        if not arg:
            raise DebugError("Argument required (an expression to display).")
        self.value(arg)                      # check it now
        num = self._display_no
        self._display_no += 1
        self.displays.append((num, fmt, arg))
        self.show_displays_one(num)

    @staticmethod
    def _examines(fmt: str) -> bool:
        """display/FMT examines memory (as x/FMT) rather than printing a value."""
        return bool(re.search(r"[isbhwg]", fmt))

    def _display_format(self, fmt: str) -> str:
        """display's /FMT checked, in the form display shows it after 'x/'
        (gdb: a size alone means hex; i and s take no size)."""
        m = re.fullmatch(r"(\d*)([xduotcaisz]?)([bhwg]?)([xduotcaisz]?)", fmt)
        if m is None or (m.group(2) and m.group(4)):
            raise DebugError(f"bad format '/{fmt}' (expected /NFU: count, format xduotcais, unit bhwg)")
        count, f, size = m.group(1), m.group(2) or m.group(4), m.group(3)
        if f in ("i", "s"):
            return f"{count}{f}" if count and int(count) != 1 else f
        if size:
            if f == "z":
                raise DebugError(f"bad format '/{fmt}': z is a print format (use x to examine)")
            return f"{count if count and int(count) != 1 else ''}{f or 'x'}{size}"
        if count and int(count) != 1:
            raise DebugError(f"Item count other than 1 is meaningless in \"display\" command without "
                             f"a unit size (display/{count}{f or 'x'}b EXPR examines memory).")
        self._print_format(fmt, "display")
        return f or None

    def show_displays_one(self, num):
        keep = self.displays
        self.displays = [d for d in keep if d[0] == num]
        try:
            self.show_displays()
        finally:
            self.displays = keep

    def do_undisplay(self, arg):
        """undisplay [N...]: stop displaying expressions N (or all)."""
        if not arg.strip():
            self.displays = []
            return
        numbers = [self._count(w) for w in arg.split()]
        for n in numbers:
            if not any(d[0] == n for d in self.displays):
                raise DebugError(f"no display number {n}")
        self.displays = [d for d in self.displays if d[0] not in numbers]

    # -- changing things -------------------------------------------------------------------------------
    def do_set(self, arg):
        """set $REG = V | *ADDR = V: change a register or memory
        (*(TYPE *)ADDR or {TYPE}ADDR pick the size, TYPE char short int long; 2 bytes
        otherwise); also set step-irqs on|off, history-size N, checkpoint-interval N."""
        a = arg.strip()
        if a.startswith("var "):
            a = a[4:].strip()
        m = re.fullmatch(r"(step-irqs|history-size|checkpoint-interval)\s+(\S+)", a)
        if m:
            return self._setting(m.group(1), m.group(2))
        if "=" not in a:
            raise DebugError("expected 'set $reg = value', 'set *addr = value' or a setting "
                             "(step-irqs, history-size, checkpoint-interval)")
        lhs, rhs = (x.strip() for x in a.split("=", 1))
        value = self.value(rhs)
        if lhs.startswith("$"):
            self.s.set_register(lhs[1:], value)
            self.out(f"{lhs} = 0x{self.s.get_register(lhs[1:]):x}")
            return
        if not lhs.startswith(("*", "{")):
            raise DebugError(f"cannot assign to '{lhs}' (expected $reg, *ADDR, *(TYPE *)ADDR "
                             "or {TYPE}ADDR)")
        addr, size = self._place(lhs)
        size = size or 2
        self.s.write_memory(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
        self.out(f"*0x{addr:x} = 0x{value & ((1 << (8 * size)) - 1):x} ({_bytes(size)})")

    def _place(self, text: str) -> tuple:
        """(address, size or None) of a place in memory that watch and set
        name: ``*(TYPE *)EXPR`` or ``{TYPE}EXPR`` (the type's size),
        ``*EXPR`` or ``EXPR`` (the address it evaluates to, no size)."""
        v = self.evaluate(text)
        if v.lval is not None:
            return v.lval[0], (v.lval[1].size if v.lval[1] is not None else None)
        return v.v, None

    def _setting(self, name, val):
        if name == "step-irqs":
            if val not in ("on", "off"):
                raise DebugError("set step-irqs takes on or off")
            self.s.step_irqs = val == "on"
        elif name == "history-size":
            self.s.recorder.history_size = self._count(val)
        else:
            self.s.interval = self._count(val)
        self.out(f"{name} is {val}")

    # -- frames and source ---------------------------------------------------------------------------
    def do_backtrace(self, arg):
        """backtrace (bt): the frames, innermost first, from the return
        addresses on the stack (see 'help finish'; the BP chain beyond the
        first): in 16-, 32- and 64-bit code."""
        for frame in self.s.frames():
            self.out(self._frame_text(frame))

    def _text_of(self, name) -> list:
        """The lines of source file ``name`` (the guest's own, or a file it
        includes)."""
        img = self.s.image
        sources = getattr(img, "sources", None) or {}
        return sources.get(name, img.source)

    def do_list(self, arg):
        """list [LINE|LABEL|ADDR] (l): source lines around PC (or the place
        given; a label in an included file lists that file); 'list' again
        continues."""
        img = self.s.image
        if img is None or not (img.source or any(getattr(img, "sources", {}).values())):
            raise DebugError("No source: the guest has no line information (list needs a .S/.asm guest "
                             "or an ELF built with -g).")
        a = arg.strip()
        cur = self.s.line_of(self.s.pc())       # (the PC may be inside a line)
        name = self.list_file if self.list_file is not None else (cur[0] if cur else img.name)
        asked = None
        if a:
            if a.isdigit():
                center = asked = int(a)
            else:
                addr = self.value(a)
                loc = img.lines.get(addr)
                if loc is None:
                    raise DebugError(f"no source line at 0x{addr:x}")
                name, center = loc
            first = max(1, center - 5)
        elif self.list_next is not None:
            first = self.list_next
        else:
            if cur is None:
                raise DebugError(f"no source line for pc 0x{self.s.pc():x}")
            name = cur[0]
            first = max(1, cur[1] - 5)
        text = self._text_of(name)
        last = min(len(text), first + 9)
        if first > len(text) or (asked is not None and asked > len(text)):
            raise DebugError(f"Line number {asked or first} out of range; the source has "
                             f"{len(text)} lines.")
        for n in range(first, last + 1):
            mark = "=>" if cur is not None and cur == (name, n) else "  "
            self.out(f"{mark}{n:<6}{text[n - 1]}")
        self.list_next = last + 1
        self.list_file = name

    # -- help --------------------------------------------------------------------------------------
    def do_help(self, arg):
        """help [COMMAND]: list the commands, or explain one."""
        a = arg.strip()
        if a:
            name = self.resolve(a) or a
            fn = getattr(self, "do_" + name.replace("-", "_"), None)
            if fn is None or not fn.__doc__:
                self.out(f'Undefined command: "{a}".  Try "help".')
            else:
                self.out(textwrap.fill(" ".join(fn.__doc__.split()), HELP_WIDTH,
                                       break_long_words=False, break_on_hyphens=False))
            return
        self.out("Commands (gdb's names; unique prefixes work):")
        for c in COMMANDS:
            doc = " ".join(getattr(self, "do_" + c.replace("-", "_")).__doc__.split())
            usage, _, text = doc.partition(": ")
            summary = re.split(r"\.\s+(?=[A-Z])", text)[0]    # the first sentence
            lead = f"  {usage:<34} "
            self.out(textwrap.fill(summary, HELP_WIDTH, initial_indent=lead,
                                   subsequent_indent=" " * len(lead),
                                   break_long_words=False, break_on_hyphens=False))
        self.out(textwrap.fill("Aliases: " + ", ".join(f"{k}={v}" for k, v in ALIASES.items()
                                                       if k != "EOF"),
                               HELP_WIDTH, subsequent_indent="  ", break_long_words=False,
                               break_on_hyphens=False))


def make_repl(session: Session, stdin, stdout, interactive: bool, echo: bool = False) -> Repl:
    """The REPL on ``stdin``/``stdout``: a prompt on a terminal or when
    echoing a script's commands, none for silent piped input."""
    repl = Repl(session, stdin=stdin, stdout=stdout, echo=echo, interactive=interactive)
    if not interactive:
        repl.prompt = "(emu) " if echo else ""
    return repl


def run_repl(session: Session, stdin, stdout, interactive: bool, echo: bool = False) -> int:
    repl = make_repl(session, stdin, stdout, interactive, echo)
    repl.show_pc()
    repl.cmdloop()
    return 0
