"""Lockstep differential execution: ``emu diff GUEST -accel A,B``.

Two Machines are built with the same board, image, CPU model, RAM size and
serial input, one per engine.  Both are single-stepped together; after every
instruction kasou compares

* the full canonical CPU state (its ``snapshot()``, compared by the
  Target's lockstep rules; on x86 every register, RIP, RFLAGS, the six
  segment registers with their hidden parts, control registers, EFER,
  GDTR/IDTR, LDTR and TR),
* the port and MMIO exits the instruction made (port/address, size,
  direction, data), in order, and how the step ended (exit reason and
  status: HLT with interrupts disabled, isa-debug-exit, a triple fault ...),
* guest RAM: both RAM buffers are compared with numpy every
  ``ram_every`` steps and when the run ends; when they differ, the run is
  repeated from the start with a RAM comparison after every step since the
  last good one, so the report still names the exact instruction.  (The
  guests are deterministic: same image, same input, same device models.)

and stops at the first difference, with a report: the step number, the
instruction's address and disassembly (the Target's; capstone on x86), what differs, and both
states side by side.

Known divergences are the Target's (:meth:`emu.isa.target.Target.lockstep`;
for x86, the tables of ``emu/isa/x86/lockstep.py``): flags and results the
architecture leaves undefined after an instruction, and results that
legitimately differ between CPU models (CPUID, RDTSC).  When the two
engines disagree only there, the second engine is brought in line with the
first (so the difference does not show again at every later step) and the
step is counted in ``DiffResult.masked``; the report lists them.
(:func:`align_state` applies the same rule for other lockstep harnesses.)

Interrupts.  KVM runs in real time, so a timer interrupt would come at a
different instruction there than on an engine whose guest time is the
instruction count.  Single-stepped, KVM counts every instruction exactly,
so for the comparison its guest clock is the instruction count as well
(with the exact engines' rule for I/O writes): the timers fire, and the
interrupts are delivered, at the same step on both engines, and the
interrupt frames, handler entries and EOIs are compared like everything
else.

Host limits.  Where this host's KVM cannot run an instruction (kvm_pvm's
ring-0 emulator cannot deliver an interrupt through a 32-bit IDT or run
IRETD; it cannot run 32-bit paged code; its SYSCALL from native ring 3
leaves the vCPU in ring 3), the KVM engine stops with an explanation that
says so (``HOST_LIMIT``).  That is not a divergence: the comparison ends
there with ``reason == "host-limit"``, after checking that the prefix was
identical, RAM included, and the report says how far both engines agreed
and quotes the explanation.  A step KVM did not stop after (a return to
ring 3, which it runs natively without reporting single steps) is named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the most REP iterations one engine may retire in one step (KVM's
#: instruction emulator batches string iterations, up to 1024 at a time)
REP_MERGE_LIMIT = 4096


@dataclass
class DiffResult:
    """What ``run_diff`` found.  ``report_text`` is ready to print."""

    diverged: bool
    steps: int                       # instructions stepped (on each engine)
    report_text: str
    accels: tuple = ()
    reason: str = ""                 # "diverged", "ended", "max-steps", "host-limit"
    step: int | None = None          # the diverging step (1 = first instruction), or the
                                     # step a host limit stopped
    pc: int | None = None            # its linear address
    insn_text: str = ""              # its disassembly
    differences: list = field(default_factory=list)
    end: tuple = ()                  # (reason, status) of each engine's last run
    masked: int = 0                  # steps where only known divergences differed
    masked_notes: list = field(default_factory=list)
    host_limit: str = ""             # reason "host-limit": the engine's explanation
    ram_checked_at: int = 0          # the last step after which RAM was compared


class _Side:
    """One engine's Machine, single-stepping, with its exits of the last step."""

    def __init__(self, accel, loaded, board, cpu, memory, serial_input, semihosting=False):
        from .machine import Machine
        image, entry, base = loaded
        self.name = accel
        self.m = Machine(board=board, accel=accel, cpu=cpu, memory=memory,
                         serial_input=serial_input, semihosting=semihosting)
        self.m.load_image(image, entry=entry, base=base)
        accel = self.m.accel
        accel.set_single_step(True)
        self.exits = []
        # single-stepped, KVM counts every instruction exactly: its guest
        # clock counts them too, so the timers fire at the same instruction
        # as on the reference engine, and interrupts come at the same step
        # -- instead of wherever the host's clock puts them
        self.m.count_guest_time()
        # served by the run loop or inside unicorn's hooks: observed alike
        self.m.add_exit_observer(self._record)

    def _record(self, ex) -> None:
        if ex.reason in ("IO", "MMIO"):
            self.exits.append(_exit_tuple(ex))

    def step(self):
        del self.exits[:]
        return self.m.run()

    def close(self):
        self.m.close()


