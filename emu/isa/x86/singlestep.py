"""Reader and judge of the SingleStepTests x86 vectors (pinned in
``emu/vectors.json``), for :mod:`emu.conformance`.

The vectors record one instruction each, captured from real chips: an Intel
8086 (``8086/v1``) and a Harris 80C286 in real mode (``80286/v1_real_mode``).
The data format is the upstream suites' (their READMEs at the pinned
commits); the judging rules, which this module implements exactly:

* registers: all 14 compared; FLAGS under the ``flags-mask`` of
  ``metadata.json`` (``opcodes[XX]["reg"][r]`` for group opcodes, the reg
  field taken from the ModR/M byte that follows the opcode);
* 8086: exactly one instruction, prefixes included; a REP string instruction
  runs to completion (stepped until CS:IP leaves it).  A divide error pushes
  FLAGS whose undefined bits are random, so the word at final ``SS:SP+4`` is
  masked when the vector shows an exception (a read of the IVT, 0..3);
* 286: the top four FLAGS bits are cleared on load (a real-mode 286 cannot
  set them); the instruction runs, then the HLT that follows it (or the HLT
  placed at the branch or exception target): the run ends at the HLT exit.
  the pushed FLAGS word (at the final SS:SP+4; ``exception.flag_address``
  is its even bus address, one byte low when SS:SP+4 is odd) is masked;
* memory: 16 MiB of RAM, zero except the vector's bytes; the engine wraps
  physical addresses at 1 MiB (8086) or 16 MiB (286) as the CPU model says;
  IN from any port returns all ones, OUT is ignored: the machine is the
  ``x86-none`` board, which has no devices.

Instruction fetches *after* the instruction under test read 0x90 on the
8086 (the 8086 suite's README).  The reader does not store NOPs there: it
stops after the one instruction, so nothing past it is ever fetched (and a
vector whose ``initial.ram`` holds those bytes gets them anyway).

Each vector is loaded through the canonical :class:`X86State`
(``machine.cpu``) and the shared RAM buffer, the engine is told
(``state_changed``/``flush_code_cache``), and the Machine runs it
(:meth:`Machine.run`): its loop serves every exit, as in every other run.
An ``INTERNAL_ERROR`` or ``FAIL_ENTRY`` exit means the engine cannot execute
the vector: it is *unsupported*, not failed (KVM, for instance, cannot run a
real 8086).  Only the bytes a vector touched (plus the stack page it used)
are zeroed between vectors; the runner's full scan clears anything else
once per file.
"""

from __future__ import annotations

import numpy as np

from ...conformance import run_verdict
from .state import CS, DS, ES, SS, Segment, X86State

BOARD = "x86-none"
RAM_SIZE = 16 << 20
REG_ORDER = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")
SEG_ORDER = (("es", ES), ("cs", CS), ("ss", SS), ("ds", DS))
ALL_REGS = REG_ORDER + ("es", "cs", "ss", "ds", "ip", "flags")
#: FLAGS bits by name (SDM Vol. 1 §3.4.3), for the differences -v shows
FLAG_BITS = ("CF", "bit 1", "PF", "bit 3", "AF", "bit 5", "ZF", "SF", "TF", "IF", "DF", "OF",
             "IOPL bit 0", "IOPL bit 1", "NT", "bit 15")
PREFIXES_8086 = frozenset((0x26, 0x2E, 0x36, 0x3E, 0xF0, 0xF1, 0xF2, 0xF3))
PREFIXES_286 = frozenset((0x26, 0x2E, 0x36, 0x3E, 0xF0, 0xF2, 0xF3))
STRING_OPS = frozenset((0x6C, 0x6D, 0x6E, 0x6F, 0xA4, 0xA5, 0xA6, 0xA7,
                        0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF))
STEP_LIMIT = 1 << 17          # 8086: steps of one REP string instruction (CX < 64 Ki)
#: how the Machine's run ends when the engine cannot execute the vector
UNSUPPORTED = ("internal-error", "fail-entry")
#: the suites by CPU model (the models the vectors were captured from)
SUITES = {"8086": "8086", "286": "286", "max": "286"}


def opcode_info(meta: dict, code: bytes, prefixes) -> tuple[dict, int]:
    """Metadata entry for one vector's opcode (and ModR/M reg for groups), and
    the opcode's position in ``code``."""
    pos = 0
    while pos < len(code) and code[pos] in prefixes:
        pos += 1
    op = code[pos] if pos < len(code) else 0x90
    key = f"{op:02X}"
    entry = meta.get(key, {})
    if op == 0x0F and pos + 1 < len(code) and f"0F{code[pos + 1]:02X}" in meta:
        entry = meta[f"0F{code[pos + 1]:02X}"]
        pos += 1
    if "reg" in entry and pos + 1 < len(code):
        r = (code[pos + 1] >> 3) & 7
        entry = entry["reg"].get(str(r), entry)
    return entry, pos


