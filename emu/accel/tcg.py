"""The TCG-style translator: ``-accel tcg``.

Guest code is decoded a basic block at a time, turned into IR by running the
instructions' own semantic functions on the IR builder, optimised, compiled
to a Python function, cached and chained -- QEMU's TCG, with Python as the
host ISA (``-d out_asm`` shows the generated Python).

* The engine is generic: the architecture is the target's translator front
  end (``Target.ir_frontend``: :mod:`emu.isa.x86.ir_front`,
  :mod:`emu.isa.arm.ir_front`), which gives the block key, the IR builder,
  the memory-access model, when the dispatcher must let the interpreter
  run (interrupts, a trace trap, a halted CPU) and any fast path for a
  helper (x86's REP string instructions).
* ``tb_find`` looks a block up by the front end's key (x86: CS base, IP,
  decode mode, SS size, paging, cap; Arm: PC, Thumb bit and mode, cap) --
  QEMU's (pc, cs_base, flags) -- and ``tb_gen_code``
  translates it on a miss.  A block ends at a branch, before a page
  boundary, after a helper (anything that may change mode or touch devices),
  before a breakpoint address, or at ``max_insns``.
* Tiers: a block runs on the interpreter (up to its control transfer, in
  one call) until it has been looked up ``hot_threshold`` times; then it
  and the blocks it jumps to in its page that have run are translated as
  one *region* (:class:`emu.ir.codegen.RegionCodegen`): a loop nest in one
  function, entered at its dispatch points.  A block the region left out
  because it had not run yet makes the region be translated again once it
  is hot; the return sites of the region's calls are in it, so a RET stays
  inside.  ``-d in_asm`` logs what is translated, when it is; ``-d exec``
  also logs each cold stretch the interpreter runs (``Interp:``).
* ``cpu_exec`` runs blocks.  A direct exit follows the successor stored in
  the block (``tb.jmp[slot]``, QEMU's ``jmp_dest``): a chain hit, no
  dictionary lookup; an indirect exit checks where it went last time (a
  jump cache).  Chaining is only within a page; ``-d nochain`` turns it
  off.  A block that jumps to its own start loops inside its function.
* REP MOVS/STOS/LODS over plain RAM run whole (the x86 front end's
  ``fast_path``, :mod:`emu.isa.x86.string_fast`), each iteration still
  counting as one instruction.
* Single-stepping (``-one-insn-per-tb`` and the debugger) has a short way:
  while it is on, ``run`` is a closure (``_stepper``) that finds the
  one-instruction block by IP in a per-mode map and returns the step's
  DEBUG exit (made once per target) -- no dispatcher set-up.  A stepped
  instruction is translated once it has been stepped ``hot_threshold``
  times (the interpreter steps it until then), since translating one costs
  as much as a few hundred steps.  ``emu bench --step`` measures a step
  against unicorn with a per-instruction hook.
* Self-modifying code: RAM marks pages holding translated code; a guest
  store into one bails to the interpreter, whose write invalidates the page
  (``tb_invalidate_page`` drops its blocks and unlinks jumps into them).  The
  store that hits the running block's own page leaves that block at once.
  Code that keeps changing is interpreted, as QEMU stops trusting its TBs
  for a page its per-page write counting shows being written again and
  again: a page whose blocks have been invalidated ``SMC_DEMOTE_AFTER``
  times is *demoted* -- no block is translated from it (the interpreter,
  whose decode cache a store invalidates per granule, runs it) until its
  code has been looked up ``SMC_PROBATION`` times with no store into it
  (code written once, then run: translated again) or the code cache is
  flushed.  Retranslating after every store made an SMC loop run 30 times
  slower than on the interpreter.
* The interpreter (:class:`emu.accel.interp.Interpreter`, sharing its
  target's Core and its Ops) is the slow path: helpers, bails, port I/O, HLT,
  interrupts, breakpoints, an instruction-budget remainder smaller than the
  next block, IO restarts (IoPending) and fault delivery all go through its
  exact code, so exits and icount match ``-accel interp`` one for one.
* Paging (CR0.PG): blocks are keyed by linear address, with the privilege
  (supervisor/user) in the key, and record the physical pages they were
  decoded from (SMC invalidation goes by physical page); every TLB flush
  (MOV CR3, INVLPG, a paging-mode change) drops them.  Their loads and
  stores look the linear page up in the paging translator's own TLB and
  bail to the interpreter on a miss, a right the entry does not grant, a
  page crossing or MMIO -- so walks, A/D bits and #PF stay the
  interpreter's.
* Deliberate gaps: x86 64-bit stack operations are helpers; Arm Thumb state
  is not translated (each T16 instruction is a helper).
"""

