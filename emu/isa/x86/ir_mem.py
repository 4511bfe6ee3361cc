"""x86 memory-access hooks for the IR code generator: segmentation, then paging.

How translated code reaches guest memory (:class:`emu.ir.frontend.MemoryAccess`
filled in for x86): an ``ld``/``st`` of ``seg:off`` checks the offset against
the segment's limit and adds its base (SDM Vol. 3 §3.4, §5.3; in 64-bit mode
no limit, and only FS and GS have a base, §3.4.4), then either indexes RAM
at that linear address or (CR0.PG) goes through the live TLB of the paging
translator (§4.10).  An access that is not plain RAM, breaks the limit,
misses the TLB or writes a granule holding translated code *bails*: the
block leaves before the instruction, and the interpreter runs it
(ConcreteOps' slow paths: MMIO, faults, page walks, self-modifying code).

In a region, a segment whose 64 KiB are plain RAM is checked once, at entry
(:func:`fast_segment`, the region's guard), and its 16-bit accesses skip the
per-access checks; a flat segment (base 0, a limit above the top of RAM:
the 4 GiB segments of 32-bit protected mode) is checked there too, and its
32-bit accesses are left with one check, that the offset -- then the
physical address -- is in RAM.  A 64 KiB segment that holds no translated
code when the region is translated ("-nocode") is checked for that at entry
as well (code is translated only between runs of a region, never during
one), and its stores skip the per-store code check -- also when the
region reloads it (real mode) with constant selectors whose 64 KiB hold no
code: each reload tests its new base as the guard tested the old one
(:meth:`X86Memory.remapped_mode`, :meth:`X86Memory.before_call`).  The stack's stores
(through SS) when it may hold code test instead that they land aligned in a
block of RAM with no code around the stack, taken at entry
(:class:`emu.ir.codegen.CodeFreeWindow`): one test per push, CALL or
store into a frame -- and one for a whole run of pushes in a block (PUSH,
PUSH, CALL: :func:`emu.ir.codegen.store_runs`), against the window's
bounds.
"""

from __future__ import annotations

from ...ir.frontend import MemoryAccess
from ...ir.ir import Temp
from ...memory import GRANULE_SHIFT
from .state import SS


#: the ``call_bail`` helpers that load a segment register (ES, DS, FS, GS)
SEG_LOADS = ("load_seg_real", "load_seg_prot")

#: the bytes from a segment's base a 16-bit offset's access reaches (an
#: 8-byte access at offset 0xFFFF ends at 0x10006)
NOCODE_SPAN = 0x10007


