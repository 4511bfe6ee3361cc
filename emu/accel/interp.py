"""The interpreter: fetch, decode, execute -- one instruction at a time.

This is the reference engine, the one a learner reads.  Each step:

1. fetch and decode at CS:IP -- decoded instructions are cached by linear
   address, and the cache entry is dropped when the guest writes its page
   (:mod:`emu.memory` tracks code pages); with paging on, every change of
   the linear -> physical mapping (CR3 write, INVLPG, CR0/CR4/EFER) drops
   them all, and user-mode code has its own cache (U/S checks on fetch);
2. set IP to the next instruction, then run the instruction's semantic
   function on :class:`ConcreteOps` -- a jump simply overwrites IP;
3. a guest exception restores IP to the faulting instruction and is
   delivered through the IVT/IDT; port and MMIO accesses, HLT, single-step
   and breakpoints end ``run()`` with an exit for the Machine.

REP string instructions execute one iteration per step (IP stays on the
instruction until the count runs out), exactly as the trap flag sees them,
and each iteration counts as one instruction, as in QEMU's icount.
"""

from __future__ import annotations

from .base import Accelerator
from ..exits import BudgetExit, DebugExit, HltExit, InternalErrorExit, ShutdownExit, mark_source
from ..isa.ops import GuestException, IoPending, Unsupported
from ..isa.x86 import flags as F
from ..isa.x86.concrete import ConcreteOps
from ..isa.x86.decode import Decoder
from ..isa.x86.interrupts import TripleFault, deliver, deliver_exception
from ..isa.x86.semantics import REGISTRY
from ..isa.x86.state import CR0_PE, CR0_PG, CS, EFER_LMA, SS

FOREVER = 1 << 62
#: instructions after which interrupts wait one more instruction (SDM 6.8.3)
SHADOW_OPENERS = frozenset(("STI", "MOV_TO_SEG", "POP_SEG"))


def missing_semantics(ops, insn):
    """Every decoded encoding without semantics lands here: #UD in the guest."""
    raise GuestException(6, None, f"no semantics for {insn.name} ({insn.rows.opcode}); see 'emu coverage'")


class X86Core:
    """Decoding and stepping state shared by the interpreter and the translator."""

    def __init__(self, machine):
        self.machine = machine
        self.s = machine.cpu
        self.ops = ConcreteOps(self.s, machine.ram, machine.model, getattr(machine, "mmio", None))
        self.ops.on_mode_change = self.mode_changed
        self.ops.on_tlb_flush = self.flush
        self.decoders = {}
        self.caches = {}
        self.page_index = {}
        machine.ram.add_invalidation_listener(self.invalidate_page)
        self.mode_changed()

    def mode_changed(self) -> None:
        s = self.s
        cs = s.segs[CS]
        long64 = bool(s.efer & EFER_LMA and cs.l)
        dsize = 4 if cs.db else 2
        key = (long64, dsize)
        dec = self.decoders.get(key)
        if dec is None:
            dec = self.decoders[key] = Decoder(self.machine.model.name, dsize, long64, REGISTRY)
        self.decoder = dec
        # with paging, user-mode fetches are checked against U/S: code decoded
        # at CPL 0 is not reused at CPL 3 (separate caches)
        user = bool(s.cr0 & CR0_PG) and s.cpl == 3
        self.cache = self.caches.setdefault(key + (user,), {})
        self.cs_base = 0 if long64 else cs.base     # 64-bit mode: CS base is 0 (SDM 3A §3.4.4)
        # paging: a new translator (and TLB) when CR0/CR3/CR4/EFER change it;
        # decoded instructions are cached by linear address, so every change
        # of the mapping (this, MOV CR3, INVLPG) flushes them (on_tlb_flush)
        self.ops.update_paging()
        self.code_key = key

    def invalidate_page(self, page: int) -> None:
        for cache, lin in self.page_index.pop(page, ()):
            cache.pop(lin, None)

    def flush(self) -> None:
        for c in self.caches.values():
            c.clear()
        self.page_index.clear()

    def fetch_bytes(self, lin: int, ip: int, n: int = 15) -> bytes:
        """Up to ``n`` instruction bytes at CS:IP, wrapping IP as the mode does."""
        ops = self.ops
        out = bytearray()
        wrap16 = self.decoder.default_size == 2 and not self.decoder.long64
        for k in range(n):
            off = ((ip + k) & 0xFFFF) if wrap16 else ip + k
            try:
                out.append(ops.read_lin(self.cs_base + off, 1, fetch=True))
            except (GuestException, IoPending):
                break
        return bytes(out)

    def decode_at(self, lin: int, ip: int):
        ops = self.ops
        wrap16 = self.decoder.default_size == 2 and not self.decoder.long64
        base = self.cs_base

        def fetch(k):
            off = ((ip + k) & 0xFFFF) if wrap16 else ip + k
            return ops.read_lin(base + off, 1, fetch=True)

        saved = ops.io_pos, len(ops.pending_exits)
        insn = self.decoder.decode(fetch, ip)
        ops.io_pos = saved[0]
        if insn.handler is None:
            insn.handler = missing_semantics
        # remember which physical pages hold it, so a write there drops it
        ram = self.machine.ram
        for a in {lin, lin + insn.length - 1}:
            pa = a & ops.amask if ops.translate is None else ops.translate(a, False, True)
            if ram.contains(pa):
                ram.mark_code(pa, 1)
                self.page_index.setdefault((pa - ram.base) >> 12, []).append((self.cache, lin))
        self.cache[lin] = insn
        return insn


