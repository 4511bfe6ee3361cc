"""A32's description for the IR: register globals, the flags, pure helpers, memory hooks.

What :mod:`emu.ir` asks of a target (:class:`emu.ir.frontend.IRTarget`),
filled in for A32 (ARM DDI 0406C):

* globals: r0-r15 of ``ArmState.r`` by number (A2.3, B1.3.2: the state
  keeps the current mode's bank there, so translated code never sees
  banking); r15 is read as a translation-time constant (the instruction's
  address + 8) and written only by exits (``S.pc``);
* the flags are **eager**: a flag-setting instruction computes the whole
  CPSR (``fl``, the CPSR word: N Z C V in bits 31-28, B1.3.3) as an
  expression.  The code generator sinks that expression into the exits
  and materialises it only where it is read, and a condition checked in
  the block that set the flags is computed from the operands themselves
  (``CMP a, b; BNE`` is ``a != b``), so the record has no other field
  (``FLAG_RECORD.fields``).  Between the sections of a region the word is
  *carried*: a jump to another section copies the locals its expression
  reads (a comparison's operands) instead of computing it, and the word
  is computed only where it is read -- an exit, a bail, a condition
  (``FlagRecord.carried``).  The CPSR's other bits are a constant of the
  block (its key holds them; see :mod:`.ir_front`);
* pure helpers: ``shift_c``, a register-specified shift with its carry
  (A8.4.3 Shift_C), packed as ``result | carry << 32``;
* memory: one flat, little-endian physical space (no MMU), RAM from the
  board's base (:class:`ArmMemory`).  Space 1 is the same memory for an
  access that must be aligned to be translated (ARMv4's rotating LDR and
  LDRH, DDI 0100I A4.1.23): a misaligned one bails and the interpreter
  runs it.  An aligned word is read and written through RAM's typed views
  (``W4[p >> 2]``), its alignment and, RAM's size being a power of two,
  the end of RAM tested at once; any other word after the full checks.
  Space 2 is the same memory again for the words of the stack (an access
  whose base is SP) and those an ``LDM`` loads (A8.8.58; ``POP``,
  A8.8.131): the words of one are a run of loads tested once
  (:func:`emu.ir.codegen.load_runs`; a misaligned run bails), and a region
  that loops stores to the stack through its code-free window
  (:class:`emu.ir.codegen.CodeFreeWindow`: one test in place of the end
  of RAM, the alignment and the code map).
"""

from __future__ import annotations

from ...ir.frontend import FlagRecord, IRTarget, MemoryAccess
from .semantics import shift_reg
from .state import REG_NAMES

M32 = 0xFFFFFFFF
RAM, RAM_ALIGNED, RAM_STACK = 0, 1, 2


def shift_c(value: int, stype: int, amount: int, carry: int) -> int:
    """A register-specified shift of ``value`` (A8.4.3): result | carry << 32."""
    r, c = shift_reg(value, stype, amount & 0xFF, carry)
    return r | c << 32


PURE_CALLS = {"shift_c": (shift_c, 33)}

FLAG_RECORD = FlagRecord(
    state_names={"fl": "cpsr"}, cf_mask=1 << 29, cf_hidden=(), record_uses={}, carry_exprs={},
    fields=("fl",), carried="fl")


