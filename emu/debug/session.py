"""A debugging session: one Machine, driven one instruction (or one stop) at a time.

Both front ends -- the ``emu debug`` REPL and the gdb remote stub -- drive
this object, and it drives only the Machine and the Accelerator's debug
contract (``set_single_step``, ``breakpoints``, ``sync_state`` /
``state_changed``); nothing is woven into the engines.  What it adds:

* **stepping** exactly one instruction (``Machine.run`` with single-step on),
  with interrupts held back during a step unless ``step_irqs`` is on (QEMU's
  gdbstub default, ``NOIRQ``): the engine's interrupt line is lowered for the
  step and raised again afterwards, so the interrupt is taken later;
* **stepping by source line** (gdb's ``step`` and ``next``, GDB manual
  "Continuing and Stepping"): through the image's line map, entering or
  running whole the calls on the way (:meth:`Session.step_line`);
* **continuing** until a breakpoint, a watchpoint, or the guest stops.
  Software engines run in chunks of ``interval`` instructions (a checkpoint
  between chunks); KVM, which counts instructions only while stepping, is
  always single-stepped (the session records all the time), as are all
  engines while a watchpoint is set (write watchpoints compare the watched
  bytes after every step; read and access watchpoints check the
  instruction's memory operands before it);
* **observing** each stop: the instruction executed, the registers that
  changed, the RAM bytes that changed (the recorder's page comparison, see
  :mod:`emu.debug.record`), and every exit the Machine served meanwhile
  (an observer added with ``Machine.add_exit_observer``);
* **reverse execution** (``reverse_step``, ``reverse_continue``) through
  :class:`~emu.debug.record.Recorder`; a register or memory change the
  user makes is part of the recording, as in gdb's ``record full``: going
  back undoes it, and execution that moves forward through its position
  makes it again there (see :meth:`Session._settle`).

Positions count instructions retired since the session started (or since
``restart``); the recorder's checkpoints are keyed by them.

Guest time: on an engine that runs in real time (KVM) the session makes the
Machine's clock count instructions when it starts
(:meth:`~emu.machine.Machine.count_guest_time`, as ``emu diff`` does),
going on from the time the guest had reached (0 before its first
instruction).  Every instruction KVM runs in a session is single-stepped,
so the count is exact: timer interrupts come at the same instructions as
on the software engines and when re-executed after a reverse step, HLT
skips the idle time to the next timer deadline instead of sleeping, and a
checkpoint puts guest time back exactly.  There is no un-stepped run for
the clock to fall out of step with (``continue`` steps KVM too); guest
time only moves forward in the present timeline, and going back in history
shows it as it was there.  The clock stays in instruction counting after
:meth:`close`.
"""

from __future__ import annotations

import bisect
import copy
from dataclasses import dataclass, field

from ..isa.x86 import flags as F
from ..isa.x86.long_mode import MSR_KERNEL_GS_BASE
from ..isa.x86.state import CR0_PG, CS, EFER_LMA, FS, GS, SS, REG_NAMES16, REG_NAMES32, REG_NAMES64, SEG_NAMES
from .record import Recorder, memory_runs

CALL_LIKE = ("CALL", "CALL_IND", "CALLF", "CALLF_IND", "INT", "INT3", "INTO", "INT1")
STRING_OPS = ("MOVS", "CMPS", "STOS", "LODS", "SCAS", "INS", "OUTS")
#: instructions whose first operand is only written
PURE_STORES = ("MOV", "MOV_FROM_SEG", "POP", "SETCC", "SLDT", "STR", "SMSW", "SGDT", "SIDT")

#: the lazy flag record: changes to the flags are recorded as one value, ``rflags``
FLAG_FIELDS = ("fl", "cc_op", "cc_res", "cc_a", "cc_b", "cc_size")


def cpu_changes(before, after) -> dict:
    """What differs between two CPU states (``X86State``), as
    ``{(field, index or key or None): new value}``: the list fields (regs,
    segs, dr) and msrs element by element, the flags as one value
    ``("rflags", None)`` (an engine may hold the same flags in another lazy
    record).  Applied with :func:`apply_cpu_changes` to the state at the
    same place in a re-execution, it makes the same change."""
    out = {}
    for name in type(after).__slots__:
        if name in FLAG_FIELDS:
            continue
        a, b = getattr(before, name), getattr(after, name)
        if isinstance(b, list):
            for i, v in enumerate(b):
                if i >= len(a) or a[i] != v:
                    out[(name, i)] = copy.deepcopy(v)
        elif isinstance(b, dict):
            for k, v in b.items():
                if k not in a or a[k] != v:
                    out[(name, k)] = copy.deepcopy(v)
        elif a != b:
            out[(name, None)] = copy.deepcopy(b)
    if before.rflags != after.rflags:
        out[("rflags", None)] = after.rflags
    return out


def apply_cpu_changes(cpu, changes: dict) -> None:
    for (name, key), v in changes.items():
        v = copy.deepcopy(v)
        if key is None:
            setattr(cpu, name, v)
        else:
            getattr(cpu, name)[key] = v


class DebugError(Exception):
    """Bad input to a debugger command (one line, shown to the user)."""


@dataclass
class Stop:
    """Why and where a command stopped, and what it did on the way."""

    reason: str                      # step, breakpoint, watchpoint, exited, halted, crashed,
                                     # history-start, history-end, interrupted
    message: str = ""
    pc: int = 0                      # linear address of the next instruction
    executed: list = field(default_factory=list)    # [(linear pc, text)] (last few)
    count: int = 0                   # instructions retired (negative: reversed)
    exits: list = field(default_factory=list)       # describe() of every exit served
    writes: list = field(default_factory=list)      # [(address, old bytes, new bytes)]
    regs_before: dict = field(default_factory=dict)
    regs_after: dict = field(default_factory=dict)
    output: bytes = b""                             # guest output during the command
    status: int | None = None                       # exit status when reason == "exited"
    watch: tuple | None = None                      # (kind, address) of the watchpoint hit
    bp_number: int | None = None

    def changed_regs(self) -> list:
        return [(k, self.regs_before.get(k), v) for k, v in self.regs_after.items()
                if self.regs_before.get(k) != v]


@dataclass
class Frame:
    level: int
    pc: int                          # linear address
    slot: int | None                 # linear address of its return address (None: outermost)