from __future__ import annotations

import functools
import time

import numpy as np

from .base import Accelerator
from .interp import FOREVER, Interpreter
from ..exits import BudgetExit, DebugExit
from ..ir.codegen import (EXIT_MASK, EXIT_SHIFT, GOTO, GUARD, HELPER, INDIRECT, PACKERS,
                          TbExit, generate, generate_region, plan_region)
from ..ir.ir import IRBlock
from ..ir.optimize import dce, dead_regs, optimize, propagate, region_liveness
from ..isa.ops import GuestException, IoPending, Unsupported

MAX_INSNS = 64
HOT_THRESHOLD = 16          # lookups of a block before it is translated (see Translator)
MAX_REGION_BLOCKS = 24
MAX_REGION_GROWTH = 3       # times a region is translated again to take in a block
SMC_DEMOTE_AFTER = 8        # invalidations of a page before its code is interpreted
SMC_PROBATION = 1024        # lookups without a store into it before a demoted page is translated again
LOG_FLAGS = ("in_asm", "op", "op_opt", "out_asm", "exec", "nochain")


def _helper_only(block) -> bool:
    """The block is just its first instruction, called as a helper."""
    return len(block.ops) == 2 and block.ops[1].name == "call_helper"


def _helper_first(left):
    """The function of every block that is one helper call: retire nothing and
    leave by exit 0, the helper (the dispatcher runs the instruction)."""
    return 0


HELPER_FIRST_EXITS = (TbExit(HELPER, None, None, 0),)


def _unlink_incoming(tb) -> None:
    """Unchain every direct jump into ``tb`` (QEMU's tb_jmp_unlink)."""
    for src, slot in tb.incoming:
        if src.jmp[slot] is tb:
            src.jmp[slot] = None
    tb.incoming.clear()


class TranslationBlock:
    """One translated block (QEMU's ``TranslationBlock``)."""

    __slots__ = ("pc", "ip", "key", "icount", "fn", "exits", "jmp", "incoming", "pages",
                 "page", "valid", "insns", "loop", "text", "step_exits")

    def __init__(self, pc, ip, key):
        self.pc = pc
        self.ip = ip
        self.key = key
        self.jmp = [None, None]          # direct successors by slot (chained blocks)
        self.incoming = []               # (tb, slot) that jump here
        self.valid = True
        self.text = None
        self.step_exits = {}             # exit code -> DebugExit after a single step that
                                         # left through a direct exit (its target is fixed)

    def __repr__(self):
        return f"<TB pc=0x{self.pc:x} insns={self.icount}{' loop' if self.loop else ''}>"


