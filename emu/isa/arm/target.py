"""The ARM Target (``emu.isa.target.Target``): the one object through which
generic code reaches the A32 architecture.

* state: ``ArmState`` (r0-r15, banks, CPSR, SPSRs; ARM DDI 0406C B1.3);
* CPU models: ``cortex-a15`` (ARMv7-A, the default) and ``arm7tdmi``
  (ARMv4T), ``models.py``;
* PC: r15, the address of the instruction to execute (no segmentation; the
  MMU is not modelled, so it is also the physical address);
* TB flags: (Thumb bit, mode) -- T decides the instruction set (A2.5.1); the
  mode is part of the key because banked registers and privileged
  instructions depend on it;
* ELF machine: ``EM_ARM``;
* register names: r0-r12, sp, lr, pc (A2.3, Table A2-1 aliases);
* exceptions: the vector table slots of ``exceptions.py``;
* translator front end: ``ir_front.ArmFrontend`` (with ``ir_globals``).

Memory is little-endian (CPSR.E and SCTLR.EE big-endian data are not
modelled).  Thumb state runs T16 (``thumb.py``); IT blocks and 32-bit
Thumb-2 instructions other than BL/BLX are refused, see ``step.py``.
"""

from __future__ import annotations

from ..target import Target
from .state import MODE_MASK, REG_NAMES, T_BIT, ArmState


class ArmTarget(Target):
    name = "arm"
    engines = ("interp", "tcg", "unicorn")
    elf_machines = ("EM_ARM",)
    reg_names = REG_NAMES

    @property
    def models(self) -> tuple:
        from .models import MODELS
        return tuple(MODELS)

    def new_state(self) -> ArmState:
        return ArmState()

    def model(self, name: str | None):
        from .models import get_model
        return get_model(name)

    def pc(self, state) -> int:
        return state.pc

    def tb_flags(self, state) -> tuple:
        return (bool(state.cpsr & T_BIT), state.cpsr & MODE_MASK)

    def decoder(self, model, flags: tuple, registry=None):
        from .semantics import REGISTRY
        from .thumb import ArmDecoder
        return ArmDecoder(model, REGISTRY if registry is None else registry)

    def ir_frontend(self, model):
        """The A32 translator front end (``ir_front.py``): A32 into IR block by
        block, everything it does not translate through the interpreter."""
        from .ir_front import ArmFrontend
        return ArmFrontend(model, self.tb_flags)

    def core(self, machine):
        from .core import ArmCore
        return ArmCore(machine)

    def concrete_ops(self, state, ram, model, mmio=None):
        """ArmOps over ``ram`` (an ``emu.memory.Ram``); outside it, the bus
        ``mmio`` (unassigned addresses read as all ones, writes are
        dropped, as on x86) or, without a bus, all ones."""
        from .ops import ArmOps

        def read(addr, size):
            if ram.contains(addr, size):
                return ram.read(addr, size)
            return mmio.read(addr, size) if mmio is not None else (1 << (8 * size)) - 1

        def write(addr, size, v):
            if ram.contains(addr, size):
                ram.write(addr, size, v)
            elif mmio is not None:
                mmio.write(addr, size, v)

        return ArmOps(state, model, read, write)

    def disassemble(self, code: bytes, state, model) -> str:
        """A32 as UAL; a T16 instruction as the A32 instruction it runs as,
        marked ``(t16)``, or its Thumb name where it has no A32 twin."""
        from .disasm import format_insn
        dec = self.decoder(model, self.tb_flags(state))
        if state.cpsr & T_BIT:
            half = int.from_bytes(code[:2], "little")
            return "(t16) " + format_insn(dec.thumb().decode_half(half, state.pc))
        return format_insn(dec.decode_word(int.from_bytes(code[:4], "little"), state.pc))

    def disassemble_at(self, code: bytes, ip: int, state, model) -> tuple:
        """As QEMU's monitor shows an instruction (``disas/capstone.c``):
        capstone in the CPU's current instruction set (A32, or Thumb in
        Thumb state), the mnemonic in 8 columns; a word that is no
        instruction raises GuestException (undefined instruction)."""
        import capstone
        from ..ops import GuestException
        from .exceptions import UNDEF
        thumb = bool(state.cpsr & T_BIT)
        md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB if thumb else capstone.CS_MODE_ARM)
        for insn in md.disasm(code, ip, 1):
            return insn.size, f"{insn.mnemonic:<8} {insn.op_str}".rstrip()
        raise GuestException(UNDEF, None, f"no {'Thumb' if thumb else 'A32'} instruction at 0x{ip:x}")

    def debug_adapter(self, machine):
        from .debug_adapter import ArmDebugAdapter
        return ArmDebugAdapter(self, machine)

    def dump_registers(self, state) -> str:
        from .dump import format_registers
        return format_registers(state)

    def coverage(self, model) -> tuple:
        from .coverage import coverage
        return coverage(model)

    def translation_probes(self, model, cap: int) -> tuple:
        from .coverage import translation_probes
        return translation_probes(model, self, cap)

    def describe_insn(self, insn) -> tuple:
        from .disasm import format_insn
        from .names import mnemonic
        return mnemonic(insn), format_insn(insn)

    def mnemonics(self) -> frozenset:
        from .names import mnemonic_names
        return mnemonic_names()

    def vector_reader(self, cpu: str):
        from .vectors import ArmVectorReader
        return ArmVectorReader(cpu)

    def exception_name(self, vector: int) -> str:
        from .exceptions import EXC_NAMES
        return EXC_NAMES.get(vector, "exception")

    def unicorn_bare(self, image: bytes, memory: int):
        from .unicorn_bare import run_bare
        return run_bare(image, memory)

    def unicorn_adapter(self, engine):
        from .unicorn_adapter import ArmUnicornAdapter
        return ArmUnicornAdapter(engine)

    def lockstep(self):
        from .lockstep import ArmLockstep
        return ArmLockstep()


TARGET = ArmTarget()
