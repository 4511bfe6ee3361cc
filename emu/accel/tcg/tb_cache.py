"""The translation-block cache of ``-accel tcg``: what QEMU keeps in
``tb_htable`` and its per-page TB lists, and how it forgets them.

* :class:`TranslationBlock` is QEMU's ``TranslationBlock``: the compiled
  function, its exits, its chaining slots (``jmp``, QEMU's ``jmp_dest``) and
  the jumps into it (``incoming``, QEMU's ``jmp_list``).
* Lookup is by the target front end's block key (``Target.ir_frontend``'s
  ``tb_key``, QEMU's ``cpu_get_tb_cpu_state``: fetch base, IP, decode flags,
  paging, cap) in ``tb_cache``; ``page_tbs`` lists the blocks decoded from
  each physical page (QEMU's ``PageDesc`` TB lists).
* Invalidation: a guest store into a page holding translated code drops the
  page's blocks and unlinks every jump into them (QEMU's
  ``tb_invalidate_phys_page_range`` and ``tb_jmp_unlink``); a page whose
  blocks are invalidated ``SMC_DEMOTE_AFTER`` times is *demoted* to the
  interpreter until ``SMC_PROBATION`` lookups pass with no store into it
  (QEMU's per-page write counting).  A TLB flush drops every block keyed by
  linear address; ``tb_flush`` forgets them all.
* The IR a region build made of each block (``built_ir``, by block key, with
  its pages) is kept for the next region that copies the block, and goes
  the same ways.

The cache is one part of :class:`emu.accel.tcg.Translator`; what else must
forget blocks (the tiers' counts, the single-step maps) is told through
``_forget_paged_tiers`` and ``_forget_steps``.
"""

from __future__ import annotations

from ...ir.codegen import GOTO

SMC_DEMOTE_AFTER = 8        # invalidations of a page before its code is interpreted
SMC_PROBATION = 1024        # lookups without a store into it before a demoted page is translated again


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


class TbCache:
    """The block cache, its page lists and SMC demotion (a part of the
    Translator: these methods read ``self.core``, ``self.frontend`` and
    ``self.counters``)."""

    def _init_tb_cache(self) -> None:
        """The empty cache (called once by the Translator's constructor)."""
        self.jump_targets = {}           # mode -> IPs translated code jumps to directly
        self.tb_cache = {}
        self.page_tbs = {}
        self.smc_count = {}              # physical page -> times its blocks were invalidated
        self.interp_pages = {}           # page demoted to the interpreter (SMC_DEMOTE_AFTER) ->
                                         # its lookups since the last store into its code
        self.built_ir = {}               # block key -> (IR, pages, fallbacks) as built for a
                                         # region: see _built_before
        self.built_pages = {}            # physical page -> keys in built_ir decoded from it

    def _flush_tbs(self) -> None:
        """tb_flush's part here: every block, page list and SMC count goes."""
        for tb in self.tb_cache.values():
            tb.valid = False
        self.tb_cache.clear()
        self.page_tbs.clear()
        self.smc_count.clear()
        self.interp_pages.clear()
        self.jump_targets.clear()
        self.built_ir.clear()
        self.built_pages.clear()

    def _built_before(self, key):
        """The IR a region build made of the block ``key`` (its front end and
        local passes), as (a copy of it, pages, fallbacks) -- or None.  A
        block copied into several regions, or into a region translated again
        to grow, is built once; what it depends on is its key (mode, IP, cap)
        and its code bytes, and it goes with them (tb_invalidate_page, a TLB
        flush under paging, tb_flush)."""
        hit = self.built_ir.get(key)
        if hit is None:
            return None
        self.counters["region_ir_reused"] += 1
        return hit[0].copy(), hit[1], hit[2]

    def _keep_built(self, key, block, pages, fallbacks) -> None:
        """Keep a copy of the freshly built IR of the block ``key`` (see _built_before)."""
        self.built_ir[key] = (block.copy(), pages, fallbacks)
        for pg in pages:
            self.built_pages.setdefault(pg, set()).add(key)

    def _forget_built(self, keys) -> None:
        for k in keys:
            hit = self.built_ir.pop(k, None)
            if hit is not None:
                for pg in hit[1]:
                    ks = self.built_pages.get(pg)
                    if ks is not None:
                        ks.discard(k)

    def _key(self, ip: int, cap: int):
        """The front end's block key (``tb_key``): (fetch base, IP, decode
        flags, what else the translation depends on, paging, cap).  Paging: 0
        off, else blocks are keyed by linear address and dropped whenever
        the TLB is flushed."""
        return self.frontend.tb_key(self.core, ip, cap)

    def _phys_page(self, lin: int) -> int:
        """The RAM page holding the code byte at ``lin`` (what SMC invalidates by)."""
        ops = self.core.ops
        if ops.translate is None:
            return (lin & ops.amask) >> 12
        return ops.translate(lin, False, True) >> 12

    def _install(self, tb, key, pages, page):
        tb.pages = pages
        tb.page = page
        for pg in pages:
            self.page_tbs.setdefault(pg, []).append(tb)
        self.tb_cache[key] = tb
        if key[5] < self.max_insns:
            # cut short by the end of a budget (its cap): a one-off that says
            # nothing about where the code's jumps go
            return
        # where translated code of this mode jumps to directly (for plan_region's
        # entries; a target whose code is gone since only costs an extra entry)
        targets = self.jump_targets.setdefault(key[:1] + key[2:5], set())
        targets.update(x.target for x in tb.exits if x.kind is GOTO and x.target is not None)

    def tb_invalidate_page(self, page: int) -> None:
        """A guest write hit a page holding translated code: drop its blocks and
        unlink every jump into them (QEMU's tb_invalidate_phys_page_range)."""
        if page in self.interp_pages:
            self.interp_pages[page] = 0     # still changing: probation starts again
        self._forget_built(list(self.built_pages.pop(page, ())))
        self._forget_cold_lens()
        tbs = self.page_tbs.pop(page, None)
        if not tbs:
            return
        times = self.smc_count.get(page, 0) + 1
        self.smc_count[page] = times
        if times >= SMC_DEMOTE_AFTER:
            self.interp_pages[page] = 0
            self.smc_count[page] = 0
            self.counters["smc_demoted_pages"] += 1
        self._forget_steps()             # the stepper's maps hold no invalid block
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
        self._forget_built([k for k in self.built_ir if k[4]])
        self._forget_cold_lens()
        if paged:
            self._forget_paged_tiers()
            self._forget_steps()

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
