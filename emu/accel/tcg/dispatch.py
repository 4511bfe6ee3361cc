"""The dispatcher of ``-accel tcg``: QEMU's ``cpu_exec`` loop, block
chaining and exits.

* ``run`` runs blocks until an exit.  A direct exit follows the successor
  stored in the block (``tb.jmp[slot]``, QEMU's ``jmp_dest``): a chain hit,
  no dictionary lookup; the link is made on the first miss
  (``tb_add_jump``); ``-d nochain`` turns it off.  Under paging only within
  a page, as QEMU links (a block is keyed by its linear address); without
  paging also into another page -- a CALL to a function elsewhere -- since
  a store into a page unlinks every jump into its blocks wherever it
  comes from.  An indirect exit checks where it went last time (QEMU's
  ``tb_jmp_cache`` / ``lookup_and_goto_ptr``).  A block that jumps to its own start loops
  inside its function.
* The interpreter (:class:`emu.accel.interp.Interpreter`, sharing its
  target's Core and its Ops) is the slow path: helpers, bails, port I/O,
  HLT, interrupts, breakpoints, an instruction-budget remainder smaller
  than the next block, IO restarts (IoPending) and fault delivery all go
  through its exact code, so exits and icount match ``-accel interp`` one
  for one.  A repeating helper (x86 REP) may run on the front end's
  ``fast_path`` first; where that completes it, the block it leads to is
  found in the exit's jump cache, as after an indirect jump.
* Single-stepping has a short way: while it is on, ``run`` is a closure
  (``_stepper``) that finds the one-instruction block by IP in a per-mode
  map and returns the step's DEBUG exit -- no dispatcher set-up.

:class:`Translator` is the engine: this dispatcher over the block cache
(:mod:`.tb_cache`), block translation (:mod:`.translate`) and region tiering
(:mod:`.regions`).
"""

from __future__ import annotations

import numpy as np

from ..base import Accelerator
from ..interp import FOREVER, Interpreter
from ...exits import BudgetExit, DebugExit
from ...ir.codegen import (EXIT_MASK, EXIT_SHIFT, GOTO, GUARD, HELPER, INDIRECT, PACKERS, SYNC, CodeFreeWindow,
                           word_views)
from .regions import BAIL_LIMIT, HOT_THRESHOLD, RegionTiers
from .tb_cache import TbCache
from .translate import MAX_INSNS, BlockTranslator


def _interp_attr(name: str) -> property:
    """An attribute of the accelerator that is its interpreter's (the slow
    path delivers interrupts)."""
    return property(lambda self: getattr(self.interp, name),
                    lambda self, v: setattr(self.interp, name, v))