class X86Memory(MemoryAccess):
    """How translated code reaches guest memory: ``long64`` (64-bit code: no
    segment limits, only FS and GS have a base) and ``paged`` (CR0.PG: a
    linear address goes through the live TLB of the paging translator --
    ``tlb`` in the code, bound at entry -- and a miss, a right the entry does
    not grant, a page crossing, MMIO or a code granule bails to the
    interpreter, which walks, sets A/D and faults exactly), with ``user``
    (CPL 3: the user bit of the TLB's rights) and ``lin_mask`` (32-bit and
    PAE paging see 32-bit linear addresses)."""

    __slots__ = ("long64", "paged", "user", "lin_mask")
    run_space = SS

    def __init__(self, long64=False, paged=False, user=False, lin_mask=(1 << 64) - 1):
        self.long64 = long64
        self.paged = paged
        self.user = user
        self.lin_mask = lin_mask

    # -- the hooks ----------------------------------------------------------------------------
    def params(self, spaces) -> list:
        return ["SEGS=SEGS", "MM=MM", "CP=CP"] + (["OPS=OPS"] if self.paged and spaces else [])

    def prologue(self, cg, spaces) -> None:
        """Bind each segment's base and limit, and the TLB."""
        for sg in sorted(spaces):
            if self.long64:
                if sg >= 4:
                    cg.emit(f"B{sg} = SEGS[{sg}].base")
            else:
                cg.emit(f"B{sg} = SEGS[{sg}].base; L{sg} = SEGS[{sg}].fast_limit")
        if spaces and self.paged:
            cg.emit("TLB = OPS.translate.tlb")
        if self._windowed(cg, SS):
            cg.window_prologue()

    def _windowed(self, cg, seg) -> bool:
        """The region's stores through ``seg`` go through its code-free
        window: the stack's (SS), in a segment its guard checked whose
        aligned words in RAM are within the limit ("exact8", "wide",
        "flat") and that may hold code (else there is no code check to
        save), in a region that loops (taking the window costs a call at
        entry: a function entered once per call of it stores too little to
        pay for it)."""
        mode = cg.fast_segs.get(seg)
        return (seg == SS and mode is not None and not self.paged and seg in cg.spaces_written and cg.loops
                and _kind(mode) in ("exact8", "wide", "flat") and not _no_code(mode))

    def space_value(self, n: int) -> str:
        return f"SEGS[{n}].selector"

    def guard(self, cg, fast) -> list:
        fails = []
        for sg, m in sorted(fast.items()):
            kind = _kind(m)
            if kind == "flat":
                fails.append(f"B{sg} != 0 or L{sg} < {_ram_top(cg.ram_size, cg.amask) - 1}")
                continue
            fails.append(f"L{sg} != 65535" if kind in EXACT else f"L{sg} < 65542")
            fails += self._base_fails(cg, sg, m, f"B{sg}")
        return fails

    @staticmethod
    def _base_fails(cg, sg: int, m, base: str) -> list:
        """The conditions under which segment ``sg``'s fast accesses (mode
        ``m``, not flat) cannot take the base ``base``: past RAM's top, not
        aligned as the mode assumes, or code in its 64 KiB when the region
        stores there."""
        fails = [f"{base} & 7"] if _kind(m) == "exact8" else []
        fails.append(f"{base} > {_ram_top(cg.ram_size, cg.amask) - 0x10007}")
        if _no_code(m) and sg in cg.spaces_written:
            g = GRANULE_SHIFT
            fails.append(f"CP.find(b\"\\1\", {base} >> {g}, ({base} + {NOCODE_SPAN - 1} >> {g}) + 1) >= 0")
        return fails

    def remapped_mode(self, space, mode, ops, code_map):
        """A segment the region reloads (real mode) stays fast.  It keeps
        "-nocode" -- its stores skip the per-store code check, each reload
        testing its new base's 64 KiB for code as the entry guard tested
        the old one's (:meth:`before_call`) -- when every reload names a
        constant selector whose 64 KiB hold no code now; else (a computed
        selector, or a segment over the code: the reload would leave the
        region on every pass) its stores check for code.  A protected-mode
        reload leaves the mode as it is: :meth:`after_call` tests the new
        segment as the entry guard tested the old one, its code included."""
        if _kind(mode) == "flat":
            return None
        if not _no_code(mode):
            return mode
        for op in _segment_loads(ops):
            sel = op.args[1]
            if op.args[0] == space and (isinstance(sel, Temp) or _holds_code(code_map, (sel & 0xFFFF) << 4)):
                return _kind(mode)
        return mode

    def before_call(self, cg, op, k, ip) -> None:
        """Before a real-mode segment load of a segment the region accesses
        the fast way: leave before the instruction unless its new base
        (selector * 16; the limit stays, SDM Vol. 3A §20.1.1) passes what the
        entry guard tested of the old one -- so the segment stays fast all
        through the region (:meth:`remapped_mode`)."""
        if op.aux[0] != "load_seg_real":
            return
        n = op.args[0]
        m = cg.fast_segs.get(n)
        if m is None:
            return
        base = cg.atomic(f"({cg.val(op.args[1])} & 65535) << 4", "nb")
        cg.bail_if(" or ".join(self._base_fails(cg, n, m, base)), k, ip, True)

    def spaces_changed(self, ops) -> set:
        """The segments a segment load among ``ops`` changes
        (``X86IRBuilder.load_seg``)."""
        return {op.args[0] for op in ops if op.name == "call_bail" and op.aux[0] in SEG_LOADS}

    def after_call(self, cg, op, k, ip) -> None:
        """After a segment load: the segment's base, bound at entry
        (:meth:`prologue`), is read again -- in protected mode its limit
        too (a real-mode load leaves the limit, SDM Vol. 3A §20.1.1), and
        when the region's accesses take the segment the fast way, it leaves
        before the instruction (the interpreter loads it again, the same)
        unless the new one passes what the entry guard tested."""
        if op.aux[0] not in SEG_LOADS:
            return
        n = op.args[0]
        cg.write_local(f"B{n}")
        cg.emit(f"B{n} = SEGS[{n}].base")
        if op.aux[0] == "load_seg_prot":
            cg.write_local(f"L{n}")
            cg.emit(f"L{n} = SEGS[{n}].fast_limit")
            m = cg.fast_segs.get(n)
            if m is not None:
                cg.bail_if(" or ".join(self.guard(cg, {n: m})), k, ip, True)

    def load_store(self, cg, op, k, ip, load) -> None:
        if self.paged:
            return self._paged(cg, op, k, ip, load)
        seg, size = op.aux
        fast = cg.fast_segs.get(seg)
        o = op.args[0]
        run = cg.runs.get(id(op))
        if run is not None and not load:
            if self._store_run_top(cg, run[0]) is not None:
                return self._store_run(cg, op, k, ip, run)
        elif run is not None and self._run_top(cg, run[0]) is not None:
            return self._run(cg, op, k, ip, run)
        if fast is not None and _within_64k(o):
            return self._fast(cg, op, k, ip, load, fast)
        if fast is not None and _kind(fast) == "flat" and _within_32(o):
            return self._flat(cg, op, k, ip, load)
        a = cg.atomic(cg.val(op.args[0]), "a", op.args[0])
        p = cg.new_local("p")
        lin = f"B{seg} + {a}"
        if cg.amask < (1 << 33):
            lin = f"({lin}) & {cg.amask}"
        lim = f"{a} > L{seg}" if size == 1 else f"{a} + {size - 1} > L{seg}"
        cg.ram_access(op, load, size, p, [f"{lim} or ({p} := {lin}) > {cg.ram_size - size}"], k, ip)

    # -- the ways ---------------------------------------------------------------------------------
    def _run_top(self, cg, first):
        """Where a run of stack loads starting with ``first`` (see
        :func:`emu.ir.codegen.load_runs`) must end for its one test: the
        end of the 64 KiB of a 16-bit offset in a segment the guard checked,
        or of RAM for a 32-bit offset in a flat one (the same ways as
        :meth:`_fast` and :meth:`_flat`); None: no run (paging, an
        unchecked segment, a load the region counts on never leaving)."""
        if self.paged or first.safe:
            return None
        mode = cg.fast_segs.get(first.aux[0])
        o = first.args[0]
        if mode is None or not isinstance(o, Temp):
            return None
        if _within_64k(o):
            return 0x10000
        if _kind(mode) == "flat" and _within_32(o):
            return _ram_top(cg.ram_size, cg.amask)
        return None

    def _run(self, cg, op, k, ip, run):
        """A load of a run of stack loads (POP, POP, RET): the first tests
        that the whole run lies aligned below :meth:`_run_top` and its wrap,
        the others read with no test (:meth:`emu.ir.codegen.PyCodegen.run_load`)."""
        first, off, span, wrap = run
        if off:
            return cg.run_load(op, k, ip, run, "", [])
        seg = op.aux[0]
        top = self._run_top(cg, first)
        if wrap is not None:
            top = min(top, wrap)
        a = cg.atomic(cg.val(op.args[0]), "a", op.args[0])
        flat = top != 0x10000 or _kind(cg.fast_segs[seg]) == "flat"
        cg.run_load(op, k, ip, run, a if flat else f"B{seg} + {a}", [f"{a} > {top - span}"],
                    upper=top - span)


    def _store_run_top(self, cg, first):
        """Where the offsets of a run of stack stores starting with
        ``first`` (see :func:`emu.ir.codegen.store_runs`) wrap, when its
        stores would each test the code-free window (:meth:`_windowed`; the
        ways of :meth:`_fast` and :meth:`_flat`): 0x10000 for a 16-bit
        offset in a segment whose aligned words are within the limit, 2**32
        for a 32-bit one in a flat segment; None: no run."""
        seg = first.aux[0]
        o = first.args[0]
        if self.paged or not self._windowed(cg, seg):
            return None
        kind = _kind(cg.fast_segs[seg])
        if kind in ("exact8", "wide") and _within_64k(o):
            return 0x10000
        if kind == "flat" and _within_32(o):
            return 1 << 32
        return None

    def _store_run(self, cg, op, k, ip, run):
        """A store of a run of stack stores (PUSH, PUSH; CALL's push): the
        first tests that the whole run lies aligned in the code-free window
        with no wrap of its offsets, the others write with no test
        (:meth:`emu.ir.codegen.PyCodegen.run_store`)."""
        seg = op.aux[0]
        top = self._store_run_top(cg, run[0])
        if run[1]:
            return cg.run_store(op, k, ip, run, None, None, top)
        a = cg.atomic(cg.val(op.args[0]), "a", op.args[0])
        cg.run_store(op, k, ip, run, a, None if top >> 32 else f"B{seg}", top)

    def _fast(self, cg, op, k, ip, load, fast):
        """A 16-bit offset in a segment the function's entry guard checked
        (``fast_segs``): the whole 64 KiB from its base is RAM, with no
        address wrap, and its limit is 0xFFFF ("exact": only a multi-byte
        access at the very top crosses it) or above 0x10006 ("wide" and
        "flat": never).  Left to check: that limit, and a store into a code
        granule (unless the guard found none in the segment: "-nocode").
        With a base that is a multiple of 8 ("exact8", as every real-mode
        base is), an aligned word never crosses the limit (the last aligned
        one ends at 0xFFFF): the limit is checked for misaligned words
        alone; and a constant offset's word is known aligned or not, and
        within the limit or not, when the region is translated."""
        seg, size = op.aux
        kind, check_code = _kind(fast), not _no_code(fast)
        off = cg.val(op.args[0])
        lim = f" > {65536 - size}" if size > 1 and kind in EXACT else None
        a = off
        if lim is not None:
            a = cg.atomic(off, "a")
        c = op.args[0] if type(op.args[0]) is int else None
        conds = [f"{a}{lim}"] if lim is not None and (c is None or c > 65536 - size) else []
        # (base 0, "flat": the offset is the address)
        addr = a if kind == "flat" else f"B{seg} + {cg.paren(a)}"
        # a constant offset from a base that is a multiple of 8: its alignment is known
        aligned = c % size == 0 if c is not None and kind in ("exact8", "flat") else None
        # a constant offset in a segment no call of the region loads again
        # (after_call): the same address all through a run of the region
        invariant = c is not None and seg not in cg.spaces_rebound
        if kind == "exact8":
            cg.ram_access(op, load, size, addr, [], k, ip, misaligned_only=conds, check_code=check_code,
                          aligned=aligned, code_free=self._windowed(cg, seg), invariant=invariant)
        else:
            cg.ram_access(op, load, size, addr, conds, k, ip, check_code=check_code, aligned=aligned,
                          code_free=kind == "wide" and self._windowed(cg, seg), invariant=invariant)

    def _flat(self, cg, op, k, ip, load):
        """A 32-bit offset in a "flat" segment the entry guard checked: base
        0 and a limit at or above the last byte of RAM the address lines
        reach, so an access that ends in RAM is within the limit and its
        offset is its physical address.  Left to check: that it ends in RAM
        (else the interpreter checks the limit and reaches what is there) --
        for a byte load, by the index into RAM raising past its end --, and
        a store into a code granule.  An offset summed with its wrap at
        2**32 (``[ebx + 0x100000]``) is tested unwrapped: a sum that wrapped
        is past the end of RAM too, and bails (:meth:`PyCodegen.unwrapped`)."""
        seg, size = op.aux
        o = op.args[0]
        top = _ram_top(cg.ram_size, cg.amask)
        text = cg.val(o)
        inner = cg.unwrapped(o, text, top, ip)
        a = cg.atomic(text, "a", o) if inner is None else cg.atomic(inner, "a")
        end = [f"{a} > {top - size}"]
        c = o if type(o) is int else None
        if c is not None:           # a constant address: its end and alignment are known
            cg.ram_access(op, load, size, a, end if c > top - size else [], k, ip, aligned=c % size == 0,
                          invariant=True)
            return
        with cg.speculative(inner is not None):
            if load and size == 1 and top == cg.ram_size and end[0] not in cg.checked:
                # past the end of RAM (RAM is MM, from 0) the index raises
                return cg.load_byte_or_bail(op, a, k, ip, end[0])
            free = not load and self._windowed(cg, seg)
            if top & (top - 1) == 0 and size > 1:
                # a power of two: an aligned word ending in RAM has no bit set
                # outside top - size (the test of its alignment and its end at once)
                cg.ram_access(op, load, size, a, [], k, ip, misaligned_only=end, window=~(top - size),
                              code_free=free)
            else:
                cg.ram_access(op, load, size, a, end, k, ip, code_free=free)

    def _paged(self, cg, op, k, ip, load):
        """An access with paging on: the segment step as ConcreteOps does it,
        then the TLB."""
        seg, size = op.aux
        a = cg.atomic(cg.val(op.args[0]), "a", op.args[0])
        conds = []
        if self.long64:
            lin = f"(B{seg} + {a}) & {(1 << 64) - 1}" if seg >= 4 else a
        else:
            conds.append(f"{a} > L{seg}" if size == 1 else f"{a} + {size - 1} > L{seg}")
            lin = f"(B{seg} + {a}) & {self.lin_mask}"
        lv, e, p = cg.new_local("l"), cg.new_local("e"), cg.new_local("p")
        right = 1 << ((self.user << 2) | ((not load) << 1))
        conds.append(f"({e} := TLB.get(({lv} := {lin}) >> 12)) is None")
        conds.append(f"not {e}[1] & {right}")
        if size > 1:
            conds.append(f"({lv} & 4095) > {4096 - size}")
        conds.append(f"({p} := {e}[0] | ({lv} & 4095)) > {cg.ram_size - size}")
        cg.ram_access(op, load, size, p, conds, k, ip)


