"""Conformance runner for the SingleStepTests x86 vectors (pinned in ``emu/vectors.json``).

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
  IN from any port returns all ones, OUT is ignored.

Instruction fetches *after* the instruction under test read 0x90 on the
8086 (the 8086 suite's README).  The runner does not store NOPs there: it
stops after the one instruction, so nothing past it is ever fetched (and a
vector whose ``initial.ram`` holds those bytes gets them anyway).

The runner is engine-agnostic: it builds one :class:`~emu.machine.Machine`
for the run, loads each vector through the canonical :class:`X86State`
(``machine.cpu``) and the shared RAM buffer, tells the engine
(``state_changed``/``flush_code_cache``), drives ``machine.accel.run()``
itself and serves the IO exits.  An ``INTERNAL_ERROR`` or ``FAIL_ENTRY``
exit means the engine cannot execute the vector: it is *unsupported*, not
failed (KVM, for instance, cannot run a real 8086).  Only the bytes a vector
touched (plus the stack page it used) are zeroed between vectors; a full
scan clears anything else once per file.

Metadata ``status: undefined`` and ``fpu`` vectors are run like the others;
``skip_status`` lists statuses to skip instead, and skipped vectors are
counted and reported with the reason -- never silently dropped.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import time

import numpy as np

from .isa.x86.state import CS, DS, ES, SS, Segment, X86State
from .signals import check as check_signals

RAM_SIZE = 16 << 20
REG_ORDER = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")
SEG_ORDER = (("es", ES), ("cs", CS), ("ss", SS), ("ds", DS))
ALL_REGS = REG_ORDER + ("es", "cs", "ss", "ds", "ip", "flags")
PREFIXES_8086 = frozenset((0x26, 0x2E, 0x36, 0x3E, 0xF0, 0xF1, 0xF2, 0xF3))
PREFIXES_286 = frozenset((0x26, 0x2E, 0x36, 0x3E, 0xF0, 0xF2, 0xF3))
STRING_OPS = frozenset((0x6C, 0x6D, 0x6E, 0x6F, 0xA4, 0xA5, 0xA6, 0xA7,
                        0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF))
STEP_LIMIT = 1 << 17          # 8086: steps of one REP string instruction (CX < 64 Ki)
UNSUPPORTED_EXITS = ("INTERNAL_ERROR", "FAIL_ENTRY")


class VectorError(Exception):
    """A malformed vector file or directory (a one-line message)."""


def _suite_kind(cpu: str) -> str:
    return "8086" if cpu == "8086" else "286"


def load_metadata(path: str) -> dict:
    mp = os.path.join(path, "metadata.json")
    try:
        with open(mp) as f:
            return json.load(f)["opcodes"]
    except FileNotFoundError:
        raise VectorError(f"{mp}: no metadata.json "
                          f"(expected a SingleStepTests x86 suite)") from None


def vector_files(path: str) -> list[str]:
    if not os.path.isdir(path):
        raise VectorError(f"{path}: no such conformance directory")
    return sorted(f for f in os.listdir(path) if f.endswith(".json.gz"))


def _opcode_info(meta: dict, code: bytes, prefixes) -> tuple[dict, int]:
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


def _is_rep_string(code: bytes, prefixes) -> bool:
    rep = False
    for b in code:
        if b in prefixes:
            rep = rep or b in (0xF2, 0xF3)
            continue
        return rep and b in STRING_OPS
    return False


class Runner:
    """One Machine, reused for every vector of a run."""

    def __init__(self, cpu: str = "8086", accel: str = "interp"):
        from .machine import Machine
        self.cpu = cpu
        self.kind = _suite_kind(cpu)
        self.machine = Machine("pc", accel=accel, cpu=cpu, memory=RAM_SIZE)
        self.accel = self.machine.accel
        self.view = self.machine.ram.view
        self.view[:] = 0                    # the board's IVT and BIOS stub: gone
        # The vectors' machine has no devices (IN reads all ones, OUT is
        # dropped).  An engine whose I/O hooks are synchronous (unicorn)
        # serves I/O through Machine.dispatch_exit, i.e. the board's buses:
        # give it empty ones, and no timers -- the board's PIT would
        # otherwise make every access look like a timer reprogramming
        # (Machine.timer_deadline_moved: this runner never budgets runs to
        # a deadline), which ends the engine's run inside the access.
        from .devices.bus import Bus
        self.machine.ports = Bus("port", 0x10000)
        self.machine.mmio = Bus("mmio", 1 << 52)
        self.machine.timers = []
        self.accel.flush_code_cache()
        if hasattr(self.accel, "hot_threshold"):
            # a tiered translator would interpret a one-instruction vector:
            # translate every block at first sight, so vectors test the translator
            self.accel.hot_threshold = 1
        self.prefixes = PREFIXES_8086 if self.kind == "8086" else PREFIXES_286
        self.addr_mask = self.machine.model.addr_mask & (RAM_SIZE - 1)
        self.template = X86State()
        self.template.cr0 = self.machine.cpu.cr0
        # An engine that cannot count instructions (KVM) is single-stepped,
        # so the budget below is exact and the run stops at the HLT that
        # follows the instruction, never at a time slice.
        self.stepped = not self.accel.exact_icount
        if self.stepped:
            self.accel.set_single_step(True)

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
        """Run the vector; None when it ran, else why the engine could not."""
        accel = self.accel
        s = self.machine.cpu
        if self.kind == "8086":
            start = (s.segs[CS].selector, s.rip)
            rep = _is_rep_string(bytes(vec["bytes"]), self.prefixes)
            steps = 0
            while True:
                why = self._run_until(accel.icount + 1, stop_on_hlt=True)
                if why is not None:
                    return None if why == "HLT" else why
                steps += 1
                if not rep or steps >= STEP_LIMIT:
                    return None
                accel.sync_state()
                if (s.segs[CS].selector, s.rip) != start:
                    return None
        budget = 16
        if _is_rep_string(bytes(vec["bytes"]), self.prefixes):
            budget += vec["initial"]["regs"]["cx"]
        why = self._run_until(accel.icount + budget, stop_on_hlt=True)
        if why == "HLT":
            return None
        if why is None:
            return "no HLT reached"
        return why

    def _run_until(self, target: int, stop_on_hlt: bool):
        """Run until ``target`` instructions retired; serve IO.  Returns None
        (budget reached), "HLT", or an explanation for an unsupported exit."""
        accel = self.accel
        if self.stepped:
            return self._step_until(target, stop_on_hlt)
        while accel.icount < target:
            ex = accel.run(target - accel.icount)
            r = ex.reason
            if r == "IO":
                if not ex.is_write:
                    ex.data = (1 << (8 * ex.size)) - 1
            elif r == "MMIO":
                if not ex.is_write:
                    ex.data = (1 << (8 * ex.size)) - 1
            elif r == "HLT":
                if stop_on_hlt:
                    return "HLT"
            elif r == "BUDGET" or (r == "DEBUG" and self.stepped):
                continue
            elif r in UNSUPPORTED_EXITS:
                return f"unsupported: {ex.describe()}"
            elif r == "SHUTDOWN":
                return f"failed: {ex.describe()}"
            else:
                return f"failed: unexpected exit {ex.describe()}"
        return None

    def _step_until(self, target: int, stop_on_hlt: bool):
        """:meth:`_run_until` for a single-stepped engine (KVM), with the two
        things a step does on this host's KVM that a step on silicon does not
        (found with this runner; both are counted, never hidden):

        * a step that raises a *fault* (#DE, #UD, #GP ...) delivers it and
          also runs the handler's first instruction before the DEBUG exit.
          The runner recognises the delivery (SP down by 6, the faulting
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
        in_io = did_io = False
        while accel.icount < target:
            if not in_io:       # (a sync now would complete a string I/O early)
                did_io = False
                accel.sync_state()
                cs0, ip0 = s.segs[CS].selector, s.rip & 0xFFFF
                ss0, sp0 = s.segs[SS].selector, s.regs[4] & 0xFFFF
                regs0 = (tuple(s.regs[:8]), s.rflags, cs0, ip0)
            ic0 = accel.icount
            ex = accel.run(1)
            r = ex.reason
            in_io = r in ("IO", "MMIO")
            did_io = did_io or in_io
            if r == "DEBUG" and accel.icount == ic0:
                continue                    # the step report queued behind a HLT exit
            if in_io:
                if not ex.is_write:
                    ex.data = (1 << (8 * ex.size)) - 1
                continue
            if r == "HLT":
                accel.sync_state()
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
                if stop_on_hlt:
                    return "HLT"
                continue
            if r in UNSUPPORTED_EXITS:
                return f"unsupported: {ex.describe()}"
            if r == "SHUTDOWN":
                return f"failed: {ex.describe()}"
            if r != "DEBUG":
                return f"failed: unexpected exit {ex.describe()}"
            accel.sync_state()
            cs1, ip1 = s.segs[CS].selector, s.rip & 0xFFFF
            if (tuple(s.regs[:8]), s.rflags, cs1, ip1) == regs0 and not did_io:
                return (f"unsupported: this host's KVM makes no progress on the instruction "
                        f"at {cs0:04x}:{ip0:04x} (a step leaves every register unchanged)")
            handler = self._fault_handler(ss0, sp0, cs0, ip0)
            if handler is not None:
                if self.view[handler] == 0xF4 and handler + 1 == ((cs1 << 4) + ip1) & self.addr_mask:
                    return "HLT" if stop_on_hlt else None
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
        """What differs from the expected final state (empty: passed)."""
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
        :meth:`scrub` catches the rest once per file."""
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

    def scrub(self) -> None:
        nz = np.flatnonzero(self.view)
        if nz.size:
            self.view[nz] = 0
            self.accel.flush_code_cache()

    def run_vector(self, vec: dict, mask: int) -> tuple[str, list[str]]:
        """("pass" | "fail" | "unsupported", details)."""
        self.load(vec)
        why = self.execute(vec)
        if why is not None and why.startswith("unsupported"):
            self.clean(vec)
            return "unsupported", [why]
        diffs = self.compare(vec, mask)
        if why is not None:
            diffs.insert(0, why)
        self.clean(vec)
        return ("fail" if diffs else "pass"), diffs

    # -- files -----------------------------------------------------------------------
    def run_file(self, path: str, meta: dict, limit=None, skip_status=(), details=None) -> dict:
        try:
            with gzip.open(path) as f:
                vectors = json.load(f)
        except (OSError, ValueError) as e:
            raise VectorError(f"{path}: cannot read vectors ({e})") from None
        if limit is not None:
            vectors = vectors[:limit]
        out = {"total": len(vectors), "passed": 0, "failed_ids": [], "unsupported_ids": [],
               "skipped_ids": [], "skip_reason": ""}
        for idx, vec in enumerate(vectors):
            check_signals()                 # Ctrl-C: between vectors
            vid = vec.get("test_num", vec.get("idx", idx))
            if vid is None:
                vid = idx
            entry, _ = _opcode_info(meta, bytes(vec["bytes"]), self.prefixes)
            status = entry.get("status", "normal")
            if status in skip_status:
                out["skipped_ids"].append(vid)
                out["skip_reason"] = f"metadata status '{status}'"
                continue
            mask = entry.get("flags-mask", 0xFFFF)
            verdict, diffs = self.run_vector(vec, mask)
            if verdict == "pass":
                out["passed"] += 1
            elif verdict == "unsupported":
                out["unsupported_ids"].append(vid)
                if details is not None:
                    details.setdefault(os.path.basename(path), {})[vid] = diffs
            else:
                out["failed_ids"].append(vid)
                if details is not None:
                    details.setdefault(os.path.basename(path), {})[vid] = [vec["name"]] + diffs
        self.scrub()
        return out

    def close(self) -> None:
        self.machine.close()


def run_dir(path: str, cpu: str = "8086", accel: str = "interp", files=None, limit=None,
            skip_status=(), details=None) -> dict:
    """Run a SingleStepTests x86 suite directory on one engine.

    ``files``: names (``"00.json.gz"`` or ``"00"``) to run, default all;
    ``limit``: at most this many vectors per file; ``skip_status``: metadata
    statuses to skip (e.g. ``("undefined", "fpu")``), reported as skipped;
    ``details``: a dict to fill with ``{file: {id: [difference, ...]}}``.

    Returns ``{"total", "passed", "failed", "unsupported", "skipped",
    "files": {file: {"total", "passed", "failed_ids", "unsupported_ids",
    "skipped_ids", "skip_reason"}}}``; ``passed + failed + unsupported +
    skipped == total``.
    """
    names = vector_files(path)
    meta = load_metadata(path)
    if files is not None:
        want = {f if f.endswith(".json.gz") else f + ".json.gz" for f in files}
        missing = want - set(names)
        if missing:
            raise VectorError(f"{path}: no such vector file(s): {', '.join(sorted(missing))}")
        names = [n for n in names if n in want]
    runner = Runner(cpu, accel)
    result = {"cpu": cpu, "accel": accel, "path": path, "total": 0, "passed": 0, "failed": 0,
              "unsupported": 0, "skipped": 0, "files": {}}
    t0 = time.perf_counter()
    try:
        for name in names:
            fr = runner.run_file(os.path.join(path, name), meta, limit, skip_status, details)
            result["files"][name] = fr
            result["total"] += fr["total"]
            result["passed"] += fr["passed"]
            result["failed"] += len(fr["failed_ids"])
            result["unsupported"] += len(fr["unsupported_ids"])
            result["skipped"] += len(fr["skipped_ids"])
    finally:
        runner.close()
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


# -- engine against engine ------------------------------------------------------------

def _engine_state(runner: Runner) -> dict:
    """Everything a vector can change in real mode: the eight GPRs at full
    width, the segment selectors and bases, IP and EFLAGS (32 bits, no mask)."""
    runner.accel.sync_state()
    s = runner.machine.cpu
    st = {name: s.regs[n] for n, name in enumerate(REG_ORDER)}
    for name, n in SEG_ORDER:
        st[name] = s.segs[n].selector
        st[name + ".base"] = s.segs[n].base
    st["ip"] = s.rip
    st["flags"] = s.rflags & 0xFFFFFFFF
    return st


def _touched(vec: dict, runners) -> set:
    """Addresses where the two engines' memory is compared for one vector: the
    vector's bytes, its expected writes, the IVT and a window around every
    SS:SP the vector or an engine ended with.  (A write anywhere else is
    caught by the whole-RAM comparison at the end of each file.)"""
    am = runners[0].addr_mask
    out = {a & am for a, _ in vec["initial"]["ram"]}
    out.update(a & am for a, _ in vec["final"]["ram"])
    out.update(range(1024))
    stacks = {(vec["initial"]["regs"]["ss"], vec["initial"]["regs"]["sp"])}
    for r in runners:
        s = r.machine.cpu
        stacks.add((s.segs[SS].selector, s.regs[4] & 0xFFFF))
    for ss, sp in stacks:
        out.update(((ss << 4) + ((sp + k) & 0xFFFF)) & am for k in range(-16, 16))
    return out


def compare_vector(runners, vec: dict, full_memory: bool = False):
    """Run one vector on every runner from the same initial state.

    Returns ("agreed" | "disagreed" | "unsupported", details): unsupported
    when any engine cannot execute the vector (its explanation), else the
    differences between the first engine and each other one: how the run
    ended, every register and flag bit, and memory (the touched addresses,
    or all RAM with ``full_memory``)."""
    whys, states = [], []
    for r in runners:
        r.load(vec)
        why = r.execute(vec)
        if why is not None and why.startswith("unsupported"):
            for rr in runners:
                rr.clean(vec)
                rr.scrub()      # the engines stopped at different points
            return "unsupported", [f"{r.accel.name}: {why}"]
        whys.append(why)
        states.append(_engine_state(r))
    a, an = states[0], runners[0].accel.name
    diffs = []
    for r, why, st in zip(runners[1:], whys[1:], states[1:]):
        bn = r.accel.name
        if why != whys[0]:
            diffs.append(f"end: {an} {whys[0] or 'HLT'} / {bn} {why or 'HLT'}")
        for k, v in a.items():
            if st[k] != v:
                diffs.append(f"{k} {v:04x} / {st[k]:04x}")
        if full_memory:
            idx = np.flatnonzero(runners[0].view != r.view)[:16]
        else:
            addrs = np.fromiter(_touched(vec, runners), dtype=np.int64)
            idx = addrs[runners[0].view[addrs] != r.view[addrs]]
        for addr in sorted(int(x) for x in idx):
            diffs.append(f"[{addr:05x}] {int(runners[0].view[addr]):02x} / "
                         f"{int(r.view[addr]):02x}")
    for r in runners:
        r.clean(vec)
        if diffs:
            r.scrub()           # the next vector starts from equal RAM again
    return ("disagreed" if diffs else "agreed"), diffs


def compare_dir(path: str, cpu: str = "max", accels=("interp", "kvm"), files=None,
                limit=None, details=None) -> dict:
    """Run every vector of a suite on two (or more) engines from the same
    initial state and compare the engines with each other -- not with the
    capture: registers at full width, all EFLAGS bits (no mask), segment
    bases, how the run ended, and memory.

    Memory is compared at the addresses a vector can be expected to touch
    (:func:`_touched`) after each vector, and as a whole after each file;
    when the whole-RAM check finds a difference the per-vector check missed,
    the file is run again comparing all RAM after every vector, so the
    disagreement is pinned on its vector.

    Returns ``{"cpu", "accels", "path", "total", "compared", "agreed",
    "disagreed", "unsupported", "files": {file: {"total", "compared",
    "agreed", "disagreed_ids", "unsupported_ids"}}}``; ``compared ==
    agreed + disagreed`` and ``total == compared + unsupported``.
    ``details`` (a dict) receives ``{file: {id: [difference, ...]}}``.
    """
    names = vector_files(path)
    load_metadata(path)
    if files is not None:
        want = {f if f.endswith(".json.gz") else f + ".json.gz" for f in files}
        missing = want - set(names)
        if missing:
            raise VectorError(f"{path}: no such vector file(s): {', '.join(sorted(missing))}")
        names = [n for n in names if n in want]
    if len(accels) < 2:
        raise VectorError(f"compare needs two engines, got {','.join(accels)}")
    result = {"cpu": cpu, "accels": list(accels), "path": path, "total": 0, "compared": 0,
              "agreed": 0, "disagreed": 0, "unsupported": 0, "files": {}}
    t0 = time.perf_counter()
    runners = []
    try:
        for a in accels:
            runners.append(Runner(cpu, a))
        for name in names:
            try:
                with gzip.open(os.path.join(path, name)) as f:
                    vectors = json.load(f)
            except (OSError, ValueError) as e:
                raise VectorError(f"{name}: cannot read vectors ({e})") from None
            if limit is not None:
                vectors = vectors[:limit]
            fr = _compare_file(runners, vectors, full_memory=False, details=details, name=name)
            if not all(np.array_equal(runners[0].view, r.view) for r in runners[1:]):
                for r in runners:
                    r.scrub()
                fr = _compare_file(runners, vectors, full_memory=True, details=details,
                                   name=name)
            for r in runners:
                r.scrub()
            result["files"][name] = fr
            result["total"] += fr["total"]
            result["compared"] += fr["compared"]
            result["agreed"] += fr["agreed"]
            result["disagreed"] += len(fr["disagreed_ids"])
            result["unsupported"] += len(fr["unsupported_ids"])
    finally:
        for r in runners:
            r.close()
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def _compare_file(runners, vectors, full_memory, details, name) -> dict:
    fr = {"total": len(vectors), "compared": 0, "agreed": 0, "disagreed_ids": [],
          "unsupported_ids": []}
    if details is not None:
        details.pop(name, None)
    for idx, vec in enumerate(vectors):
        check_signals()                     # Ctrl-C: between vectors
        vid = vec.get("test_num", vec.get("idx", idx))
        vid = idx if vid is None else vid
        verdict, diffs = compare_vector(runners, vec, full_memory)
        if verdict == "unsupported":
            fr["unsupported_ids"].append(vid)
        else:
            fr["compared"] += 1
            if verdict == "agreed":
                fr["agreed"] += 1
            else:
                fr["disagreed_ids"].append(vid)
        if diffs and details is not None:
            details.setdefault(name, {})[vid] = [vec["name"]] + diffs
    return fr


def agreement(r: dict) -> float:
    """Agreed over compared (vectors an engine cannot run are not compared)."""
    return r["agreed"] / r["compared"] if r["compared"] else 1.0


def format_compare(result: dict, verbose: bool = False, details=None) -> str:
    """Per-file and total agreement between engines."""
    lines = [f"compare: {result.get('path', '?')}  cpu={result.get('cpu', '?')}  "
             f"engines={','.join(result.get('accels', ()))}"]
    for name, fr in result["files"].items():
        nd, nu = len(fr["disagreed_ids"]), len(fr["unsupported_ids"])
        if not verbose and not nd and not nu:
            continue
        lines.append(f"  {name:<14} {fr['agreed']:>5}/{fr['compared']:<5} "
                     f"{100 * agreement(fr):6.2f}%  disagreed {nd}  unsupported {nu}")
        if verbose:
            for kind in ("disagreed_ids", "unsupported_ids"):
                if fr[kind]:
                    lines.append(f"      {kind.replace('_ids', '')}: "
                                 f"{', '.join(map(str, fr[kind]))}")
            if details and name in details:
                for vid, d in list(details[name].items())[:10]:
                    lines.append(f"      #{vid}: {'; '.join(d[:6])}")
    lines.append(f"total: {result['agreed']}/{result['compared']} agreed "
                 f"({100 * agreement(result):.2f}% of compared), disagreed "
                 f"{result['disagreed']}, unsupported {result['unsupported']} of "
                 f"{result['total']}" + (f", {result['seconds']} s" if "seconds" in result else ""))
    return "\n".join(lines)


def pass_rate(r: dict) -> float:
    """Passed over judged (unsupported and skipped vectors are not judged)."""
    judged = r["passed"] + (r["failed"] if "failed" in r else len(r["failed_ids"]))
    return r["passed"] / judged if judged else 1.0


#: FLAGS bits by name (SDM Vol. 1 §3.4.3), for the differences -v shows
FLAG_BITS = ("CF", "bit 1", "PF", "bit 3", "AF", "bit 5", "ZF", "SF", "TF", "IF", "DF", "OF",
             "IOPL bit 0", "IOPL bit 1", "NT", "bit 15")

_REG_DIFF = re.compile(r"([a-z]+) ([0-9a-f]+) != ([0-9a-f]+)$")
_FLAGS_DIFF = re.compile(r"flags ([0-9a-f]+) != ([0-9a-f]+) \(mask ([0-9a-f]+)\)$")
_RAM_DIFF = re.compile(r"\[([0-9a-f]+)\] ([0-9a-f]+) != ([0-9a-f]+)$")


def explain_difference(d: str) -> str:
    """One difference of :meth:`Runner.compare` (``NAME GOT != EXPECTED``,
    the form the report tools parse) in words: got vs expected, and for
    FLAGS the bits that differ under the mask, by name."""
    m = _FLAGS_DIFF.match(d)
    if m:
        have, want, mask = (int(x, 16) for x in m.groups())
        bits = [f"{FLAG_BITS[b]} got {(have >> b) & 1}, expected {(want >> b) & 1}"
                for b in range(16) if ((have ^ want) & mask) >> b & 1]
        return f"flags: got {have:04x}, expected {want:04x}: {'; '.join(bits)}"
    m = _RAM_DIFF.match(d)
    if m:
        addr, have, want = m.groups()
        return f"memory [{addr}]: got {have}, expected {want}"
    m = _REG_DIFF.match(d)
    if m and m.group(1) in ALL_REGS:
        name, have, want = m.groups()
        return f"{name}: got {have}, expected {want}"
    return d


def format_report(result: dict, verbose: bool = False, details=None) -> str:
    """Per-file and total pass rates; failing files (and with ``verbose``,
    every failing, unsupported and skipped id, and for each vector in
    ``details``, when given, what differs: got, expected)."""
    lines = [f"conformance: {result.get('path', '?')}  cpu={result.get('cpu', '?')}  "
             f"accel={result.get('accel', '?')}"]
    for name, fr in result["files"].items():
        nf = len(fr["failed_ids"])
        nu = len(fr["unsupported_ids"])
        ns = len(fr.get("skipped_ids", ()))
        if not verbose and not nf and not nu:
            continue
        extra = ""
        if nu:
            extra += f"  unsupported {nu}"
        if ns:
            extra += f"  skipped {ns} ({fr.get('skip_reason', '')})"
        lines.append(f"  {name:<14} {fr['passed']:>5}/{fr['total']:<5} "
                     f"{100 * pass_rate(fr):6.2f}%  failed {nf}{extra}")
        if verbose:
            for kind in ("failed_ids", "unsupported_ids", "skipped_ids"):
                ids = fr.get(kind, ())
                if ids:
                    lines.append(f"      {kind.replace('_ids', '')}: {', '.join(map(str, ids))}")
            failed = set(fr["failed_ids"])
            for vid, d in (details or {}).get(name, {}).items():
                if vid in failed:       # [vector name, differences...]
                    lines.append(f"      #{vid} {d[0]}:")
                    lines.extend(f"          {explain_difference(x)}" for x in d[1:])
                else:
                    lines.append(f"      #{vid} unsupported: {'; '.join(d)}")
    lines.append(f"total: {result['passed']}/{result['total']} passed "
                 f"({100 * pass_rate(result):.2f}% of judged), failed {result['failed']}, "
                 f"unsupported {result['unsupported']}, skipped {result['skipped']}"
                 + (f", {result['seconds']} s" if "seconds" in result else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m emu.conformance DIR [--cpu 8086|286|max] [--accel interp] [-v] [FILE...]``"""
    import argparse
    p = argparse.ArgumentParser(prog="python -m emu.conformance", description=main.__doc__)
    p.add_argument("path")
    p.add_argument("files", nargs="*")
    p.add_argument("--cpu", default=None)
    p.add_argument("--accel", default="interp")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    cpu = a.cpu or ("8086" if "8086" in a.path else "286")
    details = {}
    try:
        r = run_dir(a.path, cpu, a.accel, a.files or None, a.limit, details=details)
    except VectorError as e:
        print(f"error: {e}")
        return 1
    print(format_report(r, a.verbose, details))
    return 0 if r["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
