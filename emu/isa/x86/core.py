"""The x86 Core (:class:`emu.isa.core.Core`): decoding and stepping state
the interpreter and the translator share, and the x86 rules of the loop.

* code is fetched at CS.base + rIP (SDM Vol. 3A §3.4.2; in 64-bit mode the
  CS base is 0, §3.4.4) and decodes by (64-bit mode, CS.D) (Vol. 1 §3.6);
  decoded instructions are cached by linear address and dropped when the
  guest writes their page (:mod:`emu.memory` tracks code pages); with paging
  on, every change of the linear -> physical mapping (CR3 write, INVLPG,
  CR0/CR4/EFER) drops them all, and user-mode code has its own cache (U/S
  checks on fetch, Vol. 3A §4.6);
* faults and interrupts are delivered through the IVT/IDT
  (:mod:`.interrupts`); a fault while delivering a double fault is a triple
  fault, which shuts the machine down (Vol. 3A §6.15, interrupt 8);
* an external interrupt is taken at an instruction boundary with IF set
  (Vol. 3A §6.8.1), except right after STI, MOV SS or POP SS, which hold it
  back for one more instruction (the interrupt shadow, §6.8.3);
* HLT waits for an interrupt the CPU accepts (IF set; Vol. 2A, HLT);
* TF asks for attention at every boundary (the single-step trap, Vol. 3A
  §17.3.1.4 -- not delivered yet: attention only ends the shadow there);
* ``-d exits`` names the instruction by CS:IP in real and virtual-8086 mode.
"""

from __future__ import annotations

from ..core import Core
from ..ops import GuestException, IoPending
from . import flags as F
from .concrete import ConcreteOps
from .bind import Binder
from .decode import Decoder
from .interrupts import deliver, deliver_exception
from .semantics import REGISTRY
from .state import CR0_PE, CR0_PG, CS, EFER_LMA, SS
from ...exits import mark_source

#: instructions after which interrupts wait one more instruction (SDM 6.8.3)
SHADOW_OPENERS = frozenset(("STI", "MOV_TO_SEG", "POP_SEG"))


def missing_semantics(ops, insn):
    """Every decoded encoding without semantics lands here: #UD in the guest."""
    raise GuestException(6, None, f"no semantics for {insn.name} ({insn.rows.opcode}); see 'emu coverage'")