def is_rep_string(code: bytes, prefixes) -> bool:
    rep = False
    for b in code:
        if b in prefixes:
            rep = rep or b in (0xF2, 0xF3)
            continue
        return rep and b in STRING_OPS
    return False


class X86VectorReader:
    """The vectors of one suite (``8086`` or ``286``) on one Machine: load a
    vector, run it, judge the result, clean up after it."""

    board = BOARD
    ram_size = RAM_SIZE
    needs_metadata = True
    reg_names = ALL_REGS
    flag_bits = FLAG_BITS

    def __init__(self, cpu: str):
        if cpu not in SUITES:
            raise ValueError(f"-cpu {cpu}: no x86 test vectors were captured from it "
                             f"(expected one of {', '.join(SUITES)})")
        self.kind = SUITES[cpu]
        self.prefixes = PREFIXES_8086 if self.kind == "8086" else PREFIXES_286
        self.machine = None
        self._io = 0                # port and MMIO exits served (an exit observer counts)

    def attach(self, machine) -> None:
        """Work on ``machine`` (an ``x86-none`` Machine) from now on."""
        self.machine = machine
        self.accel = machine.accel
        self.view = machine.ram.view
        self.addr_mask = machine.model.addr_mask & (RAM_SIZE - 1)
        self.template = X86State()
        self.template.cr0 = machine.cpu.cr0
        machine.add_exit_observer(self._count_io)
        # An engine that cannot count instructions (KVM) is single-stepped,
        # so the run stops at the HLT that follows the instruction, never at
        # a time slice.
        self.stepped = not self.accel.exact_icount
        if self.stepped:
            self.accel.set_single_step(True)

    def _count_io(self, ex) -> None:
        if ex.reason in ("IO", "MMIO"):
            self._io += 1

    def opcode_entry(self, meta: dict, vec: dict) -> dict:
        """The ``metadata.json`` entry that judges a vector (by its bytes)."""
        return opcode_info(meta, bytes(vec["bytes"]), self.prefixes)[0]

    def describe(self, vec: dict) -> str:
        """The vector's instruction, as the suite names it."""
        return vec["name"]

    # -- one vector ------------------------------------------------------------------
    def load(self, vec: dict) -> None:
        init = vec["initial"]
        regs = init["regs"]
        s = self.machine.cpu
        s.load(self.template)
        for n, name in enumerate(REG_ORDER):
            s.regs[n] = regs[name]
        for name, n in SEG_ORDER:
            s.segs[n] = Segment.real(regs[name], code=(n == CS))
        s.rip = regs["ip"]
        fl = regs["flags"]
        if self.kind == "286":
            fl = (fl & 0x0FFF) | 0x0002
        s.rflags = fl | self.machine.model.flags_set
        ram = init["ram"]
        if ram:
            a = np.fromiter((p[0] for p in ram), dtype=np.int64, count=len(ram))
            v = np.fromiter((p[1] for p in ram), dtype=np.uint8, count=len(ram))
            self.view[a & self.addr_mask] = v
        self.accel.flush_code_cache()
        self.accel.state_changed()

    def execute(self, vec: dict) -> str | None:
        """Run the vector; None when it ran, else why the engine could not
        (``unsupported: ...``) or how the run failed."""
        accel = self.accel
        s = self.machine.cpu
        if self.kind == "8086":
            start = (s.segs[CS].selector, s.rip)
            rep = is_rep_string(bytes(vec["bytes"]), self.prefixes)
            steps = 0
            while True:
                why = self._run_until(accel.icount + 1)
                if why is not None:
                    return None if why == "HLT" else why
                steps += 1
                if not rep or steps >= STEP_LIMIT:
                    return None
                accel.sync_state()
                if (s.segs[CS].selector, s.rip) != start:
                    return None
        budget = 16
        if is_rep_string(bytes(vec["bytes"]), self.prefixes):
            budget += vec["initial"]["regs"]["cx"]
        why = self._run_until(accel.icount + budget)
        if why == "HLT":
            return None
        if why is None:
            return "no HLT reached"
        return why

    def _run_until(self, target: int):
        """Run the Machine until ``target`` instructions retired or a HLT.
        Returns None (budget reached), "HLT", or an explanation for an
        unsupported or failed run."""
        if self.stepped:
            return self._step_until(target)
        accel = self.accel
        while accel.icount < target:
            r = self.machine.run(icount_limit=target - accel.icount)
            if r.reason == "limit":
                continue
            if r.reason == "halt":
                return "HLT"
            return run_verdict(r, UNSUPPORTED)
        return None

    def _step_until(self, target: int):
        """:meth:`_run_until` for a single-stepped engine (KVM): one
        ``Machine.run()`` per step (it ends at the step's DEBUG exit, the
        step's port accesses served on the way), with the two things a step
        does on this host's KVM that a step on silicon does not (found with
        this reader; both are counted, never hidden):

        * a step that raises a *fault* (#DE, #UD, #GP ...) delivers it and
          also runs the handler's first instruction before the DEBUG exit.
          The reader recognises the delivery (SP down by 6, the faulting
          CS:IP pushed, CS:IP inside an IVT handler's first instruction) and
          counts two instructions; a HLT there ends the run as a HLT exit.
        * a step that changes nothing at all (INT n with n >= 0x80 in real
          mode never executes on this host: the guest sits at the INT) is
          reported as unsupported -- unless it did I/O: an INS whose store
          faults reads the port, completes without a change, and delivers
          the #GP on the next step.
        """
        accel = self.accel
        s = self.machine.cpu
        while accel.icount < target:
            accel.sync_state()
            cs0, ip0 = s.segs[CS].selector, s.rip & 0xFFFF
            ss0, sp0 = s.segs[SS].selector, s.regs[4] & 0xFFFF
            regs0 = (tuple(s.regs[:8]), s.rflags, cs0, ip0)
            io0 = self._io
            r = self.machine.run()
            did_io = self._io != io0
            if r.reason == "debug" and r.icount == 0:
                continue                    # the step report queued behind a HLT exit
            if r.reason == "halt":
                if ((tuple(s.regs[:8]), s.rflags, s.segs[CS].selector, s.rip & 0xFFFF) == regs0
                        and self.view[((cs0 << 4) + ip0) & self.addr_mask] != 0xF4):
                    # the HLT that ended the previous vector, reported again
                    s.halted = False
                    accel.state_changed()
                    accel.icount -= 1
                    continue
                handler = self._fault_handler(ss0, sp0, cs0, ip0)
                if handler is not None and not (
                        self.view[handler] == 0xF4
                        and handler + 1 == ((s.segs[CS].selector << 4) + s.rip) & self.addr_mask):
                    # ``lock hlt``: the step raised #UD and ran the handler's
                    # first instruction, but was reported as a HLT
                    s.halted = False
                    accel.state_changed()
                    accel.icount += 1
                    continue
                return "HLT"
            if r.reason != "debug":
                return run_verdict(r, UNSUPPORTED)
            cs1, ip1 = s.segs[CS].selector, s.rip & 0xFFFF
            if (tuple(s.regs[:8]), s.rflags, cs1, ip1) == regs0 and not did_io:
                return (f"unsupported: this host's KVM makes no progress on the instruction "
                        f"at {cs0:04x}:{ip0:04x} (a step leaves every register unchanged)")
            handler = self._fault_handler(ss0, sp0, cs0, ip0)
            if handler is not None:
                if self.view[handler] == 0xF4 and handler + 1 == ((cs1 << 4) + ip1) & self.addr_mask:
                    return "HLT"
                accel.icount += 1           # the handler's first instruction ran too
        return None

    def _fault_handler(self, ss0, sp0, cs0, ip0):
        """The linear address of the handler a fault just entered, or None.

        A real-mode fault pushes FLAGS, CS and the faulting IP and loads
        CS:IP from the IVT; INT n, INT3 and INTO push the *next* IP, so they
        do not match (and step cleanly on this host)."""
        s = self.machine.cpu
        sp1 = s.regs[4] & 0xFFFF
        if s.segs[SS].selector != ss0 or sp1 != (sp0 - 6) & 0xFFFF:
            return None
        view = self.view
        am = self.addr_mask
        base = ss0 << 4

        def word(off):
            a = base + (off & 0xFFFF)
            return int(view[a & am]) | int(view[(base + ((off + 1) & 0xFFFF)) & am]) << 8
        if word(sp1) != ip0 or word(sp1 + 2) != cs0:
            return None
        cs1, ip1 = s.segs[CS].selector, s.rip & 0xFFFF
        ivt = view[:1024].view(np.uint16).reshape(256, 2)
        for off, seg in ivt:
            if int(seg) == cs1 and 0 < ip1 - int(off) <= 15:
                return ((cs1 << 4) + int(off)) & am
        return None

    def compare(self, vec: dict, mask: int) -> list[str]:
        """What differs from the expected final state (empty: passed), each
        as ``NAME GOT != EXPECTED`` (FLAGS with ``(mask M)``, memory as
        ``[ADDR]``)."""
        self.accel.sync_state()
        s = self.machine.cpu
        init = vec["initial"]["regs"]
        fin = vec["final"]["regs"]
        got = {name: s.regs[n] & 0xFFFF for n, name in enumerate(REG_ORDER)}
        for name, n in SEG_ORDER:
            got[name] = s.segs[n].selector
        got["ip"] = s.rip & 0xFFFF
        got["flags"] = s.rflags & 0xFFFF
        diffs = []
        for name in ALL_REGS:
            want = fin.get(name, init[name])
            have = got[name]
            if name == "flags":
                if have & mask != want & mask:
                    diffs.append(f"flags {have:04x} != {want:04x} (mask {mask:04x})")
            elif have != want:
                diffs.append(f"{name} {have:04x} != {want:04x}")
        masked = self._masked_flag_bytes(vec, fin, init, mask)
        view = self.view
        am = self.addr_mask
        for addr, want in vec["final"]["ram"]:
            have = int(view[addr & am])
            m = masked.get(addr & am, 0xFF)
            if have & m != want & m:
                diffs.append(f"[{addr:05x}] {have:02x} != {want:02x}")
        return diffs

    def _masked_flag_bytes(self, vec, fin, init, mask) -> dict:
        """{address: byte mask} for the FLAGS word an exception pushed, whose
        undefined bits are whatever the chip left there."""
        if self.kind == "286":
            # exception.flag_address is the *even* bus address of the FLAGS
            # word write: when SS:SP+4 is odd (165 vectors of the suite) the
            # word starts one byte later.  The pushed FLAGS are at the final
            # SS:SP+4 in every vector, so mask that word.
            if not vec.get("exception"):
                return {}
        elif not any(p[0] < 4 for p in vec["initial"]["ram"]):
            return {}                   # 8086: no IVT read, no exception
        ss = fin.get("ss", init["ss"])
        sp = fin.get("sp", init["sp"])
        am = self.addr_mask
        return {((ss << 4) + ((sp + 4) & 0xFFFF)) & am: mask & 0xFF,
                ((ss << 4) + ((sp + 5) & 0xFFFF)) & am: mask >> 8}

    def clean(self, vec: dict) -> None:
        """Zero what the vector touched (its bytes, the expected writes, the stack
        around SS:SP before and after) -- cheap, and exact for a correct engine;
        the runner's scrub catches the rest once per file."""
        view = self.view
        am = self.addr_mask
        for addr, _ in vec["initial"]["ram"]:
            view[addr & am] = 0
        for addr, _ in vec["final"]["ram"]:
            view[addr & am] = 0
        s = self.machine.cpu
        for ss, sp in ((vec["initial"]["regs"]["ss"], vec["initial"]["regs"]["sp"]),
                       (s.segs[SS].selector, s.regs[4] & 0xFFFF)):
            for k in range(-8, 8):
                view[((ss << 4) + ((sp + k) & 0xFFFF)) & am] = 0

    # -- engine against engine ------------------------------------------------------------
    def state(self) -> dict:
        """Everything a vector can change in real mode: the eight GPRs at full
        width, the segment selectors and bases, IP and EFLAGS (32 bits, no mask)."""
        self.accel.sync_state()
        s = self.machine.cpu
        st = {name: s.regs[n] for n, name in enumerate(REG_ORDER)}
        for name, n in SEG_ORDER:
            st[name] = s.segs[n].selector
            st[name + ".base"] = s.segs[n].base
        st["ip"] = s.rip
        st["flags"] = s.rflags & 0xFFFFFFFF
        return st

    def touched(self, vec: dict, readers) -> set:
        """Addresses where the engines' memory is compared for one vector: the
        vector's bytes, its expected writes, the IVT and a window around every
        SS:SP the vector or an engine (``readers``) ended with.  (A write
        anywhere else is caught by the whole-RAM comparison at the end of
        each file.)"""
        am = self.addr_mask
        out = {a & am for a, _ in vec["initial"]["ram"]}
        out.update(a & am for a, _ in vec["final"]["ram"])
        out.update(range(1024))
        stacks = {(vec["initial"]["regs"]["ss"], vec["initial"]["regs"]["sp"])}
        for r in readers:
            s = r.machine.cpu
            stacks.add((s.segs[SS].selector, s.regs[4] & 0xFFFF))
        for ss, sp in stacks:
            out.update(((ss << 4) + ((sp + k) & 0xFFFF)) & am for k in range(-16, 16))
        return out
