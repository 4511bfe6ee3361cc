"""``ConcreteOps`` for x86: the Ops interface computed on Python ints.

This object *is* the interpreter's CPU: semantic functions call it to read
and write registers and memory, record flags and branch.  It also runs
every helper the translator calls at run time.

Memory accesses go segment -> linear (SDM Vol. 3A §3.4) -> physical (paging,
when CR0.PG is set) -> RAM, or the MMIO bus through an exit.  Port and MMIO
accesses become exits (see :mod:`emu.exits`):

* a write is queued and handed to the Machine when the instruction retires;
* a read raises :class:`IoPending` before anything is committed; once the
  Machine has served it, the instruction is executed again and the read
  returns the served value.  Invariant relied on: semantics perform their
  reads before their register writes (the same rule that makes x86
  instructions restartable after a page fault).
"""

from __future__ import annotations

import struct

from . import flags as F
from .insn import IMM, MEM, REG, SEG
from .interrupts import deliver
from .models import CpuModel
from .protected import check_io, install_segment, io_unchecked, load_segment, segment_to_load
from .state import CS, SS, X86State, CR0_PE, Segment, within_limit
from .string_fast import plain_run, rep_compare_translated, rep_move_translated
from ..ops import GuestException, IoPending
from ...exits import HltExit, IoExit, MmioExit
from ...quiet import DECLINE_ALL

_S = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}
_U8, _U16, _U32, _U64 = (_S[1].unpack_from, _S[2].unpack_from, _S[4].unpack_from, _S[8].unpack_from)
_UNPACK = {1: _U8, 2: _U16, 4: _U32, 8: _U64}
_PACK = {k: v.pack_into for k, v in _S.items()}
MASK = F.MASK


_CONDS, _CARRY, _compute, _aux = F.CONDS, F.CARRY, F.compute, F.aux
_CF_OF = F.CF | F.OF