class Translator(RegionTiers, BlockTranslator, TbCache, Accelerator):
    """The ``tcg`` engine (QEMU's TCG accelerator, with Python as the host ISA)."""

    name = "tcg"
    logs_blocks = True

    def __init__(self, machine, one_insn_per_tb: bool | None = None, max_insns: int = MAX_INSNS,
                 hot_threshold: int = HOT_THRESHOLD):
        super().__init__(machine)
        self._runner = self._run                # run(): the dispatcher, or the stepper
        self.interp = Interpreter(machine)      # the slow path and the reference
        self.frontend = machine.target.ir_frontend(machine.model)   # the target's IR front end
        self.core = self.interp.core
        self.s = machine.cpu
        self.one_insn_per_tb = bool(getattr(machine, "one_insn_per_tb", False)
                                    if one_insn_per_tb is None else one_insn_per_tb)
        self.max_insns = max_insns
        self._run_n = 0                         # see _interp / icount_now
        self._init_tiers(hot_threshold)
        self._stepped = 0                # blocks run by the single-step short way (_stepper)
        self._step_maps = {}             # block key without IP -> {ip: (fn, step_exits, TB)}
        self._steps = None               # the map of the current mode, once known
        self._step_mode = None           # its key (the block key without IP)
        self._step_exits = {}            # linear address -> DebugExit("step", it): exits are
                                         # never changed once made, so one per address serves
        self._init_tb_cache()
        self._bps_seen = frozenset()
        self.counters = dict.fromkeys(("blocks_translated", "blocks_executed", "chain_hits",
                                       "chain_links", "lookups", "invalidations", "helper_calls",
                                       "bails", "interp_insns", "inline_fallbacks", "translate_seconds",
                                       "regions_translated", "cold_lookups", "string_fast_insns",
                                       "guard_fails", "regions_grown", "smc_demoted_pages",
                                       "demoted_lookups", "despeculated", "region_ir_builds",
                                       "region_ir_reused", "range_tested_loops"), 0)
        ram = machine.ram
        # RAM's code map (64-byte granules holding decoded instructions, kept by
        # the decoder through ram.mark_code) is what translated stores check: a
        # store into a code page but not into a code granule (the stack next to
        # a boot sector) stays fast; one into a code granule but not onto code
        # (a variable next to its loop) asks RAM's byte map (CB) and goes on.
        ops = self.core.ops
        fe = self.frontend
        self._core_tlb_flush = fe.watch_tlb(ops, self._tlb_flushed)
        window = CodeFreeWindow(ram.code_map, ram.size)     # a region's stack stores
        self.ns_base = {"S": self.s, "MM": ram.mm, "OPS": ops, "CP": ram.code_map,
                        "CB": ram.code_bytes, "CBF": ram.code_bytes.find, **PACKERS,
                        **word_views(ram.mm), "SWG": window.current, "SWA": window.around,
                        **fe.namespace(self.s, ram),
                        **{name: fn for name, (fn, _) in fe.ir.pure_calls.items()}}
        ram.add_invalidation_listener(self.tb_invalidate_page)

    # -- interrupt wiring (the board sets these on the accelerator) -------------------
    irq_line = _interp_attr("irq_line")
    irq_ack = _interp_attr("irq_ack")

    # -- Accelerator contract ------------------------------------------------------------
    def take_queued_exit(self):
        return self.interp.take_queued_exit()

    def flush_code_cache(self) -> None:
        """tb_flush: forget every block (and the interpreter's decode cache)."""
        self.core.flush()
        self._flush_tbs()
        self._flush_tiers()
        self._forget_steps()

    def state_changed(self) -> None:
        self.core.state_changed()
        self.core.abandon_io()
        self._steps = None

    def stats(self) -> dict:
        c = dict(self.counters)
        c["blocks_executed"] += self._stepped
        ex = c["blocks_executed"]
        c["chain_hit_rate"] = (c["chain_hits"] / ex) if ex else 0.0
        c["blocks_cached"] = len(self.tb_cache)
        return c

    def close(self) -> None:
        ram = self.machine.ram
        ram.remove_invalidation_listener(self.tb_invalidate_page)
        ram.remove_invalidation_listener(self.core.invalidate_page)

    # -- execution ---------------------------------------------------------------------------
    def icount_now(self) -> int:
        return self.icount + self._run_n + self.interp.icount_now() - self.interp.icount

    def _interp(self, k: int, n: int = 0):
        """Run up to k instructions on the interpreter, ``n`` retired so far in
        this run(); (exit or None, retired).  Interrupts are delivered only
        here: ``n`` keeps icount_now() exact for the INTA cycle."""
        interp = self.interp
        before = interp.icount
        self._run_n = n
        ex = interp.run(k)
        self._run_n = 0
        done = interp.icount - before
        self.counters["interp_insns"] += done
        if isinstance(ex, BudgetExit):
            ex = None
        return ex, done

    def _run_cold(self, n: int, left: int, bps, trace_log):
        """The block at PC is not translated (cold, or undecodable): the
        interpreter runs it up to its control transfer (``_cold_len``);
        (exit or None, retired).  ``trace_log``: -d exec's log, or None."""
        if trace_log is not None:
            self._trace_cold(trace_log)
        return self._interp(self._cold_len(self.s.pc, left, bps), n)

    #: generated code runs at most this many instructions per call before the
    #: dispatcher looks at ``stop_requested`` (~0.1 s here; large, so that a
    #: loop of a few hundred thousand instructions still runs in one call,
    #: as the translator lab shows)
    stop_slice = 1 << 20

    def run(self, budget):
        """cpu_exec: run blocks until an exit (single-stepping: the stepper)."""
        return self._runner(budget)

    def set_single_step(self, on: bool) -> None:
        super().set_single_step(on)
        # while single-stepping, the runner is the stepper: a closure over
        # the objects it reads, so that a step costs no attribute walk
        self._runner = self._stepper() if on else self._run

    def _stepper(self):
        """Single-stepping's short way: one instruction through its cached
        one-instruction block, without the dispatcher's set-up -- unless
        something needs the dispatcher (a breakpoint, a pending interrupt or
        exception, HLT, an interrupt shadow, TF, paging, logging, a helper)."""
        s = self.s
        core = self.core
        ops = core.ops
        interp = self.interp
        machine = self.machine
        slow = self._run
        step_maps = self._step_maps
        step_exits = self._step_exits
        tb_cache = self.tb_cache
        fe = self.frontend
        attention = fe.attention(core, interp)
        fast_path = fe.fast_path

        def step(budget):
            if (budget == 0 or self.breakpoints or interp.queued or ops.pending_read is not None
                    or attention() or ops.translate is not None or machine.log is not None):
                return slow(budget)
            # one-instruction blocks of the current mode by IP: translated code
            # cannot change the mode (CS, SS size): only the dispatcher's slow
            # path, which drops this map, or the Machine (state_changed); an
            # invalidated block leaves every map (tb_invalidate_page)
            steps = self._steps
            if steps is None:
                mode = fe.tb_key(core, 0, 1)
                self._step_mode = mode[:1] + mode[2:]
                steps = self._steps = step_maps.setdefault(self._step_mode, {})
            rip = s.pc
            entry = steps.get(rip)
            if entry is None:
                mode = self._step_mode
                tb = tb_cache.get((mode[0], rip) + mode[1:])
                if tb is None:
                    return slow(budget)     # translates it, or runs it while it is cold
                entry = steps[rip] = (tb.fn, tb.step_exits, tb)
            fn, known, tb = entry
            code = fn(1)
            ex = known.get(code)
            if ex is not None:              # a direct exit taken before: same target
                self.icount += 1
                self._stepped += 1
                return ex
            kind = tb.exits[code & EXIT_MASK].kind
            if kind is GOTO or kind is INDIRECT or kind is SYNC:
                self.icount += 1
                self._stepped += 1
                if kind is SYNC:
                    self._steps = None      # CS may have changed: the mode's map again
                pc = core.fetch_base + s.pc
                ex = step_exits.get(pc)
                if ex is None:
                    ex = step_exits[pc] = DebugExit("step", pc)
                if kind is GOTO:
                    tb.step_exits[code] = ex
                return ex
            # a helper or a bail, at the start: nothing was done
            insn = tb.insns[0]
            if insn.repeats and fast_path(self, insn, 1):
                self.icount += 1
                return DebugExit("step", core.fetch_base + s.pc)
            return slow(budget)

        return step

    def _forget_steps(self) -> None:
        """Blocks went: the single-step maps may hold them."""
        self._step_maps.clear()
        self._steps = None

    def _run(self, budget):
        self._steps = None
        interp = self.interp
        if interp.queued:
            # an exit owed by the last run (a step's DEBUG exit after its
            # I/O exit) comes first, also from a run of no instructions
            return interp.run(0)
        core = self.core
        ops = core.ops
        s = self.s
        bps = self.breakpoints
        interp.breakpoints = bps
        step = self.single_step
        interp.single_step = step
        if bps != self._bps_seen:
            self.flush_code_cache()
            self._bps_seen = frozenset(bps)
        one = step or self.one_insn_per_tb
        log = self.machine.log
        if log is None:
            nochain = bool(bps)
            trace = False
        else:
            flags = self.machine.log_flags
            nochain = "nochain" in flags or bool(bps)
            trace = "exec" in flags
        self.regions_off = nochain
        trace_log = log if trace else None
        counters = self.counters
        fe = self.frontend
        attention = fe.attention(core, interp)
        fast_path = fe.fast_path
        helper_span = fe.helper_span
        limit = FOREVER if budget is None else budget
        stop_slice = self.stop_slice
        n = 0
        tb = None
        came = None                 # an indirect exit whose next block to remember
        came_at = None              # ... under this key in its ``seen``
        executed = hits = 0
        try:
            while n < limit:
                if self.stop_requested:
                    break
                if tb is None:
                    if (interp.queued or ops.pending_read is not None or attention()
                            or (bps and core.fetch_base + s.pc in bps)):
                        came = None
                        ex, k = self._interp(1, n)
                        n += k
                        if ex is not None:
                            return ex
                        continue
                    counters["lookups"] += 1
                    tb = self.tb_find(s.pc, one, limit - n)
                    if tb is None:
                        came = None
                        ex, k = self._run_cold(n, limit - n, bps, trace_log)
                        n += k
                        if ex is not None:
                            return ex
                        continue
                    if came is not None:
                        if came.seen is None:
                            came.seen = {}
                        if len(came.seen) < 8:
                            came.seen[came_at] = tb
                        came = None
                left = limit - n
                if tb.icount > left:
                    ex, k = self._interp(left, n)
                    n += k
                    tb = None
                    if ex is not None:
                        return ex
                    continue
                if trace:
                    log.write(f"Trace: [{tb.pc:08x}] {tb!r}\n")
                # generated code loops inside itself while ``left`` lasts:
                # give it at most stop_slice, so that the loop above looks at
                # stop_requested now and then (blocks were chosen with the
                # whole budget; a region just leaves and is entered again)
                code = tb.fn(left if left <= stop_slice else stop_slice)
                executed += 1
                n += code >> EXIT_SHIFT
                x = tb.exits[code & EXIT_MASK]
                kind = x.kind
                if kind is GOTO:
                    if step:
                        return DebugExit("step", core.fetch_base + s.pc)
                    nxt = tb.jmp[x.slot]
                    if nxt is not None:
                        hits += 1
                        tb = nxt
                        continue
                    if bps:                  # the slow path checks breakpoints
                        tb = None
                        continue
                    if n >= limit:
                        break
                    prev = tb
                    counters["lookups"] += 1
                    tb = self.tb_find(x.target, one, limit - n)
                    if tb is None:               # cold (or undecodable): the interpreter runs it
                        ex, k = self._run_cold(n, limit - n, bps, trace_log)
                        n += k
                        if ex is not None:
                            return ex
                        continue
                    if not nochain and tb.valid and (tb.page == prev.page or not tb.key[4]):
                        prev.jmp[x.slot] = tb          # tb_add_jump
                        tb.incoming.append((prev, x.slot))
                        counters["chain_links"] += 1
                elif kind is GUARD:
                    # a segment changed under a region's fast accesses, or a
                    # register its 32-bit reads leave unmasked has an upper half:
                    # translate it again without them
                    self._drop_region(tb)
                    counters["guard_fails"] += 1
                    tb = None
                elif kind is SYNC:
                    # the code segment changed, or interrupts may now be taken:
                    # interrupts are looked at first (the loop's top), and the
                    # next block is where this exit went before from the same
                    # (code base, IP) -- the rest of its key follows from the
                    # exit's own (a far transfer's mode is the target's) --
                    # else the full look-up
                    if step:
                        return DebugExit("step", core.fetch_base + s.pc)
                    tb = None
                    if nochain:
                        continue
                    came_at = (core.fetch_base, s.pc)
                    seen = x.seen
                    nxt = seen.get(came_at) if seen is not None else None
                    if (nxt is not None and nxt.valid and n < limit and not interp.queued
                            and ops.pending_read is None and not attention()):
                        hits += 1
                        tb = nxt
                        continue
                    came = x
                elif kind is INDIRECT:
                    if step:
                        return DebugExit("step", core.fetch_base + s.pc)
                    # the jump cache (QEMU's tb_jmp_cache / lookup_and_goto_ptr): where
                    # this exit went before, if that block is still valid
                    seen = x.seen
                    nxt = seen.get(s.pc) if seen is not None and not nochain else None
                    if nxt is not None and nxt.valid and n < limit:
                        hits += 1
                        tb = nxt
                        continue
                    tb = None
                    came = x if not nochain else None
                    came_at = s.pc
                else:
                    if kind is HELPER:
                        counters["helper_calls"] += 1
                    else:
                        counters["bails"] += 1
                        x.fails += 1
                        if x.fails == BAIL_LIMIT:
                            # a speculation failing every time: translated again without it
                            self._despeculate(tb, x)
                    k = 1
                    insn = tb.insns[x.insn]
                    if insn.repeats and not step:
                        if not bps:
                            k = fast_path(self, insn, limit - n)
                            if k:
                                n += k
                                # where the REP led before (its next instruction once
                                # it completes): the jump cache of this exit, as an
                                # indirect jump's -- a short REP in a loop costs no lookup
                                seen = x.seen
                                nxt = seen.get(s.pc) if seen is not None and not nochain else None
                                if nxt is not None and nxt.valid:
                                    hits += 1
                                    tb = nxt
                                else:
                                    tb = None
                                    came = x if not nochain else None
                                    came_at = s.pc
                                continue
                        # a repeating helper (x86 REP): let the interpreter run its
                        # remaining iterations in one go (one instruction each, as
                        # it counts them)
                        k = helper_span(s, insn, limit - n)
                    tb = None
                    ex, k = self._interp(k, n)
                    n += k
                    if ex is not None:
                        return ex
        finally:
            self.icount += n
            counters["blocks_executed"] += executed
            counters["chain_hits"] += hits
        return BudgetExit("instructions")