class X86Core(Core):
    """The x86 CPU as the interpreter and the translator step it.
    ``cs_base`` is ``fetch_base`` by its x86 name and ``code_key`` the
    decode mode (64-bit mode, default operand size), which the translator's
    block keys use."""

    trace_mask = F.TF

    def __init__(self, machine):
        super().__init__(machine)
        self.ops = ConcreteOps(self.s, machine.ram, machine.model, getattr(machine, "mmio", None))
        self.ops.on_mode_change = self.state_changed
        self.ops.on_cs_base = self._cs_base_changed
        self.ops.on_tlb_flush = self.flush
        # fast port I/O for every engine that steps through this core (the
        # interpreter, the translator's slow path): devices that allow it are
        # served without an exit -- UART polling need not end the run; the
        # accesses a device takes quietly cost one lookup and one call
        self.ops.io_inline = getattr(machine, "serve_port_inline", None)
        if self.ops.io_inline is not None:
            self.ops.io_reads = machine.quiet_port_reads
            self.ops.io_writes = machine.quiet_port_writes
        self.decoders = {}
        self.binder = Binder()          # the interpreter's bound semantics
        machine.ram.add_invalidation_listener(self.invalidate_page)
        self.state_changed()

    # -- code ---------------------------------------------------------------------
    def state_changed(self) -> None:
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
        self.fetch_base = self.cs_base = 0 if long64 else cs.base     # 64-bit mode: CS base is 0
        # paging: a new translator (and TLB) when CR0/CR3/CR4/EFER change it;
        # decoded instructions are cached by linear address, so every change
        # of the mapping (this, MOV CR3, INVLPG) flushes them (on_tlb_flush)
        self.ops.update_paging()
        self.code_key = key

    def _cs_base_changed(self, base: int) -> None:
        """A real-mode far transfer changed CS's base alone (its attributes,
        hence the decode mode and the caches, stay): :meth:`state_changed`'s
        ``fetch_base`` without the rest."""
        self.fetch_base = self.cs_base = base

    def _fetcher(self, ip: int):
        """A function reading instruction byte ``k`` at CS:IP+k, wrapping IP
        as the mode does (64 KiB in 16-bit code)."""
        read_lin = self.ops.read_lin
        base = self.cs_base
        if self.decoder.default_size == 2 and not self.decoder.long64:
            return lambda k: read_lin(base + ((ip + k) & 0xFFFF), 1, fetch=True)
        return lambda k: read_lin(base + ip + k, 1, fetch=True)

    def fetch_bytes(self, lin: int, ip: int, n: int = 15) -> bytes:
        """Up to ``n`` instruction bytes at CS:IP, wrapping IP as the mode does."""
        fetch = self._fetcher(ip)
        out = bytearray()
        for k in range(n):
            try:
                out.append(fetch(k))
            except (GuestException, IoPending):
                break
        return bytes(out)

    def decode_at(self, lin: int, ip: int):
        ops = self.ops
        saved = ops.io_pos
        insn = self.decoder.decode(self._fetcher(ip), ip)
        ops.io_pos = saved
        if insn.handler is None:
            insn.handler = missing_semantics
        insn.run = self.binder.bind(insn)
        # remember which physical pages hold it, so a write there drops it
        last = lin + insn.length - 1
        if ops.translate is None:
            self.remember_code(lin, lin & ops.amask, last & ops.amask, insn.length)
        else:
            self.remember_code(lin, ops.translate(lin, False, True), ops.translate(last, False, True),
                               insn.length)
        self.cache[lin] = insn
        return insn

    # -- guest events -------------------------------------------------------------
    def deliver_fault(self, exc, insn) -> None:
        deliver_exception(self.ops, exc, insn)

    def interrupts_enabled(self) -> bool:
        s = self.s
        return bool(s.fl & F.IF) and not s.inhibit_irq

    def deliver_interrupt(self, vector: int) -> None:
        """An external interrupt through the IVT/IDT.  If its delivery
        faults (the vector beyond the IVT/IDT limit, a bad gate), that fault
        is delivered in its place, as for any exception (SDM Vol. 3A §6.15:
        a second fault while delivering it makes a double fault, a third a
        triple fault, which ends the run)."""
        try:
            deliver(self.ops, vector, self.s.rip)
        except GuestException as e:
            deliver_exception(self.ops, e, None)

    def boundary_served(self) -> None:
        self.s.inhibit_irq = False

    def stays_halted(self, irq_line: bool) -> bool:
        s = self.s
        if not s.halted:
            return False
        if irq_line and s.fl & F.IF:
            s.halted = False
            return False
        return True

    def run_ended(self) -> None:
        """The interrupt shadow of STI / MOV SS / POP SS covers exactly the
        next instruction.  The loop ends it only at a boundary that needs
        attention (a per-instruction check would slow every step), so when a
        run ends the flag may be left over from an older instruction: keep
        it only if the last instruction retired opened it."""
        s = self.s
        if not s.inhibit_irq:
            return
        insn = self.ops.insn
        if (insn is None or s.rip != insn.next_ip or insn.name not in SHADOW_OPENERS
                or (insn.name != "STI" and insn.ops[0].n != SS)):
            s.inhibit_irq = False

    def mark_source(self, exits, lin: int) -> None:
        s = self.s
        real = not s.cr0 & CR0_PE or s.fl & F.VM
        mark_source(exits, lin, s.segs[CS].selector if real else None)
