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
* the unicorn engine's adapter: ``unicorn_adapter.py``.
"""

from __future__ import annotations

from ..target import Target
from .state import CS, EFER_LMA, REG_NAMES64, X86State


class X86Target(Target):
    name = "x86"
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

    def disassemble(self, code: bytes, state, model) -> str:
        from .disasm import format_insn
        dec = self.decoder(model, self.tb_flags(state))
        return format_insn(dec.decode(lambda k: code[k], state.rip))

    def exception_name(self, vector: int) -> str:
        from .interrupts import EXC_NAMES
        return EXC_NAMES.get(vector, "interrupt")

    def unicorn_adapter(self, engine):
        from .unicorn_adapter import X86UnicornAdapter
        return X86UnicornAdapter(engine)


TARGET = X86Target()
