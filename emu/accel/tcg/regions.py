"""Region tiering for ``-accel tcg``: when code is translated, and hot
code translated as one function.

* A block runs on the interpreter (up to its control transfer, in one call)
  until it has been looked up ``hot_threshold`` times (its *heat*); then it
  and the blocks it jumps to in its page that have run are translated as one
  *region* (:class:`emu.ir.codegen.RegionCodegen`): a loop nest in one
  function, entered at its dispatch points (:func:`emu.ir.codegen.plan_region`).
  QEMU has one tier; this is the second tier of a tracing JIT, over QEMU's
  block graph.
* A block the region left out because it had not run yet makes the region be
  translated again (*grown*, at most ``MAX_REGION_GROWTH`` times, and only
  while it has at most ``GROW_MAX_INSNS`` instructions) once it is
  hot; the return sites of the region's calls are in it, so a RET stays
  inside.  A region whose entry guard fails (a segment changed under its
  fast accesses, a register it reads as 32 bits came with its upper half
  set, a flag its code read as a constant changed: DF) is translated again
  without what the guard checks.
* A region takes in every block of its page that has run, translated
  already or not (an inner loop's region, a block translated on its own), so
  a loop that came to be translated piecemeal ends up in one function
  instead of two that hand control to each other through the dispatcher.
  An instruction of the region that is not one of its entries (a
  *member*: a block it inlines, or the middle of one) is looked up only
  when control comes from outside -- a run that ended there for its
  budget, an interrupt returning there, cold code re-entering the loop in
  its middle: once hot, it is translated as a block of its own, which
  leaves into the region, and never becomes the head of a second region
  over the same loop.
* ``tb_find`` is the lookup the dispatcher makes (QEMU's ``tb_lookup`` then
  ``tb_gen_code`` on a miss), with the tier decided here.

This is one part of :class:`emu.accel.tcg.Translator`; blocks are built by
:mod:`emu.accel.tcg.translate` and kept in :mod:`emu.accel.tcg.tb_cache`.
"""

from __future__ import annotations

import functools
import time

from ..interp import FOREVER
from ...ir.codegen import generate_region, plan_region
from ...ir.optimize import constant_fl_bits, dead_regs, region_liveness
from .tb_cache import TranslationBlock
from .translate import decode_quietly, helper_first, helper_first_exits, helper_only

# lookups of a block before it is translated: translating a block costs as
# much as a few hundred interpreted runs of it, so code that runs only a few
# dozen times (the cold paths of a large compiled function) stays on the
# interpreter, while a loop still leaves it after a few dozen iterations
HOT_THRESHOLD = 32
MAX_REGION_BLOCKS = 24
MAX_REGION_GROWTH = 3       # times a region is translated again to take in a block
MAX_BLOCK_COPIES = 2        # regions a block is copied into; further ones jump to it
# bails by one exit of translated code before its instruction is translated
# without the speculation that bails (see RegionTiers._despeculate)
BAIL_LIMIT = 8
SPECULATION_LEVELS = 2      # levels of speculation an instruction's accesses may drop
# a region larger than this is not translated again to take in a block that
# got hot after it formed: that would cost its whole size again for a path
# that had not even run then; the block is translated on its own and leads
# into the region (a loop nest or a recursion in a few dozen instructions
# still grows into one function)
GROW_MAX_INSNS = 64


def _changed_at(blocks, ips, mem) -> set:
    """The address spaces the instructions at ``ips`` among ``blocks``
    remap (``mem.spaces_changed``)."""
    out = set()
    if ips:
        for blk in blocks:
            ip = None
            for op in blk.ops:
                if op.name == "insn_start":
                    ip = op.aux[1]
                elif ip in ips:
                    out |= mem.spaces_changed((op,))
    return out


