"""The ARM debug adapter (:class:`emu.isa.debug_adapter.DebugAdapter`): what the
debugger and the gdb stub know of A32 and T16.

* **registers**: r0-r12, sp, lr, pc (ARM DDI 0406C A2.3, the Target's
  ``reg_names``; also r13-r15, ``fp`` for r11 and ``ip`` for r12, the
  AAPCS names) and the CPSR (B1.3.3), shown by flag name with its mode;
  ``spsr`` is the current mode's (B1.3.2).  The registers of other modes'
  banks are not reachable by name: the debugger sees what the CPU sees;
* **memory**: the MMU is not modelled, so a linear address is physical;
* **code**: the A32 decoder, or T16 in Thumb state (CPSR.T, A2.5.1);
  BL, BLX and SVC are what ``next`` runs whole (they return to the
  instruction after them), WFI waits for an interrupt, CPSR.I masks it;
  privilege is PL0 in user mode, PL1 otherwise (B1.3.1);
* **watchpoints**: an instruction's memory operands are found by running
  its semantics on a copy of the CPU against a bus that records the
  accesses and changes nothing (:func:`dry_run`), so every addressing
  mode -- offset, pre- and post-index, LDM/STM in all four modes, PUSH/POP,
  SWP, LDREX/STREX, the T16 forms -- is covered by the semantics that
  execute it, and a failed condition touches nothing;
* **frames**: a BL leaves the return address in LR, not on the stack
  (A8.8.25).  A function's prologue (gcc's ``push {..., lr}``, ``str lr,
  [sp, #-4]!``, ``sub sp, sp, #N``, the APCS ``mov ip, sp`` / ``sub fp, ip,
  #4``) is read from its symbol to the PC to learn how far the stack
  pointer moved and where LR went -- gdb's ``arm_analyze_prologue``, in
  small; at a return (``bx lr``, ``pop {..., pc}``) the return is read
  from the instruction itself.  A value is taken for a return address
  when the instruction before it is a BL or BLX.  A frame's slot is the
  word below the stack pointer at its entry (where ``push {..., lr}``
  keeps LR); a function has returned when the stack pointer is above it
  *and* the PC is at the return address (``returns_through_link``), since
  a leaf function moves no stack pointer at all;
* **gdb**: the ``org.gnu.gdb.arm.core`` feature (GDB manual, "ARM
  Features"): r0-r12, sp, lr, pc and cpsr, with the CPSR as a flags type;
  gdb's architecture ``arm``.
"""

from __future__ import annotations

from ..debug_adapter import DebugAdapter, DebugError
from ..ops import GuestException, Unsupported
from .ops import ArmOps
from .semantics import REGISTRY, condition_passed
from .state import I_BIT, MODE_NAMES, REG_NAMES, T_BIT, USR

M32 = 0xFFFFFFFF
#: instructions ``next`` runs whole: BL/BLX in A32 and Thumb (the ARMv4T
#: pair's second half makes the call), and SVC
CALLS = ("BL", "BLX_imm", "BLX_reg", "T32_BL", "T32_BLX", "T_BL_lo", "T_BLX_lo", "SVC")
#: the flags of the CPSR by bit (B1.3.3), as gdb's flags type and the debugger show them
CPSR_FIELDS = (("N", 31), ("Z", 30), ("C", 29), ("V", 28), ("Q", 27), ("J", 24), ("E", 9),
               ("A", 8), ("I", 7), ("F", 6), ("T", 5))
ALIASES = {"r13": 13, "r14": 14, "r15": 15, "fp": 11, "ip": 12}
PSR_NAMES = ("cpsr", "psr", "spsr")
#: how many instructions from a function's symbol a prologue may take
PROLOGUE_MAX = 16
#: instructions that end a prologue scan: they leave the straight line
BRANCHES = CALLS + ("B", "BX", "T_B", "T_B_cond", "T_BX", "T_BL_hi", "T_CBZ")
#: a value no real register holds, put in LR to find where a prologue stores it
LR_MARK = 0x1DEBA5ED


def gdb_layout() -> list:
    """[(name, bytes, tdesc type, feature)] in remote register number order:
    ``org.gnu.gdb.arm.core`` with the CPSR numbered right after the PC (the
    target description numbers it, so gdb's internal number 25 does not matter)."""
    types = {"sp": "data_ptr", "lr": "code_ptr", "pc": "code_ptr"}
    out = [(name, 4, types.get(name, "uint32"), "core") for name in REG_NAMES]
    out.append(("cpsr", 4, "arm_cpsr", "core"))
    return out