def _exit_tuple(ex) -> tuple:
    if ex.reason == "IO":
        return ("IO", "out" if ex.is_write else "in", ex.port, ex.size, ex.data)
    return ("MMIO", "write" if ex.is_write else "read", ex.addr, ex.size, ex.data)


def _fmt_exit(t) -> str:
    kind, d, where, size, data = t
    return f"{kind} {d} 0x{where:x} size {size} data 0x{data:x}"


def _ram_equal(a, b) -> bool:
    return bool(np.array_equal(a.m.ram.view, b.m.ram.view))


def _first_ram_difference(a, b) -> str:
    va, vb = a.m.ram.view, b.m.ram.view
    idx = np.flatnonzero(va != vb)
    first = int(idx[0])
    lines = [f"RAM differs at {len(idx)} byte(s); first at 0x{first:x}:"]
    for off in idx[:8]:
        off = int(off)
        lines.append(f"  0x{off:08x}: {a.name} {int(va[off]):02x}  {b.name} {int(vb[off]):02x}")
    return "\n".join(lines)


def run_diff(image: bytes, accels=("interp", "unicorn"), cpu: str | None = None,
             memory: int = 16 << 20, serial_input=None, max_steps: int | None = None,
             board: str = "pc", ram_every: int = 64, entry: int | None = None,
             base: int | None = None, semihosting: bool = False) -> DiffResult:
    """Run ``image`` on two engines in lockstep; stop at the first divergence.
    ``entry``: where to enter it (an ELF's entry point; None: the board's);
    ``base``: where to load it (an ELF's first segment; None: the board's);
    ``semihosting``: the board serves Arm semihosting (``-semihosting``).

    ``serial_input`` (bytes or str) is fed to each Machine's UART: each has
    its own devices, so both read the same bytes at the same time.
    """
    if serial_input is not None and not isinstance(serial_input, (bytes, bytearray, str)):
        raise TypeError("run_diff: serial_input must be bytes or str (each engine gets its own copy)")
    if len(accels) != 2:
        raise ValueError(f"run_diff: expected two accelerators, not {len(accels)}: {accels!r}")
    loaded = (image, entry, base, semihosting)
    args = (loaded, tuple(accels), cpu, memory, serial_input, max_steps, board)
    result, bad_ram = _lockstep(*args, ram_every=ram_every, exact_from=None)
    if bad_ram is not None:
        # RAM differed somewhere in (last_good, bad_ram]: replay, checking every step there
        result, _ = _lockstep(*args, ram_every=ram_every, exact_from=bad_ram)
    if result.reason == "host-limit" and result.ram_checked_at < result.steps:
        # the prefix must be identical in RAM too: RAM was last compared at
        # ram_checked_at; replay to the step before the limit, which ends
        # with a RAM comparison (and finds the exact step if RAM differs)
        args = (loaded, tuple(accels), cpu, memory, serial_input, result.steps, board)
        prefix, bad_ram = _lockstep(*args, ram_every=ram_every, exact_from=None)
        if bad_ram is not None:
            prefix, _ = _lockstep(*args, ram_every=ram_every, exact_from=bad_ram)
        if prefix.diverged:
            return prefix
        result.ram_checked_at = result.steps
    return result


#: the words every explanation of a host limit in kvm/accel.py contains
HOST_LIMIT = "limit of this host's KVM"


def _host_limit(a, b, ra, rb):
    """The side whose step ended on a limit of this host's KVM (the engine
    explains it with ``HOST_LIMIT``), or None."""
    for side, r in ((b, rb), (a, ra)):
        if r.reason != "debug" and HOST_LIMIT in (r.message or ""):
            return side
    return None