class ConcreteOps:
    """x86 operations on concrete values, over one X86State and one RAM.

    Its attributes are declared (``__slots__``): every semantic function
    reads several of them per instruction, and a slot is read at one cost
    however many there are -- CPython's per-instance dictionary leaves its
    fast attribute path from its 30th key on (this object has ~30), which
    made every instruction of the interpreter ~10% slower."""

    __slots__ = ("s", "r", "segs", "model", "ram", "mm", "ram_size", "code_map", "code_bytes",
                 "mmio", "amask", "pending_exits", "io_replay", "io_pos", "pending_read", "insn",
                 "halted", "on_mode_change", "on_cs_base", "flat64", "translate", "plain",
                 "paging_key", "implicit_sv", "on_tlb_flush", "trace_int", "rep_budget",
                 "io_inline", "io_reads", "io_writes", "rep_extra")

    def __init__(self, state: X86State, ram, model: CpuModel, mmio=None):
        self.s = state
        self.r = state.regs
        self.segs = state.segs
        self.model = model
        self.ram = ram
        self.mm = ram.mm
        self.ram_size = ram.size
        self.code_map = ram.code_map        # 64-byte code granules (see emu.memory)
        self.code_bytes = ram.code_bytes    # and the code bytes in them
        self.mmio = mmio                 # Bus or None; only used to know what is mapped
        self.amask = model.addr_mask
        self.pending_exits = []          # writes to hand to the Machine after this insn
        self.io_replay = []              # served reads, in order, for the re-executed insn
        self.io_pos = 0
        self.pending_read = None         # the read exit the Machine is serving
        self.insn = None                 # the instruction being executed
        self.halted = False
        self.on_mode_change = None       # callback: CS/CR0/EFER changed
        self.on_cs_base = None           # callback(base): only CS's base changed (real mode)
        self.flat64 = False              # 64-bit mode: CS/DS/ES/SS bases count as 0
        self.translate = None            # paging: linear -> physical (set when CR0.PG)
        #: no paging and not 64-bit mode: a segment's base plus the offset is
        #: the physical address (the fast path of load/store)
        self.plain = True
        self.paging_key = None           # what self.translate was built for
        self.implicit_sv = False         # descriptor/IDT/TSS accesses: supervisor even at CPL 3
        self.on_tlb_flush = None         # callback: the linear -> physical mapping may have changed
        self.trace_int = None            # -d int: called for every delivered interrupt
        self.rep_budget = 1              # iterations a REP may run in one call (the engine sets it)
        #: fast port I/O (the translator sets it): fn(IoExit) serving the access
        #: at once and returning the exits still to hand back after the
        #: instruction, or None -- not served, exit as usual
        #: (:meth:`emu.machine.Machine.serve_port_inline`)
        self.io_inline = None
        #: quiet port I/O (the core sets the machine's): port -> serve(size,
        #: value), the value read (0 for a write), or -1: not served
        #: (:meth:`emu.machine.Machine._quiet_server`); these decline all
        self.io_reads = DECLINE_ALL
        self.io_writes = DECLINE_ALL
        self.rep_extra = 0               # iterations run beyond the first (the engine counts them)

    # -- registers -------------------------------------------------------------------
    def read(self, o):
        k = o.kind
        if k == REG:
            return (self.r[o.n] >> o.shift) & o.mask
        if k == IMM:
            return o.value
        if k == MEM:
            a = o.disp                      # self.ea(o) and load(), inline: the hot path
            if o.base >= 0:
                a += self.r[o.base]
            if o.index >= 0:
                a += self.r[o.index] * o.scale
            a &= o.amask
            size = o.size
            sg = self.segs[o.seg]
            if self.plain and a + size <= sg.fast_limit + 1:
                pa = (sg.base + a) & self.amask
                if pa + size <= self.ram_size:
                    return self.mm[pa] if size == 1 else _UNPACK[size](self.mm, pa)[0]
            return self.load(o.seg, a, size)
        if k == SEG:
            return self.segs[o.n].selector
        raise GuestException(6, None, f"cannot read operand {o!r}")

    def write(self, o, v):
        k = o.kind
        if k == REG:
            r = self.r
            n = o.n
            r[n] = (r[n] & o.keep) | ((v & o.mask) << o.shift)
        elif k == MEM:
            a = o.disp                      # self.ea(o), inline
            if o.base >= 0:
                a += self.r[o.base]
            if o.index >= 0:
                a += self.r[o.index] * o.scale
            self.store(o.seg, a & o.amask, o.size, v)
        elif k == SEG:
            self.load_seg(o.n, v)
        else:
            raise GuestException(6, None, f"cannot write operand {o!r}")

    def get_reg(self, n: int, size: int) -> int:
        return self.r[n] & MASK[size]

    def set_reg(self, n: int, size: int, v: int) -> None:
        r = self.r
        if size >= 4:
            r[n] = v & MASK[size]
        else:
            m = MASK[size]
            r[n] = (r[n] & ~m) | (v & m)

    def ea(self, o) -> int:
        a = o.disp
        if o.base >= 0:
            a += self.r[o.base]
        if o.index >= 0:
            a += self.r[o.index] * o.scale
        return a & o.amask

    def select(self, c, a, b):
        return a if c else b

    # -- segments --------------------------------------------------------------------
    def get_seg(self, n: int) -> int:
        return self.segs[n].selector

    def seg_base(self, n: int) -> int:
        """The base an access through segment ``n`` adds: in 64-bit mode only
        FS and GS have one (SDM Vol. 3A §3.4.4); the hidden bases of the
        others are kept for compatibility mode, just not used."""
        return 0 if self.flat64 and n < 4 else self.segs[n].base

    def load_seg(self, n: int, sel: int) -> None:
        """MOV/POP/LxS to a segment register (SDM Vol. 3A §3.4.3; real mode: base = sel*16)."""
        s = self.s
        if s.cr0 & CR0_PE and not s.fl & F.VM:
            load_segment(self, n, sel)
        else:
            seg = self.segs[n]
            seg.selector = sel & 0xFFFF
            seg.base = (sel & 0xFFFF) << 4
            if n == CS:
                seg.type = 11
                seg.s = 1
                seg.present = 1
                seg.dpl = 0
                seg.db = 0
                seg.l = 0
        if n == SS:
            s.inhibit_irq = True
        elif n == CS and self.on_mode_change is not None:
            self.on_mode_change()

    def load_seg_real(self, n: int, sel: int) -> int:
        """A real-mode load of ES, DS, FS or GS from translated code
        (``X86IRBuilder.load_seg``; the block key says real mode): 0 once
        done, -1 -- nothing done, the interpreter runs the instruction --
        where :meth:`load_seg` would do more (protected or virtual-8086
        mode, CS, SS)."""
        if self.s.cr0 & CR0_PE or n == CS or n == SS:
            return -1
        seg = self.segs[n]
        seg.selector = sel & 0xFFFF
        seg.base = (sel & 0xFFFF) << 4
        return 0

    def load_seg_prot(self, n: int, sel: int) -> int:
        """A protected-mode load of ES, DS, FS or GS from translated code
        (``X86IRBuilder.load_seg``): 0 once done; -1 -- nothing done, the
        interpreter runs the instruction -- where it faults (the checks of
        :func:`segment_to_load`: the interpreter raises the same #GP, #NP or
        #PF), where the descriptor's accessed bit is still to be set (a
        write into guest memory, which may hold translated code), and
        outside protected mode or for CS or SS."""
        s = self.s
        if not s.cr0 & CR0_PE or s.fl & F.VM or n == CS or n == SS:
            return -1
        try:
            seg, hi = segment_to_load(self, n, sel)
        except GuestException:
            return -1
        if hi is not None and not hi & 0x100:
            return -1
        install_segment(self, n, seg)
        return 0

    def load_cs_real(self, sel: int) -> int:
        """A real-mode far transfer's CS load (:meth:`load_seg`), also from
        translated code (``X86IRBuilder.far_jump``, the block key says real
        mode): 0 once done, -1 -- nothing done -- outside real mode."""
        if self.s.cr0 & CR0_PE:
            return -1
        cs = self.segs[CS]
        if (self.on_cs_base is not None and cs.type == 11 and cs.s == 1 and cs.present == 1
                and cs.dpl == 0 and cs.db == 0 and cs.l == 0):
            # the attributes load_seg sets are there already: the decode
            # mode stays, only the base changes (no mode change to report)
            cs.selector = sel & 0xFFFF
            cs.base = (sel & 0xFFFF) << 4
            self.on_cs_base(cs.base)
            return 0
        self.load_seg(CS, sel)
        return 0

    def real_mode(self) -> bool:
        """CR0.PE is clear: segments are selector * 16, no descriptor, no
        privilege check (SDM Vol. 3A §20.1)."""
        return not self.s.cr0 & CR0_PE

    def check_iopl(self, what: str) -> None:
        """#GP(0) for an IOPL-sensitive instruction (CLI, STI) at CPL > IOPL
        in protected mode (SDM Vol. 3A §18.3)."""
        s = self.s
        if s.cr0 & CR0_PE:
            iopl = (s.fl >> 12) & 3
            if s.cpl > iopl:
                self.raise_exc(13, 0, f"{what} at CPL {s.cpl} > IOPL {iopl}")

    def iopl_allows(self) -> int:
        """:meth:`check_iopl` from translated code: 0 when it passes, -1
        when it would raise (the interpreter runs the instruction)."""
        s = self.s
        return -1 if s.cr0 & CR0_PE and s.cpl > (s.fl >> 12) & 3 else 0

    def inhibit_irq_if(self, cond) -> int:
        """STI's interrupt shadow: when ``cond``, no interrupt is taken
        before the next instruction has run; 0 (a ``call_bail`` that never
        declines)."""
        if cond:
            self.s.inhibit_irq = True
        return 0

    def popf_mask(self, mask: int) -> int:
        """The flags POPF may change of ``mask``: in protected mode (not
        virtual-8086) IOPL only at CPL 0, IF only at CPL <= IOPL (SDM Vol.
        2B "POPF")."""
        s = self.s
        if s.cr0 & CR0_PE and not s.fl & F.VM:
            cpl = s.cpl
            if cpl > 0:
                mask &= ~F.IOPL
            if cpl > (s.fl >> 12) & 3:
                mask &= ~F.IF
        return mask

    def software_interrupt(self, vector: int, return_ip: int) -> None:
        """INT n: :func:`emu.isa.x86.interrupts.deliver` (soft)."""
        deliver(self, vector, return_ip, soft=True)

    def ivt_entry(self, vector: int) -> int:
        """The real-mode interrupt vector ``vector`` (IP | CS << 16, SDM Vol.
        3A §20.1.4) for translated code (``X86IRBuilder.software_interrupt``),
        or -1 -- the interpreter delivers it -- when it is beyond the IVT's
        limit, not in RAM, or ``-d int`` traces interrupts."""
        s = self.s
        base = s.idt_base + vector * 4
        if (self.trace_int is not None or s.cr0 & CR0_PE or vector * 4 + 3 > s.idt_limit
                or ((base + 3) & self.amask) >= self.ram_size):
            return -1
        return self.read_lin(base, 2) | self.read_lin(base + 2, 2) << 16

    # -- memory ----------------------------------------------------------------------
    def load(self, seg: int, off: int, size: int) -> int:
        sg = self.segs[seg]
        if off + size - 1 > sg.fast_limit:
            return self._limit_load(seg, off, size)
        if self.plain:
            pa = (sg.base + off) & self.amask
            if pa + size <= self.ram_size:
                return self.mm[pa] if size == 1 else _UNPACK[size](self.mm, pa)[0]
            return self.read_lin(sg.base + off, size)
        lin = off if self.flat64 and seg < 4 else sg.base + off
        if self.translate is None:
            pa = lin & self.amask
            if pa + size <= self.ram_size:
                return _UNPACK[size](self.mm, pa)[0]
        return self.read_lin(lin, size)

    def store(self, seg: int, off: int, size: int, v: int) -> None:
        sg = self.segs[seg]
        if off + size - 1 > sg.fast_limit:
            return self._limit_store(seg, off, size, v)
        lin = off if self.flat64 and seg < 4 else sg.base + off
        if self.translate is None:
            pa = lin & self.amask
            if pa + size <= self.ram_size:
                if size == 1:
                    self.mm[pa] = v & 0xFF
                else:
                    _PACK[size](self.mm, pa, v & MASK[size])
                cm = self.code_map
                if cm[pa >> 6] or cm[(pa + size - 1) >> 6]:
                    self._stored_near_code(pa, size)
                return
        self.write_lin(lin, size, v)

    def _stored_near_code(self, pa: int, size: int) -> None:
        """A store to RAM [pa, pa+size) touched a 64-byte granule that holds
        code (the cheap first test of the store path): drop the code only
        if it wrote a code byte itself -- data next to code is common in
        small guests, so the byte test indexes ``code_bytes`` at once."""
        cb = self.code_bytes
        if cb[pa] or cb[pa + size - 1] or (size > 2 and cb.find(b"\1", pa, pa + size) >= 0):
            self.rep_budget = 0         # a REP that rewrote code ahead re-decodes it
            self.ram.invalidate_range(pa, size)

    def _long64_lin(self, seg, off):
        """64-bit mode: no limit checks, and only FS/GS have a base (SDM Vol. 3A
        §5.3.1, §3.4.4); None outside 64-bit mode."""
        if self.s.efer & 0x400 and self.segs[CS].l:
            return ((self.segs[seg].base if seg >= 4 else 0) + off) & 0xFFFFFFFFFFFFFFFF
        return None

    def _limit_load(self, seg, off, size):
        """A load beyond the segment's ``fast_limit``: 64-bit mode (no
        limit), an expand-down segment (valid above its limit:
        :func:`within_limit`), the 8086's wrap, or a #GP/#SS."""
        lin = self._long64_lin(seg, off)
        if lin is not None:
            return self.read_lin(lin, size)
        sg = self.segs[seg]
        if sg.fast_limit < 0 and within_limit(sg, off, size):
            return self.read_lin((sg.base + off) & 0xFFFFFFFF, size)
        if self.model.seg_wrap:
            # 8086: the bytes wrap around within the 64 KiB segment
            v = 0
            for i in range(size):
                v |= self.load(seg, (off + i) & 0xFFFF, 1) << (8 * i)
            return v
        raise GuestException(self._limit_vector(seg), 0, f"offset 0x{off:x} beyond the segment limit")

    def _limit_vector(self, seg: int) -> int:
        """#SS for SS-relative accesses, #GP otherwise -- except that the 286 in
        real mode reports every limit violation as #GP (SingleStepTests 80286)."""
        if seg == SS and not (self.model.real_limit_gp and not self.s.cr0 & CR0_PE):
            return 12
        return 13

    def _limit_store(self, seg, off, size, v):
        """:meth:`_limit_load` for a store."""
        lin = self._long64_lin(seg, off)
        if lin is not None:
            return self.write_lin(lin, size, v)
        sg = self.segs[seg]
        if sg.fast_limit < 0 and within_limit(sg, off, size):
            return self.write_lin((sg.base + off) & 0xFFFFFFFF, size, v)
        if self.model.seg_wrap:
            for i in range(size):
                self.store(seg, (off + i) & 0xFFFF, 1, (v >> (8 * i)) & 0xFF)
            return
        raise GuestException(self._limit_vector(seg), 0, f"offset 0x{off:x} beyond the segment limit")

    def read_lin(self, lin: int, size: int, fetch: bool = False, direct: bool = False) -> int:
        """Read at a linear address (paging and page-crossing handled).
        ``fetch``: an instruction fetch; it and ``direct`` (the processor's
        own reads of descriptor tables) read outside RAM without an exit
        (:meth:`read_phys`)."""
        direct = direct or fetch
        if self.translate is not None:
            if (lin & 0xFFF) + size > 0x1000:
                v = 0
                for i in range(size):
                    v |= self.read_phys(self.translate(lin + i, False, fetch), 1, direct) << (8 * i)
                return v
            return self.read_phys(self.translate(lin, False, fetch), size, direct)
        pa = lin & self.amask
        if ((pa + size - 1) & self.amask) != pa + size - 1:
            v = 0
            for i in range(size):
                v |= self.read_phys((lin + i) & self.amask, 1, direct) << (8 * i)
            return v
        return self.read_phys(pa, size, direct)

    def write_lin(self, lin: int, size: int, v: int) -> None:
        if self.translate is not None:
            if (lin & 0xFFF) + size > 0x1000:
                pas = [self.translate(lin + i, True, False) for i in range(size)]
                for i, pa in enumerate(pas):
                    self.write_phys(pa, 1, (v >> (8 * i)) & 0xFF)
                return
            return self.write_phys(self.translate(lin, True, False), size, v)
        pa = lin & self.amask
        if ((pa + size - 1) & self.amask) != pa + size - 1:
            for i in range(size):
                self.write_phys((lin + i) & self.amask, 1, (v >> (8 * i)) & 0xFF)
            return
        self.write_phys(pa, size, v)

    def read_phys(self, pa: int, size: int, direct: bool = False) -> int:
        """A physical read: RAM, else an MMIO exit.  ``direct`` (instruction
        fetches, page-table walks, descriptor-table reads): outside RAM the
        bus is read at once -- unassigned memory reads all ones, as for data
        -- because those reads, unlike an instruction's data read, cannot be
        restarted after an exit."""
        if pa + size <= self.ram_size:
            return _UNPACK[size](self.mm, pa)[0]
        if pa < self.ram_size:      # straddles the end of RAM
            v = 0
            for i in range(size):
                v |= self.read_phys(pa + i, 1, direct) << (8 * i)
            return v
        if direct:
            return MASK[size] if self.mmio is None else self.mmio.read(pa, size)
        return self._io_read(MmioExit(pa, size, False))

    def write_phys(self, pa: int, size: int, v: int) -> None:
        v &= MASK[size]
        if pa + size <= self.ram_size:
            _PACK[size](self.mm, pa, v)
            cm = self.code_map
            if cm[pa >> 6] or cm[(pa + size - 1) >> 6]:
                self._stored_near_code(pa, size)
            return
        if pa < self.ram_size:
            for i in range(size):
                self.write_phys(pa + i, 1, (v >> (8 * i)) & 0xFF)
            return
        self.pending_exits.append(MmioExit(pa, size, True, v))

    # -- stack ------------------------------------------------------------------------
    def push(self, v: int, size: int) -> None:
        ss = self.segs[SS]
        r = self.r
        if self.flat64:         # 64-bit mode: SS base/limit ignored
            sp = (r[4] - size) & 0xFFFFFFFFFFFFFFFF
            self.write_lin(sp, size, v)
            r[4] = sp
        elif ss.db:
            sp = (r[4] - size) & 0xFFFFFFFF
            self.store(SS, sp, size, v)
            r[4] = sp
        else:
            sp = (r[4] - size) & 0xFFFF
            self.store(SS, sp, size, v)
            r[4] = (r[4] & ~0xFFFF) | sp

    def pop(self, size: int) -> int:
        """Read the top of stack and advance SP (reads before the write, so a
        fault leaves SP unchanged)."""
        ss = self.segs[SS]
        r = self.r
        if self.flat64:
            sp = r[4]
            v = self.read_lin(sp, size)
            r[4] = (sp + size) & 0xFFFFFFFFFFFFFFFF
        elif ss.db:
            sp = r[4] & 0xFFFFFFFF
            v = self.load(SS, sp, size)
            r[4] = (sp + size) & 0xFFFFFFFF
        else:
            sp = r[4] & 0xFFFF
            v = self.load(SS, sp, size)
            r[4] = (r[4] & ~0xFFFF) | ((sp + size) & 0xFFFF)
        return v

    def stack_size(self) -> int:
        if self.s.efer & 0x400 and self.segs[CS].l:
            return 8
        return 4 if self.segs[SS].db else 2

    # -- flags ------------------------------------------------------------------------
    def set_cc(self, op: int, res: int, a: int, b: int, size: int) -> None:
        s = self.s
        s.cc_op = op
        s.cc_res = res
        s.cc_a = a
        s.cc_b = b
        s.cc_size = size

    def set_cc_if(self, cond, op: int, res: int, a: int, b: int, size: int) -> None:
        """set_cc when ``cond``; else the record in force stays (a shift by
        a count of 0)."""
        if cond:
            self.set_cc(op, res, a, b, size)

    def cond(self, cc: int) -> bool:
        s = self.s
        return _CONDS[s.cc_op << 4 | cc](s.cc_res, s.cc_a, s.cc_b, s.cc_size, s.fl)

    def get_cf(self) -> int:
        s = self.s
        return _CARRY[s.cc_op](s.cc_res, s.cc_a, s.cc_b, s.fl)

    def get_flags(self) -> int:
        s = self.s
        op = s.cc_op
        if op == F.CC_EFLAGS:
            return s.fl
        return (s.fl & ~F.ARITH) | _compute(op, s.cc_res, s.cc_a, s.cc_b, s.cc_size, s.fl)

    def get_df(self) -> int:
        """DF alone (as its RFLAGS bit): never part of the lazy record."""
        return self.s.fl & F.DF

    def set_flags(self, value: int, mask: int) -> None:
        """Write the RFLAGS bits in ``mask`` (makes the flags explicit) --
        except bits outside the arithmetic flags alone (fl's, the lazy record
        kept), and CF and OF alone (rotates; MUL where the other flags are kept)
        over a lazy record: that stays lazy, as the ``CC_RES`` record of the
        same result with the new CF and OF and the record's AF."""
        s = self.s
        op = s.cc_op
        cur = s.fl
        if op != F.CC_EFLAGS:
            if not mask & F.ARITH:
                # no arithmetic flag (CLD, STD, CLI, STI): the record stays
                # (its flags read no other bit of fl)
                s.fl = (cur & ~mask) | (value & mask) | F.FIXED1
                return
            if mask == _CF_OF:
                s.cc_a = (value & F.CF) | ((value >> 10) & 2) | _aux(op, s.cc_res, s.cc_a, s.cc_b)
                s.cc_b = 0
                s.cc_op = F.CC_RES
                return
            cur = (cur & ~F.ARITH) | _compute(op, s.cc_res, s.cc_a, s.cc_b, s.cc_size, cur)
            s.cc_op = F.CC_EFLAGS
        s.fl = (cur & ~mask) | (value & mask) | F.FIXED1

    def flags_before_inc(self) -> None:
        """INC/DEC keep CF: fold the current CF into ``fl`` before recording."""
        s = self.s
        op = s.cc_op
        # EFLAGS, INC and DEC records already hold CF in fl
        if op != F.CC_EFLAGS and op != F.CC_INC and op != F.CC_DEC:
            s.fl = (s.fl & ~F.CF) | _CARRY[op](s.cc_res, s.cc_a, s.cc_b, s.fl)

    # -- repetition --------------------------------------------------------------------
    def repeat_more(self) -> bool:
        """A REP iteration is done and more remain: may the next one run in
        this same call?  Yes while the engine's ``rep_budget`` lasts and the
        iteration left nothing the engine must act on first -- an exit to
        hand to the Machine, a served read to forget, a write to code (which
        may have changed the instruction itself: it is decoded again).  A
        yes counts the next iteration in ``rep_extra``."""
        if self.rep_budget > 1 and not self.pending_exits and not self.io_pos:
            self.rep_budget -= 1
            self.rep_extra += 1
            return True
        return False

    #: translated code's REP string instructions, all their iterations at once
    #: (``call_bail`` of :meth:`emu.isa.x86.ir_front.X86IRBuilder.rep_string`)
    rep_move_translated = rep_move_translated
    rep_compare_translated = rep_compare_translated

    def string_bulk(self, i) -> int:
        """REP MOVS/STOS/LODS ``i``, its count nonzero: run as many iterations
        as ``repeat_more`` would allow in this call at once, when they all
        take the plain-RAM path (:func:`emu.isa.x86.string_fast.plain_run`),
        counting those beyond the first in ``rep_extra``.  Returns the
        iterations run, or 0: nothing done, run them one by one."""
        budget = self.rep_budget
        if budget <= 1 or not self.plain or self.pending_exits or self.io_pos:
            return 0
        count = self.r[1] & MASK[i.asize]
        n = count if count < budget else budget
        if not plain_run(self.s, self.ram, self.amask, i, n):
            return 0
        self.rep_budget = budget - (n - 1)
        self.rep_extra += n - 1
        return n

    # -- control ---------------------------------------------------------------------
    def jump(self, ip: int) -> None:
        self.s.rip = ip

    def branch(self, c, target: int) -> None:
        if c:
            self.s.rip = target

    def far_jump(self, sel: int, ip: int) -> None:
        """CS:IP = sel:ip (real mode: :meth:`load_cs_real`, which reports no
        mode change where CS's attributes stay; elsewhere :meth:`load_seg`)."""
        if self.load_cs_real(sel) < 0:
            self.load_seg(CS, sel)
        self.s.rip = ip

    def raise_exc(self, vector: int, code: int | None = None, detail: str = "") -> None:
        raise GuestException(vector, code, detail)

    def divide_error_if(self, cond, detail: str) -> None:
        """#DE (vector 0) when ``cond``: DIV and IDIV (SDM Vol. 2A "DIV")."""
        if cond:
            raise GuestException(0, None, detail)

    def halt(self) -> None:
        """HLT: the instruction retires, then the engine reports a HLT exit."""
        self.s.halted = True
        self.pending_exits.append(HltExit())

    # -- port I/O ----------------------------------------------------------------------
    def port_in(self, port: int, size: int) -> int:
        check_io(self, port, size)
        port &= 0xFFFF
        if self.io_inline is not None and self.io_pos >= len(self.io_replay):
            v = self.io_reads[port](size, 0)
            if v >= 0:
                return v
            ex = IoExit(port, size, False)
            back = self.io_inline(ex)
            if back is not None:
                self.pending_exits.extend(back)
                return ex.data & MASK[size]
            return self._io_read(ex)
        return self._io_read(IoExit(port, size, False))

    def port_out(self, port: int, size: int, v: int) -> None:
        check_io(self, port, size)
        port &= 0xFFFF
        v &= MASK[size]
        if self.io_inline is not None:
            if self.io_writes[port](size, v) >= 0:
                return
            ex = IoExit(port, size, True, v)
            back = self.io_inline(ex)
            self.pending_exits.extend((ex,) if back is None else back)
            return
        self.pending_exits.append(IoExit(port, size, True, v))

    def port_in_translated(self, port: int, size: int) -> int:
        """IN from translated code (``X86IRBuilder.port_in``): the value, or
        -1 when the access was not served (the engine does not serve port
        I/O inline, a permission check is due, or the machine or the device
        wants a real exit): nothing happened, the interpreter runs the
        instruction."""
        if not io_unchecked(self.s):
            return -1
        return self.io_reads[port & 0xFFFF](size, 0)

    def port_out_translated(self, port: int, size: int, v: int) -> int:
        """OUT from translated code: 0, or -1 as :meth:`port_in_translated`."""
        if not io_unchecked(self.s):
            return -1
        return self.io_writes[port & 0xFFFF](size, v & MASK[size])

    def port_in_real(self, port: int, size: int) -> int:
        """:meth:`port_in_translated` from a block translated for real mode
        (its key says so), where IN and OUT are never refused."""
        return self.io_reads[port & 0xFFFF](size, 0)

    def port_out_real(self, port: int, size: int, v: int) -> int:
        """:meth:`port_out_translated` from a block translated for real mode."""
        return self.io_writes[port & 0xFFFF](size, v & MASK[size])

    def _io_read(self, ex):
        pos = self.io_pos
        if pos < len(self.io_replay):
            self.io_pos = pos + 1
            return self.io_replay[pos] & MASK[ex.size]
        self.pending_read = ex
        raise IoPending()

    def mode64(self) -> bool:
        return bool(self.s.efer & 0x400 and self.segs[CS].l)

    def mode_changed(self) -> None:
        """CR0/CR4/EFER/CS changed: the engine re-derives decode mode and paging."""
        if self.on_mode_change is not None:
            self.on_mode_change()
        else:
            self.update_paging()

    # -- paging (emu.isa.x86.paging) ------------------------------------------------------
    def update_paging(self) -> bool:
        """Rebuild ``translate`` if CR0.PG/WP, CR3, CR4 or EFER changed it.
        Returns True when it did (and the mapping may have changed)."""
        from .paging import make_translator, paging_key
        self.flat64 = bool(self.s.efer & 0x400 and self.segs[CS].l)
        key = paging_key(self.s)
        if key == self.paging_key:
            self.plain = self.translate is None and not self.flat64
            return False
        self.paging_key = key
        self.translate = None if key is None else make_translator(self)
        self.plain = self.translate is None and not self.flat64
        if self.on_tlb_flush is not None:
            self.on_tlb_flush()
        return True

    def flush_tlb(self, lin: int | None = None) -> None:
        """MOV CR3 (everything) or INVLPG (one page): forget cached translations
        (SDM Vol. 3A §4.10.4.1), and decoded code keyed by linear address."""
        t = self.translate
        if t is not None:
            if lin is None:
                t.flush()
            else:
                t.invalidate(lin)
        if self.on_tlb_flush is not None:
            self.on_tlb_flush()

    # -- helpers ------------------------------------------------------------------------
    def call(self, fn, insn):
        """Run a helper semantic function (here: at once)."""
        return fn(self, insn)