class RegionTiers:
    """Heat counting, region formation and growth (a part of the
    Translator)."""

    def _init_tiers(self, hot_threshold: int) -> None:
        """No heat yet (called once by the Translator's constructor)."""
        # Tiers: code runs on the interpreter until its block has been looked
        # up hot_threshold times; then the block and the already-run blocks it
        # jumps to in its page are translated as one region.  hot_threshold <= 1
        # translates every block at first sight, one function per block (the
        # conformance runner does that, so vectors exercise the translator).
        self.hot_threshold = hot_threshold
        self.max_region_blocks = self.frontend.max_region_blocks or MAX_REGION_BLOCKS
        self.max_block_copies = self.frontend.max_block_copies or MAX_BLOCK_COPIES
        self.regions_off = False         # set by run(): breakpoints or -d nochain
        self.heat = {}                   # block key -> cold lookups so far
        self.unguarded = set()           # region keys whose entry guard failed once
        self.grow = {}                   # block key -> (region head key, times grown): see tb_find
        self.members = {}                # block key -> the entry TB of the region inlining it
        self.copies = {}                 # block key -> head keys of the regions translated with it
        self.region_keys = {}            # region head key -> the keys of its blocks
        self.checked_ips = {}            # mode -> {IP: speculation dropped there} (_despeculate)
        self.cold_lens = {}              # block key -> how many instructions the interpreter
                                         # runs for it while it is cold (see _cold_len)
        self._cold_key = None            # the key tb_find last found cold (at the full cap)

    def _flush_tiers(self) -> None:
        """tb_flush's part here: heat and growth plans go with the blocks."""
        self.heat.clear()
        self.grow.clear()
        self.members.clear()
        self.copies.clear()
        self.region_keys.clear()
        self.checked_ips.clear()
        self._forget_cold_lens()

    def _forget_cold_lens(self) -> None:
        """Code changed (a store into it, the TLB): the cold blocks' lengths go."""
        self.cold_lens.clear()
        self._cold_key = None

    def _forget_paged_tiers(self) -> None:
        """The TLB was flushed: forget what was counted for blocks keyed by
        linear address."""
        self.heat = {k: v for k, v in self.heat.items() if not k[4]}
        self.grow = {k: v for k, v in self.grow.items() if not k[4]}
        self.members = {k: v for k, v in self.members.items() if not k[4]}
        self.copies = {k: v for k, v in self.copies.items() if not k[4]}
        self.region_keys = {k: v for k, v in self.region_keys.items() if not k[4]}
        self.checked_ips = {k: v for k, v in self.checked_ips.items() if not k[3]}

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
            self._cold_key = None
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
            if cap < self.max_insns:
                return None
            if self._still_cold(key):
                self._cold_key = key
                return None
            grow = self.grow.pop(key, None)
            if grow is not None:
                tb = self._grow_region(key, *grow)
                if tb is not None:
                    return tb
            owner = self.members.get(key)
            if owner is not None and owner.valid:
                # inlined in a region that cannot be entered here: a block of
                # its own leads into it (see the module docstring)
                return self.tb_gen_code(ip, key, cap)
            tb = self.tb_gen_region(ip, key)
        return tb

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
        if len(head.insns) > GROW_MAX_INSNS:
            # a block of its own, leading into the region (see GROW_MAX_INSNS)
            return self.tb_gen_code(key[1], key, key[-1])
        self._forget_region(head)
        for k in self.region_keys.pop(head_key, ()):
            self.copies.get(k, set()).discard(head_key)
        self.counters["regions_grown"] += 1
        self.tb_gen_region(head_key[1], head_key, times + 1, entries={key[1]})
        return self.tb_cache.get(key)

    def _live_copies(self, key) -> int:
        """How many regions still valid hold a copy of the block ``key``: a
        region invalidated since (self-modifying code, a failed guard) no
        longer counts, so the block is copied again into the next one."""
        heads = self.copies.get(key)
        if not heads:
            return 0
        cache = self.tb_cache
        live = {h for h in heads if (t := cache.get(h)) is not None and t.valid}
        if len(live) < len(heads):
            self.copies[key] = live
        return len(live)

    def checked_at(self, key) -> dict:
        """The instructions of the mode of the block ``key`` translated with
        less speculation on their accesses: IP -> level (:meth:`_despeculate`)."""
        return dict(self.checked_ips.get(key[:1] + key[2:-1], ()))

    def _despeculate(self, tb, x) -> None:
        """The bail ``x`` of ``tb`` has been taken ``BAIL_LIMIT`` times: the
        test of a speculation made at its instruction keeps failing (a run
        of stack accesses tested at once for alignment, with SP odd; a
        segment reloaded with one its fast accesses cannot take), and each
        failure hands the instruction to the interpreter.  Its instruction
        is translated from now on with one level less of that speculation
        (:func:`emu.ir.codegen.generate`'s ``checked``: first without the
        alignment, then without the run -- each access checked inline, a
        misaligned word made in place; the space it reloads is not taken
        the fast way: :func:`_changed_at`), and the region (or block)
        holding it is dropped, to be translated again when next looked up.
        Only a speculation's bail counts (``x.spec``): one the checked way
        makes too (a device, a store onto code) is left as it is."""
        if not x.spec or not tb.valid:
            return
        ips = self.checked_ips.setdefault(tb.key[:1] + tb.key[2:-1], {})
        ip = tb.insns[x.insn].ip
        level = ips.get(ip, 0)
        if level >= SPECULATION_LEVELS:
            return
        ips[ip] = level + 1
        self.counters["despeculated"] += 1
        self._forget_region(tb)

    def _drop_region(self, tb) -> None:
        """Forget every entry of the region ``tb`` belongs to, and translate those
        places again without the segment guard."""
        for t in self._forget_region(tb):
            self.unguarded.add(t.key)

    def tb_gen_region(self, ip: int, key, grown: int = 0, entries=()):
        """Translate the hot block at CS:ip together with the blocks it jumps
        to directly in the same page that have already run (``self.heat``),
        transitively, into one region function (:class:`RegionCodegen`).
        Each section of the region -- its dispatch points
        (:func:`plan_region`), and the blocks other code enters it at, which
        its own jumps inline -- becomes an entry: a TB sharing the region's
        function, exits and chaining slots, whose ``icount`` is the budget
        its section needs.

        A block already copied into ``MAX_BLOCK_COPIES`` regions (the front
        end's ``max_block_copies`` if it sets one) is not copied into
        another: the new region exits to it (its own region or block runs
        it).  Code whose blocks all run (a large compiled function with
        many loops) would otherwise be translated again from every hot head,
        each region taking in the same neighbourhood -- translation time
        growing with the function's size times the number of its heads."""
        t0 = time.perf_counter()
        built = self._build(ip, key, region=True)
        if built is None:
            return None
        first = built[0]
        if helper_only(first):
            # nothing to translate: the block is one helper (a REP string
            # instruction, I/O, ...); its TB hands it straight to the slow path
            tb = TranslationBlock(first.pc, ip, key)
            tb.fn, tb.exits, tb.jmp, tb.icount, tb.insns, tb.loop = \
                helper_first, helper_first_exits(), [None], 1, first.insns, False
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
        jumps_indirectly = self.frontend.jumps_indirectly
        ran = None
        indirect_to = set()             # where the region's indirect jumps may go
        copies = self.copies
        while todo and len(blocks) < self.max_region_blocks:
            blk = todo.pop(0)
            # direct successors, and the return sites of its calls (RET comes back there)
            targets = [o.aux[1] for o in blk.ops if o.name in ("brcond", "goto_tb")]
            if blk.insns and jumps_indirectly(blk.insns[-1]):
                # a jump through a register or a table: where it may go, the
                # blocks of the page that have run (they become sections: the
                # region's indirect jumps continue at its sections)
                if ran is None:
                    ran, hot = self._ran_in_page(ckey, first.page)
                    indirect_to.update(hot)
                targets += ran
            calls = [i.next_ip for i in blk.insns if i.name in call_names]
            returns.update(calls)
            for t in targets + calls:
                tkey = (ckey[0], t) + ckey[1:]
                # a block already translated (an inner loop's region) is taken
                # in too: the loop nest runs in one function
                if t in seen or ((ckey[0] + t) & amask) >> 12 != first.page:
                    continue
                if tkey not in heat and tkey not in self.tb_cache:
                    left_out.add(tkey)          # not run yet: may grow the region later
                    continue
                if self._live_copies(tkey) >= self.max_block_copies:
                    continue                    # in enough regions: jumped to
                seen.add(t)
                nb = self._build(t, tkey, region=True)
                if nb is not None and len(blocks) < self.max_region_blocks:
                    blocks.append(nb)
                    todo.append(nb[0])
        irs = {b[0].ip: b[0] for b in blocks}
        block_keys = [(ckey[0], b) + ckey[1:] for b in irs]
        for k in block_keys:
            copies.setdefault(k, set()).add(key)
        self.region_keys[key] = block_keys
        ram_size = self.machine.ram.size
        fast, fl_bits = {}, (0, 0)
        # what the entry guard checks: segments (not under paging), registers
        # no wider than their accesses, fl's bits no code of the region
        # changes -- not once it has failed
        if key not in self.unguarded:
            fl = getattr(self.s, self.frontend.ir.flags.state_names["fl"])
            used = constant_fl_bits(irs.values(), fl)
            fl_bits = (used, fl & used)
        if key not in self.unguarded and not key[4]:
            fast = self.frontend.fast_spaces(self.s, ram_size, amask, self.machine.ram.code_map)
            # a space the region's own code remaps keeps the mode the memory
            # model allows (remapped_mode; its remapping leaves the region
            # unless the new mapping passes that mode's tests: before_call),
            # else each access is checked
            mem = self._mem_model(key)
            ops = [op for blk in irs.values() for op in blk.ops]
            # a space reloaded where the reload's test kept failing (the new
            # mapping is not the fast one: _despeculate) is checked per access
            for sp in _changed_at(irs.values(), self.checked_at(key), mem):
                fast.pop(sp, None)
            for sp in mem.spaces_changed(ops):
                if sp in fast:
                    mode = mem.remapped_mode(sp, fast[sp], ops, self.machine.ram.code_map)
                    if mode is None:
                        del fast[sp]
                    else:
                        fast[sp] = mode
            self.frontend.mark_safe_loads(irs.values(), fast)
            for blk in irs.values():        # a safe load no longer shields a write
                dead_regs(blk)
        # blocks other translated code of this mode already jumps to get an
        # entry, and so do those an indirect jump of the region may reach
        # that ran more than once
        entries = (self.jump_targets.get(ckey[:4], set()) | set(entries) | indirect_to) & set(irs)
        dispatch = plan_region(irs, ip, returns=returns)
        live_in = region_liveness(irs, dispatch)
        name = f"region_{first.pc:x}"
        src, exits, tables, max_path = generate_region(irs, ip, dispatch, live_in, amask,
                                                       ram_size, name, fast, self._mem_model(key),
                                                       returns, key not in self.unguarded, fl_bits,
                                                       entries, call_names, self.checked_at(key))
        self.counters["range_tested_loops"] += tables["RT"]
        ns = dict(self.ns_base)
        ns.update(tables)
        exec(compile(src, f"<region 0x{first.pc:x}>", "exec"), ns)
        fn = ns[name]
        pages = set().union(*(b[1] for b in blocks))
        insns = [i for blk in irs.values() for i in blk.insns]
        jmp = [None] * len(exits)
        entry_tb = None
        for d in max_path:          # every section: a dispatch point or an entry
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
        for i in insns:
            if i.ip not in max_path:        # not a section: entered only through one
                self.members[(ckey[0], i.ip) + ckey[1:]] = entry_tb
        self.counters["blocks_translated"] += len(irs)
        self.counters["regions_translated"] += 1
        self.counters["translate_seconds"] += time.perf_counter() - t0
        if self._log_flags():
            for blk, _pages, fallbacks, op_text in blocks:
                self._log_block(blk, fallbacks, op_text, None, None)
            log = self.machine.log
            if log is not None and "out_asm" in self._log_flags():
                log.write(f"OUT: [region of {len(irs)} blocks, {len(max_path)} sections, "
                          f"size={len(src)}]\n{src}\n")
        return entry_tb

    def _ran_in_page(self, ckey, page: int) -> tuple:
        """The IPs of the blocks of mode ``ckey`` (a block key without its IP)
        in ``page`` that have run (looked up, or translated): the hot ones
        (translated, or looked up ``hot_threshold`` times) first, then by
        how often they were looked up, in order of address among equals --
        so the cases of a jump table come before code that ran once (the
        start-up's), which the region's cap on its blocks leaves out -- and
        the set of those that ran more than once (code that ran once is no
        place a loop's indirect jump goes back to: no section for it)."""
        amask = self.core.ops.amask
        hot, heat = self.hot_threshold, self.heat
        runs = {}
        for k in (*heat, *self.tb_cache):
            if k[:1] + k[2:] == ckey and ((ckey[0] + k[1]) & amask) >> 12 == page:
                n = hot if k in self.tb_cache else heat[k]
                runs[k[1]] = max(runs.get(k[1], 0), n)
        return (sorted(runs, key=lambda ip: (-min(runs[ip], hot), ip)),
                {ip for ip, n in runs.items() if n > 1})

    def _cold_len(self, ip: int, left: int, bps) -> int:
        """How many instructions the interpreter may run for a block that is not
        translated yet: up to and including its first control transfer (or
        helper), so that it stops where the next block starts and that block
        is looked up (and counted hot) -- decoding ahead only within the
        current page, where the fetch has already been made.  The length of a
        block ``tb_find`` has just counted cold is found once (``cold_lens``,
        forgotten when code changes): a block runs cold up to
        ``hot_threshold`` times."""
        if left <= 1 or bps:
            return 1
        key = self._cold_key
        if key is not None and key[1] == ip:
            n = self.cold_lens.get(key)
            if n is None:
                n = self.cold_lens[key] = self._scan_cold(ip, self.max_insns)
            return min(n, left)
        return self._scan_cold(ip, left)

    def _scan_cold(self, ip: int, left: int) -> int:
        """_cold_len's decoding ahead, up to ``left`` instructions."""
        core = self.core
        base = core.fetch_base
        ends_block = self.frontend.ends_block
        lin = base + ip
        page = lin >> 12
        n = 0
        while n < left and n < self.max_insns:
            insn = decode_quietly(core, lin, ip)
            if insn is None:
                break
            n += 1
            if ends_block(insn):
                break
            ip = insn.next_ip
            lin = base + ip
            if lin >> 12 != page:
                break
        return max(n, 1)

    def _trace_cold(self, log) -> None:
        """-d exec: code not translated (yet) runs on the interpreter."""
        ip = self.s.pc
        h = self.heat.get(self._key(ip, self.max_insns))
        seen = f" (cold: run {h} of {self.hot_threshold} before translation)" if h else ""
        log.write(f"Interp: [{self.core.fetch_base + ip:08x}]{seen}\n")