def _host_limit_result(step, pc, text, before, side, a, b, ra, rb, accels, masked, notes):
    """The comparison ends at a host limit after an identical prefix: say so."""
    other, r, r_other = (a, rb, ra) if side is b else (b, ra, rb)
    s = side.m.cpu
    rules = side.m.target.lockstep()
    lines = [f"no divergence in the {step - 1} steps both engines ran: {a.name} and {b.name} "
             f"agree on every register, every I/O access and RAM up to there",
             f"at step {step}, {rules.where(before)} (linear 0x{pc:x})  {text}, {side.name} "
             f"stopped on a limit of this host's KVM, so the comparison ends here:",
             f"  {side.name}: {r.reason} ({r.message})",
             f"  {other.name}: ran the instruction (a step that ended with {r_other.reason})"]
    if side.m.target.pc(s) != pc:
        lines.append(f"  {side.name} did not stop after this instruction: it ran on to "
                     f"{rules.where(s, wide=True)} before it stopped (this host's "
                     f"KVM does not report single steps in the ring-3 code it runs natively), "
                     f"so the instructions in between were not compared")
    if masked:
        lines.append(_masked_text(masked, notes).lstrip("\n"))
    return DiffResult(False, step - 1, "\n".join(lines), accels, "host-limit", step, pc, text,
                      end=((ra.reason, ra.status), (rb.reason, rb.status)), masked=masked,
                      masked_notes=notes, host_limit=r.message)


def _lockstep(loaded, accels, cpu, memory, serial_input, max_steps, board, ram_every, exact_from):
    """One lockstep run.  Returns (DiffResult, None) or, when RAM is found to
    differ and ``exact_from`` is None, (result, last step known good)."""
    *image, semihosting = loaded    # the image, its entry point and load address
    a = _Side(accels[0], image, board, cpu, memory, serial_input, semihosting)
    b = _Side(accels[1], image, board, cpu, memory, serial_input, semihosting)
    masked, notes = 0, []
    last_good = 0
    rules = a.m.target.lockstep()
    try:
        step = 0
        while max_steps is None or step < max_steps:
            step += 1
            insn = rules.inspect(a.m.ram, a.m.cpu)
            pc, text = insn.pc, insn.text
            before_a = a.m.cpu.copy()
            before_b = b.m.cpu.copy()
            ra, rb = a.step(), b.step()
            merged = _catch_up_rep(a, b, rules, insn)
            if merged:
                notes.append(f"step {step} 0x{pc:x} {text}: {merged}")
                masked += 1
            if (ra.reason, ra.status) != (rb.reason, rb.status):
                limited = _host_limit(a, b, ra, rb)
                if limited is not None:
                    result = _host_limit_result(step, pc, text, before_a, limited, a, b, ra, rb,
                                                accels, masked, notes)
                    result.ram_checked_at = last_good
                    return result, None
            diffs = []
            if (ra.reason, ra.status) != (rb.reason, rb.status):
                diffs.append(f"the step ended differently: {a.name} {ra.reason} ({ra.message}), "
                             f"{b.name} {rb.reason} ({rb.message})")
            if a.exits != b.exits:
                diffs.append("I/O differs:\n" + _fmt_exits(a, b))
            masks = rules.undefined(insn, a.m.cpu)
            state_diffs = rules.compare(a.m.cpu, b.m.cpu)
            if state_diffs:
                real = rules.compare(a.m.cpu, b.m.cpu, masks)
                if real:
                    diffs.extend(real)
                else:
                    masked += 1
                    notes.append(f"step {step} 0x{pc:x} {text}: {'; '.join(state_diffs)}")
                    align_state(a.m, b.m, masks)
            ended = ra.reason != "debug" or rb.reason != "debug"
            check_ram = (ended or step % ram_every == 0 or step == max_steps
                         or (exact_from is not None and step > exact_from))
            if not diffs and check_ram:
                if not _ram_equal(a, b):
                    if exact_from is None:
                        return None, last_good
                    diffs.append(_first_ram_difference(a, b))
                else:
                    last_good = step
            if diffs:
                report = _report(step, insn, diffs, a, b, before_a, before_b, masked, notes)
                return DiffResult(True, step, report, accels, "diverged", step, pc, text, diffs,
                                  ((ra.reason, ra.status), (rb.reason, rb.status)), masked, notes), None
            if ended:
                msg = (f"no divergence: {a.name} and {b.name} agree on all {step} steps; "
                       f"both ended with {ra.reason} (status {ra.status}: {ra.message})")
                if masked:
                    msg += _masked_text(masked, notes)
                return DiffResult(False, step, msg, accels, "ended",
                                  end=((ra.reason, ra.status), (rb.reason, rb.status)),
                                  masked=masked, masked_notes=notes), None
        msg = (f"no divergence in the first {step} steps: stopped at the step limit "
               f"(--max-steps {max_steps}) before the guest ended; raise --max-steps to compare further")
        if masked:
            msg += _masked_text(masked, notes)
        return DiffResult(False, step, msg, accels, "max-steps", masked=masked, masked_notes=notes), None
    finally:
        a.close()
        b.close()