class ArmMemory(MemoryAccess):
    """Loads and stores of RAM at ``base``: an access wholly inside RAM (and,
    in space 1, aligned) indexes the guest's memory.  With ``devices``, one
    outside RAM is offered to the machine's device bus from the block
    (``ArmConcreteOps.mmio_reads``/``mmio_writes``, the machine's quiet
    servers, :meth:`emu.machine.Machine._quiet_server`:
    a device register the device serves quietly, as the polled PL011's,
    counted as an MMIO exit as the interpreter's would be).  Any other
    access -- MMIO the device does not serve so, unassigned addresses, a
    store into a granule holding translated code -- bails, and the
    interpreter runs the instruction."""

    run_space = RAM_STACK

    def __init__(self, base: int, devices: bool = False):
        self.base = base
        self.devices = devices

    def params(self, spaces) -> list:
        return ["MM=MM", "CP=CP"] + (["MQR=OPS.mmio_reads", "MQW=OPS.mmio_writes"] if self.devices else [])

    def _device(self, cond: str, p: str, again=None):
        """ram_access's ``device``: (the outside-RAM test ``cond``, the guest
        address[, ``cond`` as a later access of the same address tests it])."""
        if not self.devices:
            return None
        return (cond, f"{p} + {self.base}") + ((again,) if again else ())

    def prologue(self, cg, spaces) -> None:
        if self._windowed(cg):
            cg.window_prologue()

    @staticmethod
    def _windowed(cg) -> bool:
        """The stack's stores go through the region's code-free window in a
        region that loops (taking the window costs a call at its entry)."""
        return RAM_STACK in cg.spaces_written and cg.loops

    def flat_base(self, space):
        # every space is RAM at ``base``, physical: flat (space 1 and the
        # stack's differ only in how they are checked)
        return self.base

    def space_value(self, n: int) -> str:
        raise ValueError("A32 has no address-space register")

    def guard(self, cg, fast) -> list:
        return []

    def load_store(self, cg, op, k, ip, load) -> None:
        """The access at ``p`` = the address - RAM's base: a word goes
        through RAM's typed views when it is aligned (one test of ``p``
        covers its alignment and, RAM's size being a power of two, the end
        of RAM: :meth:`emu.ir.codegen.PyCodegen.ram_access`'s ``window``),
        and any other after the full checks; a byte tests ``p`` once."""
        space, size = op.aux
        a = cg.val(op.args[0])
        ram = cg.ram_size
        end = ram - size
        pow2 = ram & (ram - 1) == 0
        text = f"{_paren(a)} - {self.base}"
        if size == 1:
            p = cg.held(text)
            if p is None:
                p = cg.holder(text, "p")
                first = f"({p} := {text})"
            else:
                first = p
            cond = f"{first} & {~end}" if pow2 else f"not 0 <= {first} <= {end}"
            again = f"{p} & {~end}" if pow2 else f"not 0 <= {p} <= {end}"
            cg.ram_access(op, load, size, p, [cond], k, ip, device=self._device(cond, p, again))
            # a load and a store of one byte (LDRB, then STRB to the same
            # base) test it once (when the first may go to a device, that
            # one then bails: PyCodegen._tested)
            cg.hold(text, p, [] if self.devices else [again])
            return
        run = cg.runs.get(id(op)) if space == RAM_STACK else None
        if run is not None and load:
            # a word of a run of loads (LDM, POP): the first tests that the
            # run lies aligned in RAM, the others read with no test
            first, off, span, _wrap = run
            if off:
                return cg.run_load(op, k, ip, run, "", [])
            p = cg.atomic(text, "p")
            return cg.run_load(op, k, ip, run, p, [f"not 0 <= {p} <= {ram - span}"])
        windowed = space == RAM_STACK and not load and self._windowed(cg)
        if run is not None and windowed:
            # a store of a run (PUSH): the first tests that the run lies
            # aligned in the code-free window, the others write with no test
            if run[1]:
                return cg.run_store(op, k, ip, run, None, None, 1 << 32)
            return cg.run_store(op, k, ip, run, cg.atomic(a, "a"), str(-self.base), 1 << 32)
        p = cg.atomic(text, "p")
        in_ram = [f"not 0 <= {p} <= {end}"]
        if windowed:
            return cg.ram_access(op, load, size, p, in_ram, k, ip, code_free=True)
        align = [f"{p} & {size - 1}"] if space == RAM_ALIGNED else []
        device = self._device(in_ram[0], p)
        if pow2:
            cg.ram_access(op, load, size, p, [], k, ip, misaligned_only=in_ram + align, window=~end,
                          device=device)
        else:
            cg.ram_access(op, load, size, p, in_ram, k, ip, misaligned_only=align, device=device)


def _paren(text: str) -> str:
    return text if text.isidentifier() or text.isdigit() else f"({text})"

ARM_IR = IRTarget("arm", REG_NAMES, ("ram", "ram.aligned", "ram.stack"), "pc", FLAG_RECORD, PURE_CALLS,
                  ArmMemory(0))