class Translator(Accelerator):
    name = "tcg"
    logs_blocks = True

    def __init__(self, machine, one_insn_per_tb: bool | None = None, max_insns: int = MAX_INSNS,
                 hot_threshold: int = HOT_THRESHOLD):
        super().__init__(machine)
        self._runner = self._run                # run(): the dispatcher, or the stepper
        self.interp = Interpreter(machine)      # the slow path and the reference
        self.frontend = machine.target.ir_frontend(machine.model)   # the target's IR front end
        self.core = self.interp.core
        # fast port I/O: devices that allow it are served without an exit
        self.core.ops.io_inline = machine.serve_port_inline
        self.s = machine.cpu
        self.one_insn_per_tb = bool(getattr(machine, "one_insn_per_tb", False)
                                    if one_insn_per_tb is None else one_insn_per_tb)
        self.max_insns = max_insns
        self._run_n = 0                         # see _interp / icount_now
        # Tiers: code runs on the interpreter until its block has been looked
        # up hot_threshold times; then the block and the already-run blocks it
        # jumps to in its page are translated as one region.  hot_threshold <= 1
        # translates every block at first sight, one function per block (the
        # conformance runner does that, so vectors exercise the translator).
        self.hot_threshold = hot_threshold
        self.max_region_blocks = MAX_REGION_BLOCKS
        self.regions_off = False         # set by run(): breakpoints or -d nochain
        self.heat = {}                   # block key -> cold lookups so far
        self.unguarded = set()           # region keys whose segment guard failed once
        self.grow = {}                   # block key -> (region head key, times grown): see tb_find
        self.jump_targets = {}           # mode -> IPs translated code jumps to directly
        self._stepped = 0                # blocks run by the single-step short way (_stepper)
        self._step_maps = {}             # block key without IP -> {ip: (fn, step_exits, TB)}
        self._steps = None               # the map of the current mode, once known
        self._step_mode = None           # its key (the block key without IP)
        self._step_exits = {}            # linear address -> DebugExit("step", it): exits are
                                         # never changed once made, so one per address serves
        self.tb_cache = {}
        self.page_tbs = {}
        self.smc_count = {}              # physical page -> times its blocks were invalidated
        self.interp_pages = {}           # page demoted to the interpreter (SMC_DEMOTE_AFTER) ->
                                         # its lookups since the last store into its code
        self._bps_seen = frozenset()
        self.counters = dict.fromkeys(("blocks_translated", "blocks_executed", "chain_hits",
                                       "chain_links", "lookups", "invalidations", "helper_calls",
                                       "bails", "interp_insns", "inline_fallbacks", "translate_seconds",
                                       "regions_translated", "cold_lookups", "string_fast_insns",
                                       "guard_fails", "regions_grown", "smc_demoted_pages",
                                       "demoted_lookups"), 0)
        ram = machine.ram
        # RAM's code map (64-byte granules holding decoded instructions, kept by
        # the decoder through ram.mark_code) is what translated stores check: a
        # store into a code page but not into a code granule (the stack next to
        # a boot sector) stays fast.
        ops = self.core.ops
        fe = self.frontend
        self._core_tlb_flush = fe.watch_tlb(ops, self._tlb_flushed)
        self.ns_base = {"S": self.s, "MM": ram.mm, "OPS": ops, "CP": ram.code_map, **PACKERS,
                        **fe.namespace(self.s, ram),
                        **{name: fn for name, (fn, _) in fe.ir.pure_calls.items()}}
        ram.add_invalidation_listener(self.tb_invalidate_page)

    # -- interrupt wiring (the board sets these on the accelerator) -------------------
    @property
    def irq_line(self):
        return self.interp.irq_line

    @irq_line.setter
    def irq_line(self, v):
        self.interp.irq_line = v

    @property
    def irq_ack(self):
        return self.interp.irq_ack

    @irq_ack.setter
    def irq_ack(self, v):
        self.interp.irq_ack = v

    # -- Accelerator contract ------------------------------------------------------------
    def take_queued_exit(self):
        return self.interp.take_queued_exit()

    def flush_code_cache(self) -> None:
        """tb_flush: forget every block (and the interpreter's decode cache)."""
        self.core.flush()
        for tb in self.tb_cache.values():
            tb.valid = False
        self.tb_cache.clear()
        self.page_tbs.clear()
        self.smc_count.clear()
        self.interp_pages.clear()
        self.heat.clear()
        self.grow.clear()
        self.jump_targets.clear()
        self._step_maps.clear()
        self._steps = None

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

    # -- invalidation ----------------------------------------------------------------------
    def tb_invalidate_page(self, page: int) -> None:
        """A guest write hit a page holding translated code: drop its blocks and
        unlink every jump into them (QEMU's tb_invalidate_phys_page_range)."""
        if page in self.interp_pages:
            self.interp_pages[page] = 0     # still changing: probation starts again
        tbs = self.page_tbs.pop(page, None)
        if not tbs:
            return
        times = self.smc_count.get(page, 0) + 1
        self.smc_count[page] = times
        if times >= SMC_DEMOTE_AFTER:
            self.interp_pages[page] = 0
            self.smc_count[page] = 0
            self.counters["smc_demoted_pages"] += 1
        self._step_maps.clear()          # the stepper's maps hold no invalid block
        self._steps = None
        for tb in tbs:
            if not tb.valid:
                continue
            tb.valid = False
            self.counters["invalidations"] += 1
            if self.tb_cache.get(tb.key) is tb:
                del self.tb_cache[tb.key]
            _unlink_incoming(tb)
            for nxt in tb.jmp:
                if nxt is not None:
                    nxt.incoming[:] = [(t, sl) for t, sl in nxt.incoming if t is not tb]
            tb.jmp = [None] * len(tb.jmp)

    def _drop_region(self, tb) -> None:
        """Forget every entry of the region ``tb`` belongs to, and translate those
        places again without the segment guard."""
        for t in self._forget_region(tb):
            self.unguarded.add(t.key)

    def _forget_region(self, tb) -> list:
        """Drop every entry of the region ``tb`` belongs to (they share its exits)
        and unlink jumps into and out of them; returns them."""
        gone = [t for t in self.tb_cache.values() if t.exits is tb.exits]
        for t in gone:
            t.valid = False
            del self.tb_cache[t.key]
            _unlink_incoming(t)
        for i in range(len(tb.jmp)):
            nxt = tb.jmp[i]
            if nxt is not None:
                nxt.incoming[:] = [(x, sl) for x, sl in nxt.incoming if x.exits is not tb.exits]
                tb.jmp[i] = None
        return gone

    # -- translation -------------------------------------------------------------------------
    def _key(self, ip: int, cap: int):
        """The front end's block key (``tb_key``): (fetch base, IP, decode
        flags, what else the translation depends on, paging, cap).  Paging: 0
        off, else blocks are keyed by linear address and dropped whenever
        the TLB is flushed."""
        return self.frontend.tb_key(self.core, ip, cap)

    def _mem_model(self, key):
        return self.frontend.mem_model(self.core, key)

    def _tlb_flushed(self) -> None:
        """The linear -> physical mapping may have changed (MOV CR3, INVLPG,
        CR0/CR4/EFER): the blocks translated under paging are keyed by
        linear address, drop them all."""
        self._core_tlb_flush()
        paged = [tb for tb in self.tb_cache.values() if tb.key[4]]
        for tb in paged:
            if self.tb_cache.get(tb.key) is not tb:
                continue
            tb.valid = False
            del self.tb_cache[tb.key]
            _unlink_incoming(tb)
        for tb in paged:
            for i, nxt in enumerate(tb.jmp):
                if nxt is not None:
                    nxt.incoming[:] = [(t, sl) for t, sl in nxt.incoming if t.valid]
                    tb.jmp[i] = None
        if paged:
            self.heat = {k: v for k, v in self.heat.items() if not k[4]}
            self.grow = {k: v for k, v in self.grow.items() if not k[4]}
            self._step_maps.clear()
            self._steps = None

    def tb_find(self, ip: int, one: bool, left: int = FOREVER):
        """The block at CS:ip, translated on a miss -- or None: not decodable,
        or still cold (run fewer than ``hot_threshold`` times; the caller lets
        the interpreter run one instruction).

        A budget ``left`` smaller than ``max_insns`` caps the block's length
        (the cap is part of the key, as QEMU's CF_COUNT_MASK is part of a TB's
        cflags), so a short budget still runs translated code -- the
        conformance runner retires one instruction per run."""
        cap = 1 if one else min(self.max_insns, left)
        key = self._key(ip, cap)
        tb = self.tb_cache.get(key)
        if tb is None:
            if self.interp_pages and self._demoted(self._phys_page(self.core.fetch_base + ip)):
                return None             # code that keeps changing: interpreted
            if cap == 1 and self.single_step and self.hot_threshold > 1 and self.machine.log is None:
                # single-stepping: a one-instruction block is translated once it
                # has been stepped hot_threshold times -- translating costs as
                # much as a few hundred interpreted steps, and code a session
                # steps through once (start-up, a print loop) never pays it back.
                # (-d logs every block at first sight, as QEMU does.)
                return None if self._still_cold(key) else self.tb_gen_code(ip, key, cap)
            if cap == 1 or self.hot_threshold <= 1 or self.regions_off:
                return self.tb_gen_code(ip, key, cap)
            if cap < self.max_insns or self._still_cold(key):
                return None
            grow = self.grow.pop(key, None)
            if grow is not None:
                tb = self._grow_region(key, *grow)
                if tb is not None:
                    return tb
            tb = self.tb_gen_region(ip, key)
        return tb

    def _demoted(self, page: int) -> bool:
        """Is ``page`` demoted to the interpreter (code that keeps changing)?
        Counts the lookup; after ``SMC_PROBATION`` of them with no store
        into its code the page is translated again."""
        since = self.interp_pages.get(page)
        if since is None:
            return False
        self.counters["demoted_lookups"] += 1
        if since + 1 >= SMC_PROBATION:
            del self.interp_pages[page]
            return False
        self.interp_pages[page] = since + 1
        return True

    def _still_cold(self, key) -> bool:
        """Count a lookup of the block ``key``; True while it has had fewer
        than ``hot_threshold`` of them (the interpreter runs it)."""
        h = self.heat.get(key, 0) + 1
        self.heat[key] = h
        if h < self.hot_threshold:
            self.counters["cold_lookups"] += 1
            return True
        return False

    def _grow_region(self, key, head_key, times):
        """The block ``key`` just got hot, and a region left it out when it was
        formed (not run yet then): translate that region again with it, so
        the path between them stays inside (a recursion's returns, the
        outer loop of a loop nest formed from its inner loop)."""
        head = self.tb_cache.get(head_key)
        if head is None or not head.valid or times >= MAX_REGION_GROWTH:
            return None
        self._forget_region(head)
        self.counters["regions_grown"] += 1
        self.tb_gen_region(head_key[1], head_key, times + 1, entries={key[1]})
        return self.tb_cache.get(key)

    def _log_flags(self):
        m = self.machine
        if m.log is None:
            return ()
        return m.log_flags

    def _phys_page(self, lin: int) -> int:
        """The RAM page holding the code byte at ``lin`` (what SMC invalidates by)."""
        ops = self.core.ops
        if ops.translate is None:
            return (lin & ops.amask) >> 12
        return ops.translate(lin, False, True) >> 12

    def _build(self, ip: int, key, region: bool = False, keep_op: bool = False):
        """Decode the block at CS:ip and build its optimised IR.  Returns
        (block, pages, fallbacks, op_text) or None when not even its first
        instruction can be decoded (the interpreter then raises the fault).
        ``op_text`` (the IR before optimisation) is kept for ``-d op`` or
        when ``keep_op`` asks for it."""
        core = self.core
        ops = core.ops
        base = core.fetch_base
        amask = ops.amask
        pc = base + ip
        block = IRBlock(pc, ip)
        b = self.frontend.builder(block, key)
        max_insns = key[-1]
        page = (pc & amask) >> 12
        pages = set()
        bps = self.breakpoints
        cur = ip
        fallbacks = []
        while True:
            lin = base + cur
            if block.insns and (len(block.insns) >= max_insns or ((lin & amask) >> 12) != page
                                or (bps and lin in bps)):
                b.end_block(cur)
                break
            insn = core.cache.get(lin)
            if insn is None or insn.ip != cur:
                saved = ops.io_pos
                try:
                    insn = core.decode_at(lin, cur)
                except (GuestException, IoPending, Unsupported):
                    ops.pending_read = None
                    ops.io_pos = saved
                    if not block.insns:
                        return None
                    b.end_block(cur)
                    break
            try:
                pages.add(self._phys_page(lin))
                pages.add(self._phys_page(lin + insn.length - 1))
            except GuestException:          # (not after a decode: its fetch walked)
                if not block.insns:
                    return None
                b.end_block(cur)
                break
            block.insns.append(insn)
            inlined = b.translate_insn(len(block.insns) - 1, insn)
            if not inlined and not self.frontend.deliberate_helper(insn):
                fallbacks.append((insn, b.fallback_reason))
            if b.ended:
                break
            cur = insn.next_ip
        self.counters["inline_fallbacks"] += len(fallbacks)
        flags = self._log_flags()
        op_text = block.dump() if flags or keep_op else None
        block.loop = (max_insns > 1 and "nochain" not in flags and any(
            o.name in ("brcond", "goto_tb") and o.aux[1] == ip for o in block.ops))
        if region:                  # flag liveness waits for the region's shape
            propagate(block)
            dead_regs(block)
            dce(block)
        else:
            optimize(block)
        block.page = page
        return block, pages, fallbacks, op_text

    def _install(self, tb, key, pages, page):
        tb.pages = pages
        tb.page = page
        for pg in pages:
            self.page_tbs.setdefault(pg, []).append(tb)
        self.tb_cache[key] = tb
        # where translated code of this mode jumps to directly (for plan_region's
        # entries; a target whose code is gone since only costs an extra entry)
        targets = self.jump_targets.setdefault(key[:1] + key[2:5], set())
        targets.update(x.target for x in tb.exits if x.kind is GOTO and x.target is not None)

    def _log_block(self, block, fallbacks, op_text, src, texts):
        base = self.core.fetch_base
        in_asm = "".join(f"0x{base + i.ip:08x}:  {i!r}\n" for i in block.insns)
        for insn, why in fallbacks:
            in_asm += f"  ; {insn!r}: not inlined ({why}); called as a helper\n"
        txt = {"in_asm": in_asm, "op": op_text, "op_opt": block.dump(), "out_asm": src}
        if texts is not None:
            texts.update(txt)
        log = self.machine.log
        flags = self._log_flags()
        if log is not None:
            if "in_asm" in flags:
                log.write(f"----------------\nIN:\n{txt['in_asm']}\n")
            if "op" in flags and op_text is not None:
                log.write(f"OP:\n{txt['op']}\n")
            if "op_opt" in flags:
                log.write(f"OP after optimization and liveness analysis:\n{txt['op_opt']}\n")
            if "out_asm" in flags and src is not None:
                log.write(f"OUT: [size={len(src)}]\n{src}\n")

    def tb_gen_code(self, ip: int, key, cap: int, texts: dict | None = None):
        """Translate the block at CS:ip.  Returns None when not even its first
        instruction can be decoded (the interpreter then raises the fault)."""
        t0 = time.perf_counter()
        built = self._build(ip, key, keep_op=texts is not None)
        if built is None:
            return None
        block, pages, fallbacks, op_text = built
        tb = TranslationBlock(block.pc, ip, key)
        if texts is None and _helper_only(block):
            src = None
            tb.fn, tb.exits = _helper_first, HELPER_FIRST_EXITS
        else:
            name = f"tb_{block.pc:x}"
            src, exits = generate(block, self.core.ops.amask, self.machine.ram.size, block.loop, name,
                                  self._mem_model(key))
            ns = dict(self.ns_base)
            exec(compile(src, f"<tb 0x{block.pc:x}>", "exec"), ns)
            tb.fn = ns[name]
            tb.exits = exits
        tb.jmp = [None, None]
        tb.icount = len(block.insns)
        tb.insns = block.insns
        tb.loop = block.loop
        self._install(tb, key, pages, block.page)
        self.counters["blocks_translated"] += 1
        self.counters["translate_seconds"] += time.perf_counter() - t0
        if texts is not None or self._log_flags():
            self._log_block(block, fallbacks, op_text, src, texts)
        return tb

    def tb_gen_region(self, ip: int, key, grown: int = 0, entries=()):
        """Translate the hot block at CS:ip together with the blocks it jumps
        to directly in the same page that have already run (``self.heat``),
        transitively, into one region function (:class:`RegionCodegen`).
        Each dispatch point of the region (:func:`plan_region`) becomes an
        entry: a TB sharing the region's function, exits and chaining slots,
        whose ``icount`` is the budget its section needs."""
        t0 = time.perf_counter()
        built = self._build(ip, key, region=True)
        if built is None:
            return None
        first = built[0]
        if _helper_only(first):
            # nothing to translate: the block is one helper (a REP string
            # instruction, I/O, ...); its TB hands it straight to the slow path
            tb = TranslationBlock(first.pc, ip, key)
            tb.fn, tb.exits, tb.jmp, tb.icount, tb.insns, tb.loop = \
                _helper_first, HELPER_FIRST_EXITS, [None], 1, first.insns, False
            self._install(tb, key, built[1], first.page)
            self.counters["blocks_translated"] += 1
            return tb
        blocks, todo, seen = [built], [first], {ip}
        ckey = key[:1] + key[2:]
        heat = self.heat
        amask = self.core.ops.amask
        returns = set()
        left_out = set()
        call_names = self.frontend.call_names
        while todo and len(blocks) < self.max_region_blocks:
            blk = todo.pop(0)
            # direct successors, and the return sites of its calls (RET comes back there)
            targets = [o.aux[1] for o in blk.ops if o.name in ("brcond", "goto_tb")]
            calls = [i.next_ip for i in blk.insns if i.name in call_names]
            returns.update(calls)
            for t in targets + calls:
                tkey = (ckey[0], t) + ckey[1:]
                # a block that already has translated code (an inner loop's
                # region) is left out: the region exits to it, chained
                if t in seen or ((ckey[0] + t) & amask) >> 12 != first.page or tkey in self.tb_cache:
                    continue
                if tkey not in heat:
                    left_out.add(tkey)          # not run yet: may grow the region later
                    continue
                seen.add(t)
                nb = self._build(t, tkey, region=True)
                if nb is not None and len(blocks) < self.max_region_blocks:
                    blocks.append(nb)
                    todo.append(nb[0])
        irs = {b[0].ip: b[0] for b in blocks}
        ram_size = self.machine.ram.size
        fast = {}
        if key not in self.unguarded and not key[4]:
            fast = self.frontend.fast_spaces(self.s, ram_size, amask)
            self.frontend.mark_safe_loads(irs.values(), fast)
            for blk in irs.values():        # a safe load no longer shields a write
                dead_regs(blk)
        # blocks other translated code of this mode already jumps to get an entry
        entries = (self.jump_targets.get(ckey[:4], set()) | set(entries)) & set(irs)
        dispatch = plan_region(irs, ip, entries=entries)
        live_in = region_liveness(irs, dispatch)
        name = f"region_{first.pc:x}"
        src, exits, tables, max_path = generate_region(irs, ip, dispatch, live_in, amask,
                                                       ram_size, name, fast, self._mem_model(key),
                                                       returns)
        ns = dict(self.ns_base)
        ns.update(tables)
        exec(compile(src, f"<region 0x{first.pc:x}>", "exec"), ns)
        fn = ns[name]
        pages = set().union(*(b[1] for b in blocks))
        insns = [i for blk in irs.values() for i in blk.insns]
        jmp = [None] * len(exits)
        entry_tb = None
        for d in dispatch:
            blk = irs[d]
            k = (ckey[0], d) + ckey[1:]
            if d != ip and k in self.tb_cache:
                continue
            tb = TranslationBlock(blk.pc, d, k)
            tb.fn = fn if d == ip else functools.partial(fn, pc=d)
            tb.exits = exits
            tb.jmp = jmp
            tb.icount = max_path[d]
            tb.insns = insns
            tb.loop = True
            self._install(tb, k, pages, first.page)
            if d == ip:
                entry_tb = tb
        for k in left_out:
            self.grow[k] = (key, grown)
        self.counters["blocks_translated"] += len(irs)
        self.counters["regions_translated"] += 1
        self.counters["translate_seconds"] += time.perf_counter() - t0
        if self._log_flags():
            for blk, _pages, fallbacks, op_text in blocks:
                self._log_block(blk, fallbacks, op_text, None, None)
            log = self.machine.log
            if log is not None and "out_asm" in self._log_flags():
                log.write(f"OUT: [region of {len(irs)} blocks, {len(dispatch)} sections, "
                          f"size={len(src)}]\n{src}\n")
        return entry_tb

    def _cold_len(self, ip: int, left: int, bps) -> int:
        """How many instructions the interpreter may run for a block that is not
        translated yet: up to and including its first control transfer (or
        helper), so that it stops where the next block starts and that block
        is looked up (and counted hot) -- decoding ahead only within the
        current page, where the fetch has already been made."""
        if left <= 1 or bps:
            return 1
        core = self.core
        base = core.fetch_base
        cache = core.cache
        ends_block = self.frontend.ends_block
        lin = base + ip
        page = lin >> 12
        n = 0
        while n < left and n < self.max_insns:
            insn = cache.get(lin)
            if insn is None or insn.ip != ip:
                ops = core.ops
                saved = ops.io_pos
                try:
                    insn = core.decode_at(lin, ip)
                except (GuestException, IoPending, Unsupported):
                    ops.pending_read = None
                    ops.io_pos = saved
                    break
            n += 1
            if ends_block(insn):
                break
            ip = insn.next_ip
            lin = base + ip
            if lin >> 12 != page:
                break
        return max(n, 1)

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
            if kind is GOTO or kind is INDIRECT:
                self.icount += 1
                self._stepped += 1
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

    def _trace_cold(self, log) -> None:
        """-d exec: code not translated (yet) runs on the interpreter."""
        ip = self.s.pc
        h = self.heat.get(self._key(ip, self.max_insns))
        seen = f" (cold: run {h} of {self.hot_threshold} before translation)" if h else ""
        log.write(f"Interp: [{self.core.fetch_base + ip:08x}]{seen}\n")

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
                        if trace:
                            self._trace_cold(log)
                        ex, k = self._interp(self._cold_len(s.pc, limit - n, bps), n)
                        n += k
                        if ex is not None:
                            return ex
                        continue
                    if came is not None:
                        if came.seen is None:
                            came.seen = {}
                        if len(came.seen) < 8:
                            came.seen[s.pc] = tb
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
                        if trace:
                            self._trace_cold(log)
                        ex, k = self._interp(self._cold_len(s.pc, limit - n, bps), n)
                        n += k
                        if ex is not None:
                            return ex
                        continue
                    if not nochain and tb.page == prev.page and tb.valid:
                        prev.jmp[x.slot] = tb          # tb_add_jump
                        tb.incoming.append((prev, x.slot))
                        counters["chain_links"] += 1
                elif kind is GUARD:
                    # a segment changed under a region's fast accesses: translate
                    # it again without them
                    self._drop_region(tb)
                    counters["guard_fails"] += 1
                    tb = None
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
                else:
                    counters["helper_calls" if kind is HELPER else "bails"] += 1
                    k = 1
                    insn = tb.insns[x.insn]
                    if insn.repeats and not step:
                        if not bps:
                            k = fast_path(self, insn, limit - n)
                            if k:
                                n += k
                                tb = None
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