def translate_at(machine, addr: int, apart: bool = False) -> dict:
    """Translate the block at linear address ``addr`` (with the current CS and
    mode) and return its ``in_asm``, ``op``, ``op_opt`` and ``out_asm`` texts
    (for ``emu translate GUEST --at ADDR``).

    ``apart``: translate it with a Translator of its own and leave no trace
    (the debugger's ``info tb``): the running engine's block cache stays as
    it was (a block cached while no breakpoint is armed could later run
    through one), and so do RAM -- the accessed bits a page walk sets -- and
    CR2 if the fetch faults."""
    acc = machine.accel if isinstance(machine.accel, Translator) and not apart else None
    t = acc if acc is not None else Translator(machine)
    ram = machine.ram
    before = ram.view.copy() if apart else None
    fault_regs = {name: getattr(machine.cpu, name) for name in t.frontend.fault_regs}
    try:
        ip = addr - t.core.fetch_base
        texts = {}
        cap = 1 if t.one_insn_per_tb else t.max_insns
        tb = t.tb_gen_code(ip, t._key(ip, cap), cap, texts)
        if tb is None:
            raise ValueError(f"cannot decode an instruction at 0x{addr:x}")
        return texts
    finally:
        if acc is None:
            t.close()
        if apart:
            for name, v in fault_regs.items():
                setattr(machine.cpu, name, v)
            changed = np.flatnonzero(ram.view != before)
            if changed.size:
                ram.view[changed] = before[changed]