class Interpreter(Accelerator):
    name = "interp"

    def __init__(self, machine):
        super().__init__(machine)
        self.core = X86Core(machine)
        self.queued = []
        self.irq_line = False        # the interrupt controller's INTR output
        self.irq_ack = None          # callable returning the vector (INTA cycle)
        self._resume_bp = None
        self._inflight = 0           # instructions of this run() not yet in icount (INTA)

    @Accelerator.on_interrupt.setter
    def on_interrupt(self, fn) -> None:
        self._on_interrupt = fn
        self.core.ops.trace_int = fn

    def icount_now(self) -> int:
        return self.icount + self._inflight

    def flush_code_cache(self) -> None:
        self.core.flush()

    def state_changed(self) -> None:
        self.core.mode_changed()

    def run(self, budget):
        return self.run_in_slices(self._run_slice, budget)

    def _run_slice(self, budget):
        ex = self._run(budget)
        if self.core.s.inhibit_irq:
            self._drop_stale_shadow()
        return ex

    def _drop_stale_shadow(self) -> None:
        """The interrupt shadow of STI / MOV SS / POP SS covers exactly the
        next instruction.  The loop consumes it in _attention only while an
        interrupt is pending (a per-instruction check would slow every
        step), so when a run ends the flag may be left over from an older
        instruction: keep it only if the last instruction retired opened it."""
        insn = self.core.ops.insn
        if (insn is None or self.core.s.rip != insn.next_ip or insn.name not in SHADOW_OPENERS
                or (insn.name != "STI" and insn.ops[0].n != SS)):
            self.core.s.inhibit_irq = False

    def _run(self, budget):
        if self.queued:
            return self.queued.pop(0)
        core = self.core
        ops = core.ops
        s = core.s
        if ops.pending_read is not None:
            ops.io_replay.append(ops.pending_read.data)
            ops.pending_read = None
        if s.halted:
            if self.irq_line and s.fl & F.IF:
                s.halted = False
            else:
                return HltExit()
        limit = FOREVER if budget is None else budget
        bps = self.breakpoints
        step = self.single_step
        resume_bp = self._resume_bp
        self._resume_bp = None
        n = 0
        pending = ops.pending_exits
        TF = F.TF
        try:
            while n < limit:
                if self.irq_line or s.fl & TF:
                    if self._attention(n):
                        break
                ip = s.rip
                lin = core.cs_base + ip
                if bps and lin in bps and lin != resume_bp:
                    self._resume_bp = lin
                    self.icount += n
                    return DebugExit("breakpoint", lin)
                resume_bp = None
                insn = core.cache.get(lin)
                if insn is None or insn.ip != ip:
                    try:
                        insn = core.decode_at(lin, ip)
                    except GuestException as e:
                        self._fault(e, None)
                        n += 1
                        continue
                s.rip = insn.next_ip
                ops.insn = insn
                try:
                    insn.handler(ops, insn)
                except GuestException as e:
                    del pending[:]
                    s.rip = ip
                    self._fault(e, insn)
                except IoPending:
                    del pending[:]
                    s.rip = ip
                    ops.io_pos = 0
                    self.icount += n
                    if self.machine.exit_pcs:
                        self._mark_source((ops.pending_read,), lin)
                    return ops.pending_read
                n += 1
                if ops.io_pos:
                    ops.io_pos = 0
                    del ops.io_replay[:]
                if pending:
                    if self.machine.exit_pcs:
                        self._mark_source(pending, lin)
                    ex = pending[0]
                    self.queued.extend(pending[1:])
                    del pending[:]
                    if step:
                        self.queued.append(DebugExit("step", core.cs_base + s.rip))
                    self.icount += n
                    return ex
                if step:
                    self.icount += n
                    return DebugExit("step", core.cs_base + s.rip)
        except TripleFault as tf:
            self.icount += n
            return ShutdownExit(tf.describe())
        except Unsupported as u:
            self.icount += n
            return InternalErrorExit("UNSUPPORTED", str(u), pc=core.cs_base + s.rip)
        self.icount += n
        if n >= limit:
            return BudgetExit("instructions")
        return self._attention_exit

    def _mark_source(self, exits, lin: int) -> None:
        """-d exits: the instruction at ``lin`` caused these exits."""
        s = self.core.s
        real = not s.cr0 & CR0_PE or s.fl & F.VM
        mark_source(exits, lin, s.segs[CS].selector if real else None)

    def _fault(self, e, insn):
        deliver_exception(self.core.ops, e, insn)

    def _attention(self, n) -> bool:
        """An interrupt is pending or TF is set.  An interrupt shadow (STI,
        MOV SS) is consumed here: it holds the interrupt back for this one
        boundary.  Returns True to leave run()."""
        s = self.core.s
        self._attention_exit = None
        if self.irq_line and s.fl & F.IF and not s.inhibit_irq and self.irq_ack is not None:
            self._inflight = n          # the INTA cycle may read the guest clock
            vector = self.irq_ack()
            self._inflight = 0
            if vector is not None:
                deliver(self.core.ops, vector, s.rip)
        s.inhibit_irq = False
        return False