def _catch_up_rep(a, b, rules, insn) -> str:
    """A REP string instruction: the SDM lets a single-step trap come after
    each iteration, and the interpreter does that, but an engine may retire
    several iterations in one step (this host's KVM emulator batches them).
    Step the engine that is behind until both have the same count left
    (or the instruction ends), keeping its I/O for the comparison.  Returns
    a note when iterations were merged, "" otherwise."""
    ca = rules.repeats_left(insn, a.m.cpu)
    if ca is None:
        return ""
    cb = rules.repeats_left(insn, b.m.cpu)
    if ca == cb:
        return _finish_rep(a, b, rules, insn)
    behind, ahead = (a, b) if ca > cb else (b, a)
    extra = 0
    while (rules.repeats_left(insn, behind.m.cpu) != rules.repeats_left(insn, ahead.m.cpu)
           and extra < REP_MERGE_LIMIT and _at(behind, insn)):
        saved = list(behind.exits)
        r = behind.m.run()
        behind.exits[:0] = saved
        extra += 1
        if r.reason != "debug":
            break
    tail = _finish_rep(a, b, rules, insn)
    return (f"{ahead.name} retired {extra + 1} iterations in one step; {behind.name} was stepped to match"
            + (f"; {tail}" if tail else ""))


def _at(side, insn) -> bool:
    """The side's next instruction is ``insn`` still."""
    return side.m.target.pc(side.m.cpu) == insn.pc


def _finish_rep(a, b, rules, insn) -> str:
    """Both have the same count left, but one engine is still on the REP
    instruction and the other has left it: an engine that leaves only on the
    step *after* the last iteration (KVM's emulator here) takes that step."""
    at_a, at_b = _at(a, insn), _at(b, insn)
    if at_a == at_b or rules.repeats_left(insn, a.m.cpu) != rules.repeats_left(insn, b.m.cpu):
        return ""
    late = a if at_a else b
    saved = list(late.exits)
    late.m.run()
    late.exits[:0] = saved
    return f"{late.name} needed one more step to leave the finished REP instruction"


def align_state(ma, mb, masks) -> None:
    """Give Machine ``mb`` the values of Machine ``ma`` where they may
    legitimately differ (``masks``: what the Target's ``lockstep().undefined``
    returned), so that a known divergence does not show again at every
    later step."""
    ma.target.lockstep().align(ma.cpu, mb.cpu, masks)
    mb.accel.state_changed()


def _fmt_exits(a, b) -> str:
    lines = []
    for side in (a, b):
        ex = ", ".join(_fmt_exit(t) for t in side.exits) or "none"
        lines.append(f"    {side.name}: {ex}")
    return "\n".join(lines)


def _masked_text(masked, notes) -> str:
    head = f"\n{masked} step(s) differed only in known divergences (undefined flags, CPUID, ...):"
    return head + "".join(f"\n  {n}" for n in notes[:10]) + ("\n  ..." if len(notes) > 10 else "")


def _report(step, insn, diffs, a, b, before_a, before_b, masked, notes) -> str:
    rules = a.m.target.lockstep()
    lines = [f"divergence at step {step}: {rules.where(before_a)} (linear 0x{insn.pc:x})  {insn.text}",
             f"  {a.name} vs {b.name}:"]
    for d in diffs:
        lines.extend("    " + ln for ln in d.splitlines())
    lines.append("")
    lines.append("state after the step:")
    lines.append(rules.side_by_side(a.m.cpu, b.m.cpu, (a.name, b.name)))
    if rules.compare(before_a, before_b):
        lines.append("(the states before the step already differed only in masked values)")
    if masked:
        lines.append(_masked_text(masked, notes).lstrip("\n"))
    return "\n".join(lines)


__all__ = ["DiffResult", "run_diff", "align_state", "HOST_LIMIT"]