def target_xml() -> str:
    fields = "".join(f'<field name="{f}" start="{b}" end="{b}"/>' for f, b in CPSR_FIELDS)
    fields += '<field name="M" start="0" end="4"/>'
    regs = "".join(f'<reg name="{name}" bitsize="{8 * size}" type="{typ}" regnum="{n}"/>'
                   for n, (name, size, typ, _) in enumerate(gdb_layout()))
    return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
            '<target version="1.0"><architecture>arm</architecture>'
            '<feature name="org.gnu.gdb.arm.core">'
            f'<flags id="arm_cpsr" size="4">{fields}</flags>{regs}</feature></target>')


def describe_cpsr(value: int) -> str:
    """The CPSR's set flags by name and its mode: ``Z I F svc``."""
    flags = [f for f, b in CPSR_FIELDS if value >> b & 1]
    mode = MODE_NAMES.get(value & 0x1F, f"mode 0x{value & 0x1F:02x}")
    return " ".join(flags + [mode])


class DebugInsn:
    """A decoded instruction for the debugger: ``length`` (bytes), ``name``,
    whether it was decoded in Thumb state, and the A32/T16 ``insn``."""

    __slots__ = ("insn", "thumb")

    def __init__(self, insn, thumb: bool):
        self.insn = insn
        self.thumb = thumb

    @property
    def length(self) -> int:
        return self.insn.size

    @property
    def name(self) -> str:
        return self.insn.name


def dry_run(state, model, insn, thumb: bool, read) -> tuple:
    """Run ``insn`` (at ``insn.addr``) on a copy of ``state`` against a bus
    that reads through ``read(addr, size)`` (None: the address reads as 0)
    and records the writes without making them; returns (the state after
    it, [(address, size, "r" or "w")] in order).  Nothing outside the copy
    changes.  A guest exception the instruction raises ends the run (the
    accesses before it are kept)."""
    s = state.copy()
    accesses = []

    def load(addr, size):
        accesses.append((addr, size, "r"))
        v = read(addr, size)
        return 0 if v is None else v

    def store(addr, size, value):
        accesses.append((addr, size, "w"))

    ops = ArmOps(s, model, load, store)
    ops.insn_addr, ops.insn_size, ops.insn = insn.addr, insn.size, insn
    ops.pc_read = 4 if thumb else 8
    s.pc = insn.addr + insn.size
    if condition_passed(s.cpsr, insn.cond):
        fn = insn.handler or REGISTRY.get(insn.name)
        try:
            if fn is not None:
                fn(ops, insn)
        except (GuestException, Unsupported):
            pass
    return s, accesses