FLAT = X86Memory()
EXACT = ("exact", "exact8")     # the fast modes of a segment whose limit is 0xFFFF


def _kind(mode: str) -> str:
    """"exact8", "exact", "wide" or "flat" (see :func:`fast_segment`)."""
    return mode.split("-", 1)[0]


def _no_code(mode: str) -> bool:
    """The segment's 64 KiB held no translated code (see :func:`fast_segment`)."""
    return mode.endswith("-nocode")


def _within_64k(o) -> bool:
    """The offset is known to fit 16 bits."""
    return o.bits is not None and o.bits <= 16 if isinstance(o, Temp) else 0 <= o <= 0xFFFF


def _within_32(o) -> bool:
    """The offset is known to be a 32-bit value (never negative)."""
    return o.bits is not None and o.bits <= 32 if isinstance(o, Temp) else 0 <= o <= 0xFFFFFFFF


def _ram_top(ram_size: int, amask: int) -> int:
    """The end of the RAM the address lines reach without wrapping."""
    return min(ram_size, amask + 1)


def mark_safe_loads(blocks, fast_segs) -> None:
    """Flag the loads :meth:`X86Memory._fast` will emit without any check
    (a byte, any size through a "wide" or "flat" segment, or at a constant
    offset the word does not cross the limit from): they cannot leave the
    block, so flag liveness need not keep the record for them."""
    for blk in blocks:
        for op in blk.ops:
            if op.name == "ld":
                mode = fast_segs.get(op.aux[0])
                size, off = op.aux[1], op.args[0]
                if mode is not None and _within_64k(off) \
                        and (size == 1 or _kind(mode) not in EXACT
                             or (type(off) is int and off <= 0x10000 - size)):
                    op.safe = True