@dataclass
class Breakpoint:
    number: int
    addr: int
    temporary: bool = False
    hits: int = 0
    where: str = ""


@dataclass
class Watchpoint:
    number: int
    kind: str        # "write", "read", "access"
    addr: int
    length: int
    old: bytes = b""
    hits: int = 0


def physical_runs(machine, s, addr: int, n: int) -> list:
    """[(physical address, length)] covering linear ``addr``..``addr+n`` for
    CPU state ``s``: through the guest's page tables when paging is on,
    without side effects (no accessed/dirty bits, no TLB, no #PF).  A
    DebugError names an address outside RAM or not mapped."""
    ram = machine.ram
    if not s.cr0 & CR0_PG:
        runs = [(addr, n)]
    else:
        from ..isa.x86.concrete import ConcreteOps
        from ..isa.x86.paging import translate_debug
        ops = ConcreteOps(s, ram, machine.model)
        runs = []
        a, left = addr, max(n, 1)
        while left > 0:
            chunk = min(left, 0x1000 - (a & 0xFFF))
            pa = translate_debug(ops, a)
            if pa is None:
                raise DebugError(f"cannot access memory at 0x{a:x} (not mapped by the "
                                 "guest's page tables)")
            runs.append((pa, chunk))
            a += chunk
            left -= chunk
    for pa, k in runs:
        if k < 0 or not ram.contains(pa, max(k, 1)):
            raise DebugError(f"cannot access memory at 0x{addr:x} (RAM is 0x{ram.base:x}-"
                             f"0x{ram.base + ram.size - 1:x})")
    return runs


def register_value(s, name: str) -> int:
    """The value of register ``$name`` (any name of the x86 register file) in
    CPU state ``s``; ``pc`` is the linear address CS.base + rIP."""
    n = name.lower()
    if n in REG_NAMES64:
        return s.regs[REG_NAMES64.index(n)]
    if n in REG_NAMES32:
        return s.regs[REG_NAMES32.index(n)] & 0xFFFFFFFF
    if n in REG_NAMES16:
        return s.regs[REG_NAMES16.index(n)] & 0xFFFF
    if n in ("al", "cl", "dl", "bl"):
        return s.regs[("al", "cl", "dl", "bl").index(n)] & 0xFF
    if n in ("ah", "ch", "dh", "bh"):
        return (s.regs[("ah", "ch", "dh", "bh").index(n)] >> 8) & 0xFF
    if n in ("ip", "eip", "rip"):
        return s.rip
    if n == "pc":
        return s.segs[CS].base + s.rip
    if n in ("flags", "eflags", "rflags"):
        return s.rflags
    if n in SEG_NAMES:
        return s.segs[SEG_NAMES.index(n)].selector
    if n in ("cr0", "cr2", "cr3", "cr4", "cr8", "efer"):
        return getattr(s, n)
    if n in ("fs_base", "gs_base"):
        return s.segs[FS if n == "fs_base" else GS].base
    if n == "k_gs_base":
        return s.msrs.get(MSR_KERNEL_GS_BASE, 0)
    raise DebugError(f"unknown register ${name}")


