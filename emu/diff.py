"""Lockstep differential execution: ``emu diff GUEST -accel A,B``.

Two Machines are built with the same board, image, CPU model, RAM size and
serial input, one per engine.  Both are single-stepped together; after every
instruction kasou compares

* the full canonical CPU state (:meth:`X86State.snapshot`: every register,
  RIP, RFLAGS, the six segment registers with their hidden parts, control
  registers, EFER, GDTR/IDTR, LDTR and TR),
* the port and MMIO exits the instruction made (port/address, size,
  direction, data), in order, and how the step ended (exit reason and
  status: HLT with interrupts disabled, isa-debug-exit, a triple fault ...),
* guest RAM: both RAM buffers are compared with numpy every
  ``ram_every`` steps and when the run ends; when they differ, the run is
  repeated from the start with a RAM comparison after every step since the
  last good one, so the report still names the exact instruction.  (The
  guests are deterministic: same image, same input, same device models.)

and stops at the first difference, with a report: the step number, the
instruction's address and disassembly (capstone), what differs, and both
states side by side.

Known divergences live in ONE place, this module's ``UNDEFINED_FLAGS``,
``UNDEFINED_FLAGS_BY_ONE``, ``UNDEFINED_DEST_IF_ZF`` and ``UNDEFINED_REGS``
tables: flags and results the SDM leaves undefined after an instruction,
and results that legitimately differ between CPU models (CPUID, RDTSC).
When the two engines disagree only there, the second engine is brought in
line with the first (so the difference does not show again at every later
step) and the step is counted in ``DiffResult.masked``; the report lists
them.  (:func:`masks_for`, :func:`compare_states` and :func:`align_state`
are the same rules for other lockstep harnesses.)

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

from .isa.x86 import flags as F
from .isa.x86.state import CS, REG_NAMES16, REG_NAMES32, REG_NAMES64, SEG_NAMES

CF, PF, AF, ZF, SF, OF, RF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800, 0x10000
#: the most REP iterations one engine may retire in one step (KVM's
#: instruction emulator batches string iterations, up to 1024 at a time)
REP_MERGE_LIMIT = 4096

#: Flags the SDM leaves undefined, by mnemonic (capstone's spelling).  Shifts
#: and rotates by an immediate or CL have OF undefined unless the count is 1;
#: the one-bit forms (opcodes D0/D1) are listed in ``UNDEFINED_FLAGS_BY_ONE``.
#: SHLD/SHRD: CF is the last bit shifted out for any count up to the operand
#: size; a 16-bit SHLD/SHRD by 16-31 leaves the destination and every flag
#: undefined (Intel and AMD parts really differ there) -- not masked here: the
#: random-sequence tests keep such counts out, a guest that uses one diverges.
UNDEFINED_FLAGS = {
    "mul": SF | ZF | AF | PF, "imul": SF | ZF | AF | PF,
    "div": CF | OF | SF | ZF | AF | PF, "idiv": CF | OF | SF | ZF | AF | PF,
    "and": AF, "or": AF, "xor": AF, "test": AF,
    "shl": AF | OF, "sal": AF | OF, "shr": AF | OF, "sar": AF | OF,
    "rol": OF, "ror": OF, "rcl": OF, "rcr": OF,
    "shld": OF | AF, "shrd": OF | AF,
    "bsf": CF | OF | SF | AF | PF, "bsr": CF | OF | SF | AF | PF,
    "bt": OF | SF | AF | PF, "bts": OF | SF | AF | PF,
    "btr": OF | SF | AF | PF, "btc": OF | SF | AF | PF,
    "aaa": OF | SF | ZF | PF, "aas": OF | SF | ZF | PF,
    "aam": CF | OF | AF, "aad": CF | OF | AF, "daa": OF, "das": OF,
    "lzcnt": OF | SF | AF | PF, "tzcnt": OF | SF | AF | PF,
}
#: shift/rotate by one (opcodes D0, D1): OF is defined
UNDEFINED_FLAGS_BY_ONE = {"shl": AF, "sal": AF, "shr": AF, "sar": AF,
                          "rol": 0, "ror": 0, "rcl": 0, "rcr": 0}
#: BSF/BSR with a zero source (ZF=1 after): the destination is undefined (SDM
#: "BSF"); parts leave it unchanged, but a 32-bit destination in 64-bit mode
#: may keep or clear bits 63:32 (unicorn's TCG clears them, this AMD host keeps
#: them).  Masked as the destination register when ZF is set afterwards.
UNDEFINED_DEST_IF_ZF = ("bsf", "bsr")
#: registers whose value after the instruction depends on the CPU model
UNDEFINED_REGS = {
    "cpuid": ("rax", "rbx", "rcx", "rdx"),     # kasou's max is not unicorn's Haswell
    "rdtsc": ("rax", "rdx"),                   # time differs per engine
    "rdtscp": ("rax", "rdx", "rcx"),
}

_PREFIXES = frozenset((0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3))


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

    def __init__(self, accel, image, board, cpu, memory, serial_input, entry=None):
        from .machine import Machine
        self.name = accel
        self.m = Machine(board=board, accel=accel, cpu=cpu, memory=memory,
                         serial_input=serial_input)
        self.m.load_image(image, entry=entry)
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


def _disasm(ram, state):
    """(linear pc, text, mnemonic, opcode byte, operands) of the next instruction."""
    import capstone
    pc = state.segs[CS].base + state.rip
    mode = state.mode
    cmode = {"long64": capstone.CS_MODE_64, "prot32": capstone.CS_MODE_32,
             "compat": capstone.CS_MODE_32}.get(mode, capstone.CS_MODE_16)
    code = ram.read_bytes(pc, 15) if ram.contains(pc, 15) else b""
    md = capstone.Cs(capstone.CS_ARCH_X86, cmode)
    for i in md.disasm(code, state.rip):
        opc = opcode_byte(i.bytes, mode == "long64")
        text = f"{i.mnemonic} {i.op_str}".strip()
        return pc, f"{text}   [{i.bytes.hex(' ')}]", i.mnemonic.split()[-1], opc, i.op_str
    return pc, f"(cannot disassemble: {code[:8].hex(' ')})", "", 0, ""


def opcode_byte(code: bytes, long_mode: bool) -> int:
    """The first opcode byte of an instruction: after the legacy prefixes and,
    in 64-bit mode, a REX prefix (0x40-0x4F are INC/DEC outside it)."""
    for b in code:
        if b in _PREFIXES or (long_mode and 0x40 <= b <= 0x4F):
            continue
        return b
    return 0


def masks_for(mnemonic: str, opcode: int, op_str: str = "", after=None):
    """``(flag mask, register names)`` the SDM leaves undefined after the
    instruction ``mnemonic`` (capstone's spelling) with first opcode byte
    ``opcode``: the known divergences, from this module's tables.
    ``op_str`` (capstone's operands) and ``after`` (the reference engine's
    state after the instruction) serve the cases that depend on the
    operands (``UNDEFINED_DEST_IF_ZF``)."""
    flags = UNDEFINED_FLAGS.get(mnemonic, 0)
    if opcode in (0xD0, 0xD1) and mnemonic in UNDEFINED_FLAGS_BY_ONE:
        flags = UNDEFINED_FLAGS_BY_ONE[mnemonic]
    regs = UNDEFINED_REGS.get(mnemonic, ())
    if mnemonic in UNDEFINED_DEST_IF_ZF and after is not None and after.rflags & ZF:
        dest = _full_reg(op_str.split(",")[0].strip())
        if dest is not None:
            regs = regs + (dest,)
    return flags, regs


def _full_reg(name: str):
    """The 64-bit register a general register operand belongs to, or None."""
    if name in REG_NAMES64:
        return name
    for names in (REG_NAMES32, REG_NAMES16):
        if name in names:
            return REG_NAMES64[names.index(name)]
    if name.startswith("r") and name[-1] in "dwb" and name[:-1] in REG_NAMES64:
        return name[:-1]
    return None


def compare_states(a, b, flag_mask: int = 0, regs_masked=()) -> list[str]:
    """What differs between two canonical states, as lines; RFLAGS bits in
    ``flag_mask`` and the registers named in ``regs_masked`` are ignored."""
    sa, sb = a.snapshot(), b.snapshot()
    out = []
    for k in sa:
        va, vb = sa[k], sb[k]
        if k in regs_masked:
            continue
        if k == "rflags":
            if (va & ~flag_mask) != (vb & ~flag_mask):
                out.append(f"rflags 0x{va:x} [{F.describe(va)}] != 0x{vb:x} [{F.describe(vb)}]")
            continue
        if va != vb:
            if isinstance(va, tuple):
                out.append(f"{k} {_fmt_seg(va)} != {_fmt_seg(vb)}")
            else:
                out.append(f"{k} 0x{va:x} != 0x{vb:x}")
    return out


_SEG_FIELDS = ("sel", "base", "limit", "type", "s", "dpl", "p", "db", "l", "g", "avl", "unusable")


def _fmt_seg(t) -> str:
    return " ".join(f"{n}={v:x}" for n, v in zip(_SEG_FIELDS, t))


def format_side_by_side(a, b, names=("A", "B")) -> str:
    """Two canonical states as two columns, differing lines marked."""
    sa, sb = a.snapshot(), b.snapshot()
    w = 40
    lines = [f"  {'':10} {names[0]:<{w}} {names[1]}"]
    for k in sa:
        va, vb = sa[k], sb[k]
        if isinstance(va, tuple):
            ta, tb = _fmt_seg_short(va), _fmt_seg_short(vb)
        elif k == "rflags":
            ta, tb = f"{va:08x} [{F.describe(va)}]", f"{vb:08x} [{F.describe(vb)}]"
        else:
            ta, tb = f"{va:016x}", f"{vb:016x}"
        mark = "  <--" if va != vb else ""
        lines.append(f"  {k:10} {ta:<{w}} {tb}{mark}")
    return "\n".join(lines)


def _fmt_seg_short(t) -> str:
    return f"{t[0]:04x} base={t[1]:x} lim={t[2]:x} t={t[3]:x} db={t[7]} l={t[8]}"


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


def run_diff(image: bytes, accels=("interp", "unicorn"), cpu: str = "max",
             memory: int = 16 << 20, serial_input=None, max_steps: int | None = None,
             board: str = "pc", ram_every: int = 64, entry: int | None = None) -> DiffResult:
    """Run ``image`` on two engines in lockstep; stop at the first divergence.
    ``entry``: where to enter it (an ELF's entry point; None: the board's).

    ``serial_input`` (bytes or str) is fed to each Machine's UART: each has
    its own devices, so both read the same bytes at the same time.
    """
    if serial_input is not None and not isinstance(serial_input, (bytes, bytearray, str)):
        raise TypeError("run_diff: serial_input must be bytes or str (each engine gets its own copy)")
    if len(accels) != 2:
        raise ValueError(f"run_diff: expected two accelerators, not {len(accels)}: {accels!r}")
    args = ((image, entry), tuple(accels), cpu, memory, serial_input, max_steps, board)
    result, bad_ram = _lockstep(*args, ram_every=ram_every, exact_from=None)
    if bad_ram is not None:
        # RAM differed somewhere in (last_good, bad_ram]: replay, checking every step there
        result, _ = _lockstep(*args, ram_every=ram_every, exact_from=bad_ram)
    if result.reason == "host-limit" and result.ram_checked_at < result.steps:
        # the prefix must be identical in RAM too: RAM was last compared at
        # ram_checked_at; replay to the step before the limit, which ends
        # with a RAM comparison (and finds the exact step if RAM differs)
        args = ((image, entry), tuple(accels), cpu, memory, serial_input, result.steps, board)
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
    cs = before.segs[CS].selector
    lines = [f"no divergence in the {step - 1} steps both engines ran: {a.name} and {b.name} "
             f"agree on every register, every I/O access and RAM up to there",
             f"at step {step}, {cs:04x}:{before.rip:04x} (linear 0x{pc:x})  {text}, {side.name} "
             f"stopped on a limit of this host's KVM, so the comparison ends here:",
             f"  {side.name}: {r.reason} ({r.message})",
             f"  {other.name}: ran the instruction (a step that ended with {r_other.reason})"]
    stop = s.segs[CS].base + s.rip
    if stop != pc:
        width = 16 if s.mode == "long64" else (8 if s.mode in ("prot32", "compat") else 4)
        lines.append(f"  {side.name} did not stop after this instruction: it ran on to "
                     f"{s.segs[CS].selector:04x}:{s.rip:0{width}x} before it stopped (this host's "
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
    image, entry = loaded           # the image and its entry point
    a = _Side(accels[0], image, board, cpu, memory, serial_input, entry)
    b = _Side(accels[1], image, board, cpu, memory, serial_input, entry)
    masked, notes = 0, []
    last_good = 0
    try:
        step = 0
        while max_steps is None or step < max_steps:
            step += 1
            sa_state = a.m.cpu
            pc, text, mnem, opc, op_str = _disasm(a.m.ram, sa_state)
            before_a = sa_state.copy()
            before_b = b.m.cpu.copy()
            ra, rb = a.step(), b.step()
            merged = _catch_up_rep(a, b, pc, text)
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
            flag_mask, regs_masked = masks_for(mnem, opc, op_str, a.m.cpu)
            if text.startswith("rep"):
                flag_mask |= RF      # set by a debug trap between iterations (KVM)
            state_diffs = compare_states(a.m.cpu, b.m.cpu, 0, ())
            if state_diffs:
                real = compare_states(a.m.cpu, b.m.cpu, flag_mask, regs_masked)
                if real:
                    diffs.extend(real)
                else:
                    masked += 1
                    notes.append(f"step {step} 0x{pc:x} {text}: {'; '.join(state_diffs)}")
                    align_state(a.m, b.m, flag_mask, regs_masked)
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
                report = _report(step, pc, text, diffs, a, b, before_a, before_b, masked, notes)
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


def _catch_up_rep(a, b, pc: int, text: str) -> str:
    """A REP string instruction: the SDM lets a single-step trap come after
    each iteration, and the interpreter does that, but an engine may retire
    several iterations in one step (this host's KVM emulator batches them).
    Step the engine that is behind until both have the same count left
    (or the instruction ends), keeping its I/O for the comparison.  Returns
    a note when iterations were merged, "" otherwise."""
    if not text.startswith("rep"):
        return ""
    ca, cb = a.m.cpu.regs[1], b.m.cpu.regs[1]
    if ca == cb:
        return _finish_rep(a, b, pc)
    behind, ahead = (a, b) if ca > cb else (b, a)
    extra = 0
    while (behind.m.cpu.regs[1] != ahead.m.cpu.regs[1] and extra < REP_MERGE_LIMIT
           and behind.m.cpu.segs[1].base + behind.m.cpu.rip == pc):
        saved = list(behind.exits)
        r = behind.m.run()
        behind.exits[:0] = saved
        extra += 1
        if r.reason != "debug":
            break
    tail = _finish_rep(a, b, pc)
    return (f"{ahead.name} retired {extra + 1} iterations in one step; {behind.name} was stepped to match"
            + (f"; {tail}" if tail else ""))


def _finish_rep(a, b, pc: int) -> str:
    """Both have the same count left, but one engine is still on the REP
    instruction and the other has left it: an engine that leaves only on the
    step *after* the last iteration (KVM's emulator here) takes that step."""
    at_a = a.m.cpu.segs[1].base + a.m.cpu.rip == pc
    at_b = b.m.cpu.segs[1].base + b.m.cpu.rip == pc
    if at_a == at_b or a.m.cpu.regs[1] != b.m.cpu.regs[1]:
        return ""
    late = a if at_a else b
    saved = list(late.exits)
    late.m.run()
    late.exits[:0] = saved
    return f"{late.name} needed one more step to leave the finished REP instruction"


def align_state(ma, mb, flag_mask: int, regs_masked) -> None:
    """Give Machine ``mb`` the values of Machine ``ma`` where they may
    legitimately differ (masked flags and registers), so that a known
    divergence does not show again at every later step."""
    sa, sb = ma.cpu, mb.cpu
    if flag_mask:
        sb.rflags = (sb.rflags & ~flag_mask) | (sa.rflags & flag_mask)
    for name in regs_masked:
        i = REG_NAMES64.index(name)
        sb.regs[i] = sa.regs[i]
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


def _report(step, pc, text, diffs, a, b, before_a, before_b, masked, notes) -> str:
    cs = before_a.segs[CS].selector
    lines = [f"divergence at step {step}: {cs:04x}:{before_a.rip:04x} (linear 0x{pc:x})  {text}",
             f"  {a.name} vs {b.name}:"]
    for d in diffs:
        lines.extend("    " + ln for ln in d.splitlines())
    lines.append("")
    lines.append("state after the step:")
    lines.append(format_side_by_side(a.m.cpu, b.m.cpu, (a.name, b.name)))
    if before_a.snapshot() != before_b.snapshot():
        lines.append("(the states before the step already differed only in masked values)")
    if masked:
        lines.append(_masked_text(masked, notes).lstrip("\n"))
    return "\n".join(lines)


__all__ = ["DiffResult", "run_diff", "format_side_by_side", "UNDEFINED_FLAGS",
           "UNDEFINED_REGS", "SEG_NAMES", "masks_for", "compare_states", "align_state",
           "opcode_byte", "HOST_LIMIT"]