def fast_segment(seg, ram_size: int, amask: int, code_map=None):
    """How a segment may use :meth:`X86Memory._fast` (and, "flat", also
    :meth:`X86Memory._flat`) now: "exact8", "exact", "wide", "flat" or None
    (see there); "exact8-nocode", "exact-nocode" and "wide-nocode" when
    RAM's ``code_map`` shows no translated code in its 64 KiB."""
    top = _ram_top(ram_size, amask)
    if seg.base + 0x10007 > top:
        return None
    if seg.fast_limit == 0xFFFF:
        mode = "exact" if seg.base & 7 else "exact8"
    elif seg.base == 0 and seg.fast_limit >= top - 1:
        return "flat"
    elif seg.fast_limit >= 0x10006:
        mode = "wide"
    else:
        return None
    if code_map is not None and not _holds_code(code_map, seg.base):
        mode += "-nocode"
    return mode


def _holds_code(code_map, base: int) -> bool:
    """Do the 64 KiB a 16-bit offset reaches from ``base`` hold translated
    code (RAM's ``code_map``: one byte per granule)?"""
    g = GRANULE_SHIFT
    return code_map.find(b"\1", base >> g, ((base + NOCODE_SPAN - 1) >> g) + 1) >= 0


def _segment_loads(ops):
    """The real-mode segment loads among ``ops`` (``X86IRBuilder.load_seg``)."""
    return (op for op in ops if op.name == "call_bail" and op.aux[0] == "load_seg_real")