class Session:
    def __init__(self, machine, image=None, history_size: int = 1_000_000, interval: int = 10_000):
        self.machine = machine
        self.image = image
        self.accel = machine.accel
        self.breakpoints: dict[int, Breakpoint] = {}     # number -> breakpoint
        self.watchpoints: dict[int, Watchpoint] = {}
        self._next_number = 1
        self.step_irqs = False
        self.interval = interval
        self.pos = 0
        self.exited = None            # Stop of the end, or None while the guest can run
        self.recorder = Recorder(machine, history_size)
        self._exits = []
        self.interrupt_requested = None   # callable -> bool, polled between chunks
        self._step_from = None            # position before the last single step
        self._access_reported = None      # position of a read/access stop (before the insn)
        self._line_starts = None          # sorted addresses of image.lines (built when needed)
        self._observer = self._exits.append
        machine.add_exit_observer(self._observer)
        # the session single-steps an engine without an exact instruction
        # count (KVM) whenever it runs it: its guest time counts those
        # instructions from here on, so that re-execution is exact
        machine.count_guest_time()
        self.accel.sync_state()
        self.recorder.reset(0)
        self.recorder.save_initial()

    # -- state helpers ---------------------------------------------------------------
    @property
    def cpu(self):
        self.accel.sync_state()
        return self.machine.cpu

    def pc(self) -> int:
        s = self.cpu
        return s.segs[CS].base + s.rip

    def width(self) -> int:
        mode = self.cpu.mode
        return 8 if mode == "long64" else (4 if mode in ("prot32", "compat") else 2)

    def reg_values(self) -> dict:
        """Registers at the current mode's width, for display and diffs."""
        s = self.cpu
        w = self.width()
        mask = (1 << (8 * w)) - 1
        names = REG_NAMES64 if w == 8 else (REG_NAMES32 if w == 4 else REG_NAMES16)
        out = {names[i]: s.regs[i] & mask for i in range(16 if w == 8 else 8)}
        out[{8: "rip", 4: "eip", 2: "ip"}[w]] = s.rip & mask
        out["eflags"] = s.rflags
        for i, n in enumerate(SEG_NAMES):
            out[n] = s.segs[i].selector
        if s.efer & EFER_LMA:             # long mode: the bases SWAPGS / WRMSR change
            out["fs_base"] = s.segs[FS].base
            out["gs_base"] = s.segs[GS].base
            out["k_gs_base"] = s.msrs.get(MSR_KERNEL_GS_BASE, 0)
        return out

    def set_register(self, name: str, value: int) -> None:
        """``$ax = 5``: any name of the x86 register file (8/16/32/64-bit,
        ip/eip/rip, flags/eflags, segment registers in real mode)."""
        s = self.cpu
        before = s.copy()
        n = name.lower()
        if n in REG_NAMES64:
            s.regs[REG_NAMES64.index(n)] = value & (2 ** 64 - 1)
        elif n in REG_NAMES32:
            i = REG_NAMES32.index(n)
            s.regs[i] = value & 0xFFFFFFFF
        elif n in REG_NAMES16:
            i = REG_NAMES16.index(n)
            s.regs[i] = (s.regs[i] & ~0xFFFF) | (value & 0xFFFF)
        elif n in ("al", "cl", "dl", "bl"):
            i = ("al", "cl", "dl", "bl").index(n)
            s.regs[i] = (s.regs[i] & ~0xFF) | (value & 0xFF)
        elif n in ("ah", "ch", "dh", "bh"):
            i = ("ah", "ch", "dh", "bh").index(n)
            s.regs[i] = (s.regs[i] & ~0xFF00) | ((value & 0xFF) << 8)
        elif n in ("ip", "eip", "rip", "pc"):
            s.rip = value & (0xFFFF if n == "ip" else 2 ** 64 - 1)
        elif n in ("flags", "eflags", "rflags"):
            s.rflags = value & 0xFFFFFFFF
        elif n in ("fs_base", "gs_base"):
            s.segs[FS if n == "fs_base" else GS].base = value & (2 ** 64 - 1)
        elif n == "k_gs_base":
            s.msrs[MSR_KERNEL_GS_BASE] = value & (2 ** 64 - 1)
        elif n in ("cr0", "cr2", "cr3", "cr4", "cr8", "efer"):
            raise DebugError(f"${n}: changing a control register from the debugger is not supported "
                             "(the guest's own MOV CR / WRMSR does it)")
        elif n in SEG_NAMES:
            i = SEG_NAMES.index(n)
            if s.mode != "real":
                raise DebugError(f"${n}: loading a segment register outside real mode is not supported here")
            from ..isa.x86.state import Segment
            s.segs[i] = Segment.real(value & 0xFFFF, code=(i == CS))
        else:
            raise DebugError(f"unknown register ${name}")
        self.accel.state_changed()
        self._settle(cpu_changes(before, s), [])

    def get_register(self, name: str) -> int:
        return register_value(self.cpu, name)

    # -- memory ------------------------------------------------------------------------
    # Addresses are linear (what the guest's code uses, what gdb sends in m/M
    # and Z packets); with paging on they go through the guest's page tables
    # without side effects (no accessed/dirty bits, no TLB, no #PF).
    def _physical_runs(self, addr: int, n: int) -> list:
        return physical_runs(self.machine, self.cpu, addr, n)

    def read_memory(self, addr: int, n: int) -> bytes:
        if n < 0:
            raise DebugError(f"cannot read {n} bytes")
        runs = self._physical_runs(addr, n)
        self.accel.sync_state()
        if n == 0:
            return b""
        return b"".join(self.machine.ram.read_bytes(pa, k) for pa, k in runs)

    def write_memory(self, addr: int, data: bytes) -> None:
        runs = self._physical_runs(addr, len(data))
        self.accel.sync_state()
        ram = self.machine.ram
        off = 0
        written = []
        for pa, k in runs:
            chunk = bytes(data[off:off + k])
            if ram.read_bytes(pa, k) != chunk:
                written.append((pa, chunk))
            ram.load(pa, chunk)
            off += k
        self.accel.flush_code_cache()
        self.accel.state_changed()
        self._settle({}, written)

    def mapped(self, addr: int) -> bool:
        """``addr`` (linear) is in RAM through the guest's page tables."""
        try:
            self._physical_runs(addr, 1)
        except DebugError:
            return False
        return True

    def _settle(self, regs: dict, mem: list) -> None:
        """The user changed the state (made already): ``regs`` what changed
        in the CPU (:func:`cpu_changes`), ``mem`` the bytes written,
        ``[(physical address, bytes)]``.  As gdb's ``record full`` does, the
        change becomes part of the recording at the present position P
        (:meth:`Recorder.edit <emu.debug.record.Recorder.edit>`): history
        before P stays -- reverse execution undoes the change and goes on
        further back, and re-execution through P makes it again
        (:meth:`_advanced`) -- while the recorded future after P is
        forgotten.  A change of nothing is not recorded."""
        if regs or mem:
            self.recorder.edit(self.pos, regs, mem)

    def _advanced(self, before: int) -> None:
        """Execution moved forward from position ``before`` to ``self.pos``:
        arriving at a position where the user changed the state, make the
        change again (before the instruction there runs).  Every run of
        instructions goes through here (:meth:`_step_one`,
        :meth:`_run_chunk`, :meth:`_run_chunk_plain`), and runs of several
        stop at the next edit (:meth:`_to_next_edit`)."""
        if self.pos <= before:
            return
        e = self.recorder.edits.get(self.pos)
        if e is None:
            return
        accel = self.accel
        accel.sync_state()
        apply_cpu_changes(self.machine.cpu, e.regs)
        for pa, data in e.mem:
            self.machine.ram.load(pa, data)
        if e.mem:
            accel.flush_code_cache()
        accel.state_changed()

    def _to_next_edit(self, n: int) -> int:
        """``n`` instructions, or fewer to stop at the next recorded edit."""
        nxt = self.recorder.next_edit(self.pos)
        return n if nxt is None else min(n, nxt - self.pos)

    # -- decoding ---------------------------------------------------------------------------
    def decode(self, lin: int | None = None, ip: int | None = None):
        """The instruction at linear ``lin`` (default: the PC), in the CPU's
        current mode; returns (insn, raw bytes) or raises DebugError."""
        from ..isa.x86.decode import Decoder
        s = self.cpu
        if lin is None:
            lin = self.pc()
        if ip is None:
            ip = lin - s.segs[CS].base
        code = b""
        for k in (16, 8, 4, 1):           # near the end of RAM or of a mapping: fewer
            try:
                code = self.read_memory(lin, k)
                break
            except DebugError:
                continue
        dsize = 4 if s.segs[CS].db else 2
        dec = Decoder(self.machine.model.name, dsize, s.mode == "long64")
        try:
            insn = dec.decode(lambda k: code[k], ip)
        except Exception as e:        # undecodable bytes: say so, not crash
            raise DebugError(f"cannot decode at 0x{lin:x}: {e}") from None
        return insn, code[:insn.length]

    def insn_text(self, lin: int | None = None) -> str:
        from ..isa.x86.disasm import format_insn
        try:
            insn, _ = self.decode(lin)
        except DebugError as e:
            return f"(bad: {e})"
        return format_insn(insn)

    # -- breakpoints and watchpoints -------------------------------------------------------
    def add_breakpoint(self, addr: int, temporary: bool = False, where: str = "") -> Breakpoint:
        bp = Breakpoint(self._next_number, addr, temporary, 0, where)
        self._next_number += 1
        self.breakpoints[bp.number] = bp
        return bp

    def add_watchpoint(self, kind: str, addr: int, length: int) -> Watchpoint:
        wp = Watchpoint(self._next_number, kind, addr, length, self.read_memory(addr, length))
        self._next_number += 1
        self.watchpoints[wp.number] = wp
        return wp

    def delete(self, number: int | None = None) -> None:
        if number is None:
            self.breakpoints.clear()
            self.watchpoints.clear()
            return
        if number in self.breakpoints:
            del self.breakpoints[number]
        elif number in self.watchpoints:
            del self.watchpoints[number]
        else:
            raise DebugError(f"no breakpoint number {number}")

    def remove_breakpoint_at(self, addr: int) -> bool:
        for n, bp in list(self.breakpoints.items()):
            if bp.addr == addr:
                del self.breakpoints[n]
                return True
        return False

    def remove_watchpoint_at(self, kind: str, addr: int, length: int) -> bool:
        for n, wp in list(self.watchpoints.items()):
            if (wp.kind, wp.addr, wp.length) == (kind, addr, length):
                del self.watchpoints[n]
                return True
        return False

    def _bp_addrs(self) -> set:
        return {bp.addr for bp in self.breakpoints.values()}

    # -- running: the primitives -----------------------------------------------------------
    def _arm(self, on: bool, extra=()) -> None:
        bps = self.accel.breakpoints
        bps.clear()
        if on:
            bps.update(self._bp_addrs())
            bps.update(extra)

    def _step_one(self, hold_irq: bool | None = None):
        """Retire exactly one instruction (or stop trying); returns the
        Machine's RunResult.  Breakpoints are disarmed (we are leaving one,
        or stepping on purpose)."""
        m = self.machine
        accel = self.accel
        if hold_irq is None:
            hold_irq = not self.step_irqs and self._irq_would_be_taken()
        self._arm(False)
        saved_line = None
        if hold_irq:
            saved_line = accel.irq_line
            accel.irq_line = False
            self.recorder.held_irqs.add(self.pos)
        before = accel.icount
        self._step_from = self.pos
        accel.set_single_step(True)
        try:
            r = m.run()
            if r.reason != "debug":
                self._drain()
        finally:
            accel.set_single_step(False)
            if hold_irq:
                pic = getattr(m, "pic", None)
                accel.irq_line = pic.intr.level if pic is not None else saved_line
        self.pos += accel.icount - before
        self._advanced(self._step_from)
        return r

    def _irq_would_be_taken(self) -> bool:
        """An interrupt would be taken before the next instruction and may be
        held back for a step.  Never for a halted CPU or a HLT: the
        interrupt is what ends the halt, and holding it back would leave the
        CPU halted with the interrupt pending, forever."""
        accel = self.accel
        if not getattr(accel, "irq_line", False):
            return False
        s = self.cpu
        if not s.rflags & F.IF or s.halted:
            return False
        try:
            return self.decode()[0].name != "HLT"
        except DebugError:
            return True

    def _drain(self) -> None:
        """After a stepped run that ended on something other than the step
        (the guest exited through an OUT, HLT), the engine still owes the
        step's DEBUG exit (or, on KVM, the I/O completion): collect it now so
        that it cannot end the next command early."""
        try:
            ex = self.accel.run(0)
        except Exception:         # a dead engine: nothing owed
            return
        if ex is not None and ex.reason in ("IO", "MMIO"):
            self.machine.dispatch_exit(ex)

    def _run_chunk(self, n: int, extra=()):
        """Up to ``n`` instructions at full speed with breakpoints armed
        (exact-icount engines only)."""
        m = self.machine
        accel = self.accel
        n = self._to_next_edit(n)
        self._arm(True, extra)
        before = accel.icount
        start = self.pos
        try:
            r = m.run(icount_limit=n)
        finally:
            self._arm(False)
        self.pos += accel.icount - before
        self._advanced(start)
        return r

    # -- commands -----------------------------------------------------------------------------
    def _begin(self) -> dict:
        self._exits.clear()
        return {"regs": self.reg_values(), "serial": len(self.machine.serial_log),
                "shadow": self.recorder.shadow, "pos": self.pos}

    def _finish(self, st: Stop, ctx: dict, forward: bool = True) -> Stop:
        st.exits = [e.describe() if hasattr(e, "describe") else str(e) for e in self._exits]
        self._exits.clear()
        st.regs_before = ctx["regs"]
        st.regs_after = self.reg_values()
        st.pc = self.pc()
        st.count = self.pos - ctx["pos"]
        log = self.machine.serial_log
        st.output = bytes(log[ctx["serial"]:]) if len(log) > ctx["serial"] else b""
        if forward:
            st.writes = self.recorder.checkpoint(self.pos)
        else:
            st.exits = []             # re-execution's exits are history, not news
            rec = self.recorder
            pages = rec.changed_pages(ctx["shadow"])
            st.writes = memory_runs(self.machine.ram, ctx["shadow"], pages)
            # the present becomes a checkpoint, as after a forward command: the
            # next command's writes are then told against RAM as it is here,
            # not against the checkpoint the re-execution started from
            rec.checkpoint(self.pos)
        return st

    def _result_stop(self, r) -> Stop | None:
        """Turn a RunResult that ended the guest into a Stop (None: it did not)."""
        if r.reason == "debug-exit":
            return Stop("exited", f"the guest exited with status {r.status}", status=r.status)
        if r.reason == "halt":
            return Stop("halted", r.message)
        if r.reason in ("shutdown", "fail-entry", "internal-error", "unknown-exit", "system-event"):
            return Stop("crashed", r.message)
        return None

    def _check_running(self) -> None:
        if self.exited is not None:
            raise DebugError(f"the guest is not running ({self.exited.message}); "
                             "use 'run' to start again or reverse-step into its history")

    def _repeat(self, n: int, one) -> Stop:
        """A stepping command: ``one(executed)`` N times -- each appends
        the (pc, text) of the instructions it starts with and returns the
        Stop that ends the command early, or None -- until the guest stops,
        a breakpoint or watchpoint, or an interrupt (Ctrl-C)."""
        self._check_running()
        ctx = self._begin()
        executed = []
        st = None
        for _ in range(n):
            st = self._interrupted() or one(executed)
            if st is not None:
                break
        if st is None:
            st = Stop("step")
        st.executed = executed[-8:]
        self._note_end(st)
        return self._finish(st, ctx)

    def _interrupted(self) -> Stop | None:
        if self.interrupt_requested is not None and self.interrupt_requested():
            return Stop("interrupted", "interrupted by the debugger")
        return None

    def _before_insn(self, pc: int, first: bool, bps) -> Stop | None:
        """What stops a command that steps on before the instruction at
        ``pc``: an interrupt, and -- unless it is the instruction the
        command started on -- a breakpoint there or a read/access
        watchpoint it would trigger."""
        st = self._interrupted()
        if st is None and not first:
            if pc in bps:
                st = self._bp_stop(pc)
            elif self.watchpoints:
                st = self._check_access_before()
        return st

    def _over_call(self, ret: int, sp_before: int) -> Stop | None:
        """Run a call whole: until the PC is at its return address ``ret``
        with the stack popped to ``sp_before`` (None), or something else
        stops the guest first (that Stop)."""
        st = self._run_until(lambda: self.pc() == ret and self.cpu.regs[4] >= sp_before)
        return None if st.reason == "return" else st

    def _stepi_one(self, executed: list, hold_irq: bool | None = None) -> Stop | None:
        pc = self.pc()
        executed.append((pc, self.insn_text(pc)))
        st = self._result_stop(self._step_one(hold_irq))
        if st is None and self.watchpoints:
            st = self._check_watch_after()
        return st

    def _call_at(self, pc: int):
        """(name, length) of the instruction at ``pc`` ("?", 0 if undecodable)."""
        try:
            insn, _ = self.decode(pc)
        except DebugError:
            return "?", 0
        return insn.name, insn.length

    def step(self, n: int = 1) -> Stop:
        """stepi N: exactly N instructions (fewer if the guest stops)."""
        return self._repeat(n, self._stepi_one)

    def next(self, n: int = 1) -> Stop:
        """nexti N: like stepi, but a CALL or INT runs until it returns."""
        def one(executed):
            pc = self.pc()
            name, length = self._call_at(pc)
            if name not in CALL_LIKE:
                return self._stepi_one(executed)
            executed.append((pc, self.insn_text(pc)))
            return self._over_call(pc + length, self.cpu.regs[4])
        return self._repeat(n, one)

    # -- source lines -------------------------------------------------------------------------
    # gdb's step and next (GDB manual, "Continuing and Stepping"; infrun's
    # stepping range): the line map is the image's (the loader's map of an
    # assembly source, an ELF's DWARF line table), address -> (file, line)
    # at the addresses where a line's code starts.

    def line_at(self, lin: int):
        """(file, line) of the line whose code starts at ``lin``, or None."""
        return self.image.lines.get(lin) if self.image is not None else None

    def line_of(self, lin: int):
        """(file, line) of the line whose code ``lin`` is in (the last
        line start at or before it, within the image), or None."""
        img = self.image
        if img is None or not img.lines or not img.base <= lin < img.base + len(img.data):
            return None
        if self._line_starts is None:
            self._line_starts = sorted(img.lines)
        k = bisect.bisect_right(self._line_starts, lin)
        return img.lines[self._line_starts[k - 1]] if k else None

    def step_line(self, n: int = 1, over: bool = False) -> Stop:
        """step N (``over``: next N): run until the PC reaches the start of
        another source line, N times.  A call (CALL, INT) into code with
        line information is entered by step (stopping at its first line,
        after the frame setup gdb's prologue analysis skips) and run whole
        by next; a call into code without line information always runs
        whole.  Arriving in the middle of a line (a return to the caller)
        makes that line the current one, and the start of a line that
        begins no statement (DWARF is_stmt) is passed, as gdb does.
        Breakpoints, watchpoints and the guest's end stop it as they stop
        continue."""
        if self.image is None or not self.image.lines:
            self._check_running()
            raise DebugError("The guest has no line number information (step and next need a "
                             ".S/.asm guest or an ELF built with -g); use stepi or nexti.")
        return self._repeat(n, lambda executed: self._step_line(over, executed))

    def _step_line(self, over: bool, executed: list):
        """One step/next; None when it reached a new line."""
        current = self.line_of(self.pc())
        bps = self._bp_addrs()
        first = True
        since_cp = 0
        while True:
            pc = self.pc()
            st = self._before_insn(pc, first, bps)
            if st is not None:
                return st
            first = False
            name, length = self._call_at(pc)
            sp_before = self.cpu.regs[4]
            # (interrupts are taken: a line may wait for one, as a loop does)
            st = self._stepi_one(executed, hold_irq=False)
            if st is not None:
                return st
            if name in CALL_LIKE and self.pc() != pc + length:
                if over or self.line_at(self.pc()) is None:
                    st = self._over_call(pc + length, sp_before)
                    if st is not None:
                        return st
                else:
                    self._skip_frame_setup()
                    return None
            since_cp += 1
            if since_cp >= self.interval:
                self.recorder.checkpoint(self.pos)
                since_cp = 0
            here = self.pc()
            start = self.line_at(here)
            if start is None:                  # in the middle of a line: that line
                current = self.line_of(here) or current
            elif start != current and here not in self.image.not_statements:
                return None
            # (the start of a line that begins no statement: gdb goes on)

    def _skip_frame_setup(self) -> None:
        """Stepped into a C function: run its frame setup, as gdb's i386
        prologue analysis (``i386_analyze_frame_setup``) skips it -- the
        bytes ``55 89 e5`` or ``55 8b ec`` (``push ebp; mov ebp, esp``;
        gdb does not recognise them behind an operand-size prefix, as gcc
        -m16 emits them) -- and go on to the start of a line if that ends in
        the middle of one.  Assembly functions stop at their first
        instruction (gdb skips no prologue there)."""
        loc = self.line_at(self.pc())
        if loc is None or loc[0].lower().endswith((".s", ".asm")):
            return
        try:
            code = self.read_memory(self.pc(), 3)
        except DebugError:
            return
        if code not in (b"\x55\x89\xe5", b"\x55\x8b\xec"):
            return
        self._step_one()
        self._step_one()
        for _ in range(64):
            if self.line_at(self.pc()) is not None:
                break
            self._step_one()

    # -- frames -------------------------------------------------------------------------------
    # The stack as a debugger without debug information sees it (gdb's
    # prologue analysis and heuristic unwinding, in small): a near CALL
    # pushes the address of the next instruction, 2, 4 or 8 bytes in 16-,
    # 32- or 64-bit code; a function that keeps a frame pointer starts with
    # ``push bp; mov bp, sp`` so that [bp] is the caller's BP and [bp + w]
    # the return address.  A value on the stack is taken for a return
    # address when the bytes just before the address it names decode as a
    # CALL ending exactly there.

    def _stack(self):
        """(word size, linear address of SS:0, SP/ESP/RSP mask) of the code."""
        s = self.cpu
        if s.mode == "long64":
            return 8, 0, 2 ** 64 - 1
        w = 4 if s.segs[CS].db else 2
        return w, s.segs[SS].base, 0xFFFFFFFF if s.segs[SS].db else 0xFFFF

    def sp_linear(self) -> int:
        w, base, mask = self._stack()
        return base + (self.cpu.regs[4] & mask)

    def _word(self, lin: int, w: int) -> int | None:
        try:
            return int.from_bytes(self.read_memory(lin, w), "little")
        except DebugError:
            return None

    def _insn_before(self, lin: int, ip: int, names) -> bool:
        """An instruction named in ``names`` ends exactly at linear ``lin``."""
        for k in (5, 3, 2, 6, 7, 1, 4, 8, 9, 10):
            try:
                insn, _ = self.decode(lin - k, ip - k)
            except DebugError:
                continue
            if insn.length == k and insn.name in names:
                return True
        return False

    def _return_at(self, slot: int, w: int, code_base: int):
        """The linear return address stored at ``slot``, if it is one: the
        address after a near CALL, or -- with the code segment pushed above
        it -- after a far CALL or a software INT (an interrupt handler's
        frame; IRET pops it as RET pops a CALL's)."""
        v = self._word(slot, w)
        if not v:
            return None
        if self._insn_before(code_base + v, v, ("CALL", "CALL_IND")):
            return code_base + v
        if self.cpu.mode in ("real", "vm86"):
            cs = self._word(slot + w, w)
            if cs is None:
                return None
            lin = ((cs & 0xFFFF) << 4) + v
        else:
            lin = code_base + v             # (a flat code segment is assumed)
        if self._insn_before(lin, v, ("CALLF", "CALLF_IND", "INT", "INT3", "INTO")):
            return lin
        return None

    def frames(self, limit: int = 32) -> list:
        """[Frame] from the innermost: each frame's PC and the linear address
        of the slot holding its return address (None for the outermost).

        The innermost frame's slot is the first return address at or above
        SP (at the entry that is [SP]; after ``push bp`` it is [SP + w]; in a
        function without a frame pointer it is wherever its pushes left it);
        failing that (more than 64 words of locals), [BP + w].  The callers'
        slots follow the BP chain -- a frame that set up BP saved the
        caller's at [BP], one that did not leaves it in BP -- and, where the
        chain ends, the next return address further up the stack."""
        s = self.cpu
        w, ss_base, mask = self._stack()
        code_base = 0 if s.mode == "long64" else s.segs[CS].base
        sp = ss_base + (s.regs[4] & mask)
        bp = ss_base + (s.regs[5] & mask)

        def scan(lo):
            for k in range(64):
                if self._return_at(lo + k * w, w, code_base) is not None:
                    return lo + k * w
            return None
        slot = scan(sp)
        if slot is None and sp <= bp and self._return_at(bp + w, w, code_base) is not None:
            slot = bp + w
        out = [Frame(0, self.pc(), slot)]
        while slot is not None and len(out) < limit:
            ret = self._return_at(slot, w, code_base)
            if slot == bp + w:                   # this frame saved the caller's BP at [bp]
                saved = self._word(bp, w)
                bp = None if saved is None else ss_base + (saved & mask)
            nxt = None
            if bp is not None and bp + w > slot and self._return_at(bp + w, w, code_base) is not None:
                nxt = bp + w
            else:
                nxt = scan(slot + w)
            out.append(Frame(len(out), ret, nxt))
            slot = nxt
        return out

    def _returned(self, frames: list):
        """A test for 'the innermost of ``frames`` has returned': its return
        address slot was popped, or (a return to an outer privilege level,
        IRET/RETF, switches stacks) the PC is at its return address with
        another CPL."""
        slot = frames[0].slot
        ret = frames[1].pc if len(frames) > 1 else None
        cpl = self.cpu.cpl
        return lambda: self.sp_linear() > slot or (self.pc() == ret and self.cpu.cpl != cpl)

    def finish(self) -> tuple:
        """finish: run until the current function returns (the slot holding
        its return address is popped); returns (frame, Stop)."""
        self._check_running()
        frames = self.frames(2)
        if frames[0].slot is None:
            raise DebugError('"finish" not meaningful in the outermost frame.')
        ctx = self._begin()
        st = self._run_until(self._returned(frames))
        self._note_end(st)
        return frames[0], self._finish(st, ctx)

    def until(self, location: int | None = None, any_frame: bool = False) -> Stop:
        """until: like nexti, but never stopping at a lower address (a loop's
        backward jump runs the loop to its end), or until the current
        function returns.  until LOCATION: run until LOCATION is reached in
        the current frame or a caller (``any_frame``: in any frame, gdb's
        ``advance``), or the current function returns."""
        self._check_running()
        ctx = self._begin()
        frames = self.frames(2)
        slot = frames[0].slot
        returned = self._returned(frames) if slot is not None else (lambda: False)
        start = self.pc()
        if location is None:
            st = None
            bps = self._bp_addrs()
            first = True
            since_cp = 0
            while st is None:
                pc = self.pc()
                st = self._before_insn(pc, first, bps)
                if st is not None:
                    break
                first = False
                name, length = self._call_at(pc)
                if name in CALL_LIKE:          # a call runs whole, as with nexti
                    st = self._over_call(pc + length, self.cpu.regs[4])
                    if st is not None:
                        break
                else:
                    r = self._step_one(hold_irq=False)
                    st = self._result_stop(r)
                    if st is None and self.watchpoints:
                        st = self._check_watch_after()
                    if st is not None:
                        break
                    since_cp += 1
                    if since_cp >= self.interval:
                        self.recorder.checkpoint(self.pos)
                        since_cp = 0
                if returned() or self.pc() > start:
                    st = Stop("until")
        elif slot is None:
            # the outermost frame: nothing to return from; run at full speed
            st = self._run_until(None, extra=frozenset((location,)))
        else:
            def done():
                if returned():
                    return True
                if self.pc() != location:
                    return False
                if any_frame:
                    return True
                here = self.frames(1)[0].slot          # deeper frames (recursion) go on
                return here is None or here >= slot
            st = self._run_until(done)
        if st.reason == "return" and location is not None:
            st = Stop("location") if self.pc() == location else Stop("until")
        self._note_end(st)
        return self._finish(st, ctx)

    def cont(self) -> Stop:
        """continue: until a breakpoint, a watchpoint, or the guest stops."""
        self._check_running()
        ctx = self._begin()
        st = self._run_until(None)
        self._note_end(st)
        return self._finish(st, ctx)

    def _run_until(self, done, extra=frozenset()) -> Stop:
        """Run forward until a breakpoint or watchpoint, the guest stops,
        ``done()`` (checked after every instruction) is true, or the PC
        reaches an address in ``extra`` (internal breakpoints: Stop
        "location")."""
        bps = self._bp_addrs()
        first = True
        exact = self.accel.exact_icount and done is None and not self.watchpoints
        since_cp = 0
        while True:
            st = self._interrupted()
            if st is not None:
                return st
            pc = self.pc()
            if not first and pc in bps:
                return self._bp_stop(pc)
            if not first and pc in extra:
                return Stop("location")
            if exact and not first:
                r = self._run_chunk(self.interval, extra)
                since_cp += r.icount
                st = self._result_stop(r)
                if st is not None:
                    return st
                if r.reason == "debug" and getattr(r.exit, "kind", "") == "breakpoint":
                    if self.pc() in bps:
                        return self._bp_stop(self.pc())
                    if self.pc() in extra or self.pos not in self.recorder.edits:
                        return Stop("location")
                    # (an edit recorded there moved the PC off it: go on)
                if since_cp >= self.interval:
                    self.recorder.checkpoint(self.pos)
                    since_cp = 0
                continue
            # one instruction at a time (leaving a breakpoint, KVM, watchpoints, nexti)
            if self.watchpoints and not first:
                # (not the instruction we stand on: a read watchpoint that
                # stopped before it must let it run, as a breakpoint does)
                hit = self._check_access_before()
                if hit is not None:
                    return hit
            r = self._step_one(hold_irq=False)
            first = False
            since_cp += 1
            st = self._result_stop(r)
            if st is not None:
                return st
            if self.watchpoints:
                hit = self._check_watch_after()
                if hit is not None:
                    return hit
            if done is not None and done():
                return Stop("return")
            if since_cp >= self.interval:
                self.recorder.checkpoint(self.pos)
                since_cp = 0

    def _bp_stop(self, pc: int) -> Stop:
        for bp in self.breakpoints.values():
            if bp.addr == pc:
                bp.hits += 1
                st = Stop("breakpoint", f"Breakpoint {bp.number}", bp_number=bp.number)
                if bp.temporary:
                    del self.breakpoints[bp.number]
                    st.message = f"Temporary breakpoint {bp.number}"
                return st
        return Stop("breakpoint", "breakpoint")

    def _check_watch_after(self) -> Stop | None:
        # an access watchpoint already reported this instruction (it stopped
        # before it): the change it made is not a second stop
        reported = self._access_reported is not None and self._access_reported == self._step_from
        self._access_reported = None
        for wp in self.watchpoints.values():
            if wp.kind not in ("write", "access"):
                continue
            try:
                now = self.read_memory(wp.addr, wp.length)
            except DebugError:            # unmapped for now: nothing to compare
                continue
            if now != wp.old and wp.kind == "access" and reported:
                wp.old = now
            elif now != wp.old:
                old, wp.old = wp.old, now
                wp.hits += 1
                st = self._watch_stop(wp)
                st.writes_watch = (old, now)
                return st
        return None

    def _check_access_before(self) -> Stop | None:
        """Read/access watchpoints: the next instruction's memory operands
        (explicit ones and the string operands) overlap a watched range."""
        wanted = [wp for wp in self.watchpoints.values() if wp.kind in ("read", "access")]
        if not wanted:
            return None
        for wp in wanted:
            if self._accesses(wp):
                wp.hits += 1
                self._access_reported = self.pos
                return self._watch_stop(wp)
        return None

    def operand_ranges(self) -> list:
        """[(linear address, size, access)] of the next instruction's memory
        operands, ``access`` "r", "w" or "rw": the destination of an
        instruction that only stores (MOV, POP, SETcc, STOS, ...) is "w",
        other explicit operands count as read (a read-modify-write reads)."""
        from ..isa.x86.insn import MEM
        try:
            insn, _ = self.decode()
        except DebugError:
            return []
        s = self.cpu

        def base(seg):                      # 64-bit mode: only FS and GS have a base
            if s.mode == "long64" and seg not in (FS, GS):
                return 0
            return s.segs[seg].base
        out = []
        for k, o in enumerate(insn.ops):
            if getattr(o, "kind", None) == MEM and o.size:
                ea = o.disp
                if o.base >= 0:
                    ea += s.regs[o.base]
                if o.index >= 0:
                    ea += s.regs[o.index] * o.scale
                seg = o.seg if o.seg is not None else 3
                access = "w" if k == 0 and insn.name in PURE_STORES else "rw"
                out.append((base(seg) + (ea & o.amask), o.size, access))
        if insn.name in STRING_OPS:
            amask = (1 << (8 * insn.asize)) - 1
            if insn.name in ("MOVS", "CMPS", "LODS", "OUTS"):
                seg = insn.seg if insn.seg is not None else 3
                out.append((base(seg) + (s.regs[6] & amask), insn.size, "r"))
            if insn.name in ("MOVS", "CMPS", "STOS", "SCAS", "INS"):
                out.append((base(0) + (s.regs[7] & amask), insn.size,
                            "r" if insn.name in ("CMPS", "SCAS") else "w"))
        return out

    def _accesses(self, wp) -> bool:
        """The next instruction reads (``rwatch``) or touches (``awatch``)
        the bytes of ``wp``."""
        for lo, size, access in self.operand_ranges():
            if wp.kind == "read" and access == "w":
                continue
            if lo < wp.addr + wp.length and wp.addr < lo + size:
                return True
        return False

    def _note_end(self, st: Stop) -> None:
        if st.reason in ("exited", "crashed"):
            self.exited = st
        elif st.reason == "halted":
            self.exited = st

    # -- reverse ------------------------------------------------------------------------------
    def _goto(self, target: int) -> None:
        """Stand at position ``target`` (within recorded history)."""
        rec = self.recorder
        i = rec.index_at_or_before(target)
        self.pos = rec.restore(i)
        self._replay_to(target)
        rec.truncate(rec.index_at_or_before(self.pos))
        self.exited = None

    def _replay_to(self, target: int, visit=None) -> None:
        """Re-execute from the present to ``target``, holding back interrupts
        where the recording held them; ``visit(pos, pc)`` before each one."""
        held = self.recorder.held_irqs
        while self.pos < target:
            if visit is not None:
                visit(self.pos, self.pc())
            exact = self.accel.exact_icount and visit is None
            if exact:
                nxt = min([p for p in held if self.pos <= p < target], default=target)
                if nxt > self.pos:
                    r = self._run_chunk_plain(nxt - self.pos)
                    if r.reason not in ("limit", "debug"):
                        break
                    continue
            r = self._step_one(hold_irq=self.pos in held)
            if self._result_stop(r) is not None and self.pos < target:
                break

    def _run_chunk_plain(self, n: int):
        accel = self.accel
        n = self._to_next_edit(n)
        self._arm(False)
        before = accel.icount
        start = self.pos
        r = self.machine.run(icount_limit=n)
        self.pos += accel.icount - before
        self._advanced(start)
        return r

    def reverse_step(self, n: int = 1) -> Stop:
        ctx = self._begin()
        target = self.pos - n
        st = Stop("step")
        if target < self.recorder.oldest:
            target = self.recorder.oldest
            st = Stop("history-start", "No more reverse-execution history.")
        if target == self.pos and st.reason == "step":
            st = Stop("history-start", "No more reverse-execution history.")
        self._goto(target)
        self._refresh_watches()
        st.executed = [(self.pc(), self.insn_text())]
        return self._finish(st, ctx, forward=False)

    def reverse_continue(self) -> Stop:
        """Back to the most recent position before the present at which a
        breakpoint's address was about to execute, or an instruction was
        about to change the bytes a write watchpoint covers (``watch``) or
        to access those of a read/access watchpoint (``rwatch``,
        ``awatch``) -- as gdb's ``record full`` stops going backwards: at
        the instruction, before it ran -- or to the start of history."""
        ctx = self._begin()
        rec = self.recorder
        bps = self._bp_addrs()
        writes = [wp for wp in self.watchpoints.values() if wp.kind == "write"]
        accesses = [wp for wp in self.watchpoints.values() if wp.kind in ("read", "access")]
        end = self.pos
        present = {wp.number: self._watched(wp) for wp in writes}
        found = None                  # (position, ("breakpoint", None) or ("watch", wp))
        if (bps or writes or accesses) and end > rec.oldest:
            i = rec.index_at_or_before(end - 1)
            while i is not None:
                hits = []
                last = {}             # watchpoint number -> (position, bytes) seen last

                def visit(p, pc):
                    if pc in bps:
                        hits.append((p, ("breakpoint", None)))
                    for wp in writes:
                        now = self._watched(wp)
                        seen = last.get(wp.number)
                        if seen is not None and seen[1] != now:
                            hits.append((seen[0], ("watch", wp)))   # that instruction wrote
                        last[wp.number] = (p, now)
                    for wp in accesses:
                        if self._accesses(wp):
                            hits.append((p, ("watch", wp)))

                self.pos = rec.restore(i)
                self._replay_to(end, visit=visit)
                for wp in writes:     # the last instruction before ``end``
                    seen = last.get(wp.number)
                    if seen is not None and seen[1] != self._watched(wp):
                        hits.append((seen[0], ("watch", wp)))
                if hits:
                    found = max(hits, key=lambda h: h[0])
                    break
                end = rec.cps[i].pos
                i = i - 1 if i > 0 else None
        if found is not None:
            self._goto(found[0])
            kind, wp = found[1]
            if kind == "breakpoint":
                st = self._bp_stop(self.pc())
            else:
                wp.hits += 1
                st = self._watch_stop(wp)
                if wp.kind == "write":
                    # going backwards the value changes from what it is at
                    # the present to what it was before the write
                    st.writes_watch = (present[wp.number], self._watched(wp))
        else:
            self._goto(rec.oldest)
            st = Stop("history-start", "No more reverse-execution history.")
        self._refresh_watches()
        st.executed = [(self.pc(), self.insn_text())]
        return self._finish(st, ctx, forward=False)

    def _watched(self, wp) -> bytes | None:
        """The bytes a watchpoint covers now (None: not mapped now)."""
        try:
            return self.read_memory(wp.addr, wp.length)
        except DebugError:
            return None

    def _watch_stop(self, wp) -> Stop:
        name = {"write": "Hardware watchpoint", "read": "Hardware read watchpoint",
                "access": "Hardware access (read/write) watchpoint"}[wp.kind]
        return Stop("watchpoint", f"{name} {wp.number}: 0x{wp.addr:x}", watch=(wp.kind, wp.addr))

    def _refresh_watches(self) -> None:
        """After moving through history: write watchpoints compare with the
        bytes as they are here."""
        for wp in self.watchpoints.values():
            now = self._watched(wp)
            if now is not None:
                wp.old = now

    def restart(self) -> Stop:
        """run / restart: back to the state the session started in."""
        ctx = self._begin()
        self.recorder.restore_initial()
        self.pos = 0
        self.exited = None
        for bp in self.breakpoints.values():
            bp.hits = 0
        self._refresh_watches()
        st = Stop("restart", "Starting the guest from the beginning.")
        return self._finish(st, ctx, forward=False)

    def close(self) -> None:
        if self._observer is not None:
            self.machine.remove_exit_observer(self._observer)
            self._observer = None
        self.recorder.close()
