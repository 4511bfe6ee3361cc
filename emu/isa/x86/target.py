"""The x86 Target (``emu.isa.target.Target``): the one object through which
generic code reaches the x86 architecture.

* state: ``X86State`` (the shape of KVM's ``kvm_regs``/``kvm_sregs``);
* CPU models: ``8086``, ``286``, ``max`` (``models.py``);
* PC: CS.base + RIP, the linear address fetched from (SDM Vol. 3A §3.4.2;
  in 64-bit mode the CS base is 0, §3.4.4);
* TB flags: (64-bit mode, default operand size from CS.D), what decides how
  bytes at the PC decode (SDM Vol. 1 §3.6, Vol. 3A §5.2.1);
* ELF machines: ``EM_386`` and ``EM_X86_64``;
* register names: the sixteen general registers in encoding order
  (SDM Vol. 2A §2.1.5, Table 2-2);
* debugging: ``debug_adapter.X86DebugAdapter`` (registers, frames, gdb's
  i386/amd64 layouts).
* translator front end: ``ir_front.X86Frontend`` (the IR builder over the
  semantics, with ``ir_globals`` and ``ir_mem``).
* the tools' parts, each in its own module: ``info registers``
  (``dump.py``), the lockstep rules of ``emu diff`` (``lockstep.py``),
  ``emu coverage`` (``coverage.py``), the grader's mnemonics (``names.py``)
  and the SingleStepTests 8086/286 vector reader (``singlestep.py``).
* core: ``X86Core`` (``core.py``), the interpreter's and translator's CPU.
* the unicorn engine's adapter: ``unicorn_adapter.py``.
"""

from __future__ import annotations

from ..target import Target
from .state import CS, EFER_LMA, REG_NAMES64, X86State


class X86Target(Target):
    name = "x86"
    engines = ("interp", "tcg", "unicorn", "kvm")
    elf_machines = ("EM_386", "EM_X86_64")
    reg_names = REG_NAMES64

    @property
    def models(self) -> tuple:
        from .models import MODELS
        return tuple(MODELS)

    def new_state(self) -> X86State:
        return X86State()

    def model(self, name: str | None):
        from .models import get_model
        return get_model(name or "max")

    def pc(self, state) -> int:
        cs = state.segs[CS]
        long64 = bool(state.efer & EFER_LMA and cs.l)
        return state.rip if long64 else cs.base + state.rip

    def tb_flags(self, state) -> tuple:
        cs = state.segs[CS]
        return (bool(state.efer & EFER_LMA and cs.l), 4 if cs.db else 2)

    def decoder(self, model, flags: tuple, registry=None):
        from .decode import Decoder
        long64, dsize = flags
        return Decoder(model.name, dsize, long64, registry)

    def concrete_ops(self, state, ram, model, mmio=None):
        from .concrete import ConcreteOps
        return ConcreteOps(state, ram, model, mmio)

    def core(self, machine):
        from .core import X86Core
        return X86Core(machine)

    def disassemble(self, code: bytes, state, model) -> str:
        from .disasm import format_insn
        dec = self.decoder(model, self.tb_flags(state))
        return format_insn(dec.decode(lambda k: code[k], state.rip))

    def disassemble_at(self, code: bytes, ip: int, state, model) -> tuple:
        """As QEMU's monitor shows an instruction: capstone, AT&T syntax,
        the mnemonic in 8 columns, a byte that starts no instruction as
        ``.byte`` (QEMU ``disas/capstone.c``)."""
        import capstone
        from ..ops import GuestException
        long64, dsize = self.tb_flags(state)
        mode = capstone.CS_MODE_64 if long64 else (capstone.CS_MODE_32 if dsize == 4
                                                    else capstone.CS_MODE_16)
        md = capstone.Cs(capstone.CS_ARCH_X86, mode)
        md.syntax = capstone.CS_OPT_SYNTAX_ATT
        md.skipdata = True          # a byte that starts no instruction: '.byte 0x..', as QEMU
        for insn in md.disasm(code, ip, 1):
            return insn.size, f"{insn.mnemonic:<8} {insn.op_str}"
        raise GuestException(6, None, "no bytes to disassemble")

    def exception_name(self, vector: int) -> str:
        from .interrupts import EXC_NAMES
        return EXC_NAMES.get(vector, "interrupt")

    def debug_adapter(self, machine):
        from .debug_adapter import X86DebugAdapter
        return X86DebugAdapter(self, machine)

    def ir_frontend(self, model):
        from .ir_front import X86Frontend
        return X86Frontend(model)

    def dump_registers(self, state) -> str:
        from .dump import format_registers
        return format_registers(state)

    def lockstep(self):
        from .lockstep import X86Lockstep
        return X86Lockstep()

    def coverage(self, model) -> tuple:
        from .coverage import coverage
        return coverage(model)

    def translation_probes(self, model, cap: int) -> tuple:
        from .coverage import translation_probes
        return translation_probes(model, cap)

    def describe_insn(self, insn) -> tuple:
        from .disasm import format_insn, mnemonic
        return mnemonic(insn), format_insn(insn)

    def mnemonics(self) -> frozenset:
        from .names import mnemonic_names
        return mnemonic_names()

    def vector_reader(self, cpu: str):
        from .singlestep import X86VectorReader
        return X86VectorReader(cpu)

    def unicorn_bare(self, image: bytes, memory: int):
        from .unicorn_bare import run_bare
        return run_bare(image, memory)

    def unicorn_adapter(self, engine):
        from .unicorn_adapter import X86UnicornAdapter
        return X86UnicornAdapter(engine)


TARGET = X86Target()