class ArmDebugAdapter(DebugAdapter):
    """ARM for the debugger and the gdb stub (see the module docstring)."""

    pc_names = ("pc",)
    lazy_fields = ()
    derived_fields = ()
    page_size = 0x1000
    gdb_placeholders = frozenset()
    returns_through_link = True

    # -- registers -------------------------------------------------------------------
    def word_size(self, state) -> int:
        return 4

    def registers(self, state) -> dict:
        out = {name: state.r[i] for i, name in enumerate(REG_NAMES)}
        out["cpsr"] = state.cpsr
        return out

    def get_register(self, state, name: str) -> int:
        n = name.lower()
        if n in REG_NAMES:
            return state.r[REG_NAMES.index(n)]
        if n in ALIASES:
            return state.r[ALIASES[n]]
        if n in ("cpsr", "psr"):
            return state.cpsr
        if n == "spsr":
            if not state.has_spsr():
                raise DebugError(f"$spsr: {MODE_NAMES.get(state.mode, 'this')} mode has no SPSR")
            return state.get_spsr()
        raise DebugError(f"unknown register ${name} (expected r0-r15, sp, lr, pc, fp, ip, "
                         "cpsr or spsr)")

    def set_register(self, state, name: str, value: int) -> None:
        """Any general register; ``$pc`` keeps the instruction set (bit 0 is
        dropped, as a Thumb address is halfword-aligned); ``$cpsr`` switches
        the register bank when its mode changes, as MSR does (B1.3.2)."""
        n = name.lower()
        value &= M32
        if n in REG_NAMES or n in ALIASES:
            k = REG_NAMES.index(n) if n in REG_NAMES else ALIASES[n]
            state.r[k] = value & ~1 if k == 15 else value
        elif n in ("cpsr", "psr"):
            state.set_cpsr(value)
        elif n == "spsr":
            if not state.has_spsr():
                raise DebugError(f"$spsr: {MODE_NAMES.get(state.mode, 'this')} mode has no SPSR")
            state.set_spsr(value)
        else:
            self.get_register(state, name)      # the one-line error for an unknown name

    def describe_register(self, name: str, value: int) -> str | None:
        return describe_cpsr(value) if name.lower() in PSR_NAMES else None

    # -- memory ----------------------------------------------------------------------
    def translate(self, state, addr: int) -> int | None:
        return addr & M32                  # no MMU: linear is physical

    def _read(self, addr: int, size: int) -> int | None:
        """Guest RAM without side effects (None outside RAM: no device is read)."""
        ram = self.machine.ram
        return ram.read(addr, size) if ram.contains(addr, size) else None

    # -- code ------------------------------------------------------------------------
    def _decode(self, code: bytes, lin: int, thumb: bool):
        dec = self.target.decoder(self.machine.model, (thumb, 0))
        try:
            if thumb:
                from .thumb import fetch_thumb

                def read(a, size):
                    k = a - (lin & ~1)
                    if not 0 <= k <= len(code) - size:
                        raise IndexError("cut short")
                    return int.from_bytes(code[k:k + size], "little")
                return DebugInsn(fetch_thumb(read, lin, self.machine.model.arch, dec.thumb()), True)
            if len(code) < 4:
                raise IndexError("cut short")
            return DebugInsn(dec.decode_word(int.from_bytes(code[:4], "little"), lin), False)
        except (GuestException, Unsupported, IndexError) as e:
            raise DebugError(f"cannot decode at 0x{lin:x}: {e}") from None

    def decode(self, state, code: bytes, lin: int):
        return self._decode(code, lin, state.thumb)

    def format_insn(self, insn) -> str:
        from .disasm import format_insn
        text = format_insn(insn.insn)
        return f"(t16) {text}" if insn.thumb and insn.length == 2 else text

    def is_call(self, insn) -> bool:
        return insn.name in CALLS

    def waits_for_interrupt(self, insn) -> bool:
        return insn.name == "WFI"

    def interrupts_enabled(self, state) -> bool:
        return not state.cpsr & I_BIT

    def privilege(self, state) -> int:
        return 0 if state.mode == USR else 1

    def memory_operands(self, state, insn) -> list:
        """The accesses a dry run of ``insn`` makes (see :func:`dry_run`):
        an address both read and written (SWP, a read-modify-write) is "rw"."""
        _, accesses = dry_run(state, self.machine.model, insn.insn, insn.thumb, self._read)
        out = {}
        for addr, size, access in accesses:
            key = (addr, size)
            prev = out.get(key)
            out[key] = access if prev in (None, access) else "rw"
        return [(a, n, acc) for (a, n), acc in out.items()]

    # -- frames ----------------------------------------------------------------------
    def stack_pointer(self, state) -> int:
        return state.r[13]

    def _insn_at(self, view, lin: int, thumb: bool):
        """The instruction at ``lin`` in the given instruction set, or None."""
        for k in (4, 2):                  # near the end of RAM: fewer
            try:
                return self._decode(view.read_memory(lin, k), lin, thumb)
            except DebugError:
                continue
        return None

    def _called_from(self, view, ret: int) -> bool:
        """``ret`` (bit 0: Thumb) is the address after a BL or BLX."""
        thumb = bool(ret & 1)
        lin = ret & ~1
        for k in ((4, 2) if thumb else (4,)):
            insn = self._insn_at(view, lin - k, thumb)
            if insn is not None and insn.length == k and insn.name in CALLS[:-1]:
                return True
        return False

    def _function_start(self, view, pc: int) -> int | None:
        img = getattr(view, "image", None)
        symbols = getattr(img, "symbols", None) or {}
        best = None
        for addr in symbols.values():
            a = addr & ~1
            if a <= pc and (best is None or a > best):
                best = a
        return best

    def _prologue(self, view, start: int, pc: int, thumb: bool, state) -> tuple:
        """(how far the stack pointer moved, where LR went relative to the
        stack pointer at entry or None) after the frame setup between
        ``start`` and ``pc``.  As gdb's analysis, the scan passes over the
        instructions a compiler schedules into a prologue (argument moves,
        stores to the frame) and ends at a branch or at anything else that
        moves the stack pointer or the PC."""
        scratch = state.copy()
        scratch.cpsr = scratch.cpsr | T_BIT if thumb else scratch.cpsr & ~T_BIT
        base = 0x80000000
        delta, lr_at = 0, None
        addr = start
        for _ in range(PROLOGUE_MAX):
            if addr >= pc:
                break
            insn = self._insn_at(view, addr, thumb)
            if insn is None or insn.name in BRANCHES:
                break
            sp = base + delta
            scratch.r[13], scratch.r[14], scratch.r[12], scratch.r[15] = sp, LR_MARK, sp, addr
            after, accesses = dry_run(scratch, self.machine.model, insn.insn, thumb,
                                      lambda a, n: None)
            if self._frame_setup_insn(insn.insn):
                for a, n, access in accesses:
                    if access == "w" and n == 4 and self._stored(insn.insn, a, sp) == 14:
                        lr_at = a - base
                delta = after.r[13] - base
            elif after.r[13] != sp or after.pc != addr + insn.length:
                break
            addr += insn.length
        return delta, lr_at

    @staticmethod
    def _frame_setup_insn(i) -> bool:
        """An instruction of a prologue: a push, a store with writeback to the
        stack, a change of sp, or the APCS frame pointer set-up."""
        name = i.name
        if i.cond != 0xE:
            return False
        if name == "STM":
            return i.rn == 13 and i.w and i.p and not i.u
        if name == "STR_imm":
            return i.rn == 13 and i.w and i.p and not i.u
        if name in ("SUB_imm", "ADD_imm"):
            return i.rd in (7, 11, 13) and i.rn in (12, 13) or i.rd == 12 and i.rn == 13
        if name == "MOV_reg":
            return i.rd in (7, 11, 12) and i.rm == 13 and not i.imm and not i.stype
        return False

    @staticmethod
    def _stored(i, addr: int, sp: int):
        """The register a push or store writes at ``addr`` (sp: the stack
        pointer before it)."""
        if i.name == "STR_imm":
            return i.rt
        regs = [k for k in range(16) if i.regs >> k & 1]
        lowest = sp - 4 * len(regs)
        k = (addr - lowest) // 4
        return regs[k] if 0 <= k < len(regs) else None

    def _unwind(self, view, pc: int, sp: int, thumb: bool, state, lr: int | None):
        """(return address with bit 0 for Thumb, stack pointer at entry) of
        the function whose code ``pc`` is in, or None where it is not known;
        ``lr``: the link register's value in the innermost frame (else None)."""
        insn = self._insn_at(view, pc, thumb)
        if insn is not None and lr is not None and insn.insn.cond == 0xE:
            i = insn.insn
            if i.name in ("BX", "MOV_reg") and i.rm == 14 and (i.name == "BX" or i.rd == 15):
                return lr, sp                              # bx lr / mov pc, lr
        if insn is not None and insn.insn.cond == 0xE and self._pops_pc(insn.insn):
            s = state.copy()
            s.r[13], s.r[15] = sp, pc
            after, _ = dry_run(s, self.machine.model, insn.insn, thumb, self._read)
            return after.pc | (1 if after.cpsr & T_BIT else 0), after.r[13]
        start = self._function_start(view, pc)
        delta, lr_at = (0, None) if start is None else self._prologue(view, start, pc, thumb, state)
        entry = (sp - delta) & M32
        if lr_at is not None:
            try:
                ret = int.from_bytes(view.read_memory((entry + lr_at) & M32, 4), "little")
            except DebugError:
                return None
            return ret, entry
        if lr is not None:
            return lr, entry
        return None

    @staticmethod
    def _pops_pc(i) -> bool:
        if i.name == "LDM":
            return i.rn == 13 and i.w and i.regs >> 15 & 1
        return i.name == "LDR_imm" and i.rn == 13 and i.rt == 15 and not i.p

    def frames(self, view, limit: int) -> list:
        s = view.cpu
        pc, sp, thumb, lr = view.pc(), s.r[13], s.thumb, s.r[14]
        out = []
        while len(out) < limit:
            found = self._unwind(view, pc, sp, thumb, s, lr)
            if found is None or not self._called_from(view, found[0]):
                out.append((pc, None))
                break
            ret, entry = found
            out.append((pc, (entry - 4) & M32))
            pc, sp, thumb, lr = ret & ~1, entry, bool(ret & 1), None
        return out

    def frame_setup(self, view, source: str) -> int:
        """The prologue instructions at a C function's entry (see the module
        docstring), which gdb's prologue analysis skips; none in assembly."""
        if source.lower().endswith((".s", ".asm")):
            return 0
        thumb = view.cpu.thumb
        n, addr = 0, view.pc()
        while n < PROLOGUE_MAX:
            insn = self._insn_at(view, addr, thumb)
            if insn is None or not self._frame_setup_insn(insn.insn):
                break
            n += 1
            addr += insn.length
        return n

    # -- gdb -------------------------------------------------------------------------
    def gdb_arch(self, state) -> str:
        return "arm"

    def gdb_registers(self, arch: str) -> list:
        return gdb_layout()

    def gdb_target_xml(self, arch: str) -> str:
        return target_xml()
