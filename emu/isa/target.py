"""The Target contract: what generic code may ask about a guest architecture.

One Target object lives in each ``emu/isa/<arch>/target.py`` and a board
names the one it uses, as QEMU's machine names its CPU type (``target/*``)
and Firecracker picks its ``arch`` module.  The Machine, the engines, the
debugger and the tools ask the Target instead of importing an architecture's
modules, so a second architecture is a second Target, not a second copy of
the generic code.

The parts, and their counterpart in QEMU:

* ``name``, ``elf_machines``: the architecture's name and the ELF
  ``e_machine`` values its images may carry (``EM_386``...).
* ``new_state()``: a reset CPU state (``CPUArchState``).
* ``model(name)`` / ``models``: the CPU models (``-cpu``), as data.
* ``pc(state)``: the address of the next instruction in the address space
  the code is fetched from (QEMU's ``cpu_get_pc`` as a linear address).
* ``tb_flags(state)``: what, besides the PC, decides how code at the PC
  decodes (QEMU's ``cpu_get_tb_cpu_state`` flags); the key of decoders and
  translated blocks.
* ``decoder(model, flags)``: a decoder for that key.
* ``concrete_ops(state, ram, model, mmio)``: the interpreter's Ops.
* ``disassemble(code, state, model)``: one instruction at the PC as text.
* ``exception_name(vector)``: how ``-d int`` names a vector.
* ``unicorn_adapter(engine)``: what the unicorn engine asks of the
  architecture (:mod:`emu.isa.unicorn_adapter`: engine modes, register
  sync, the interrupt hook, the instructions kasou runs itself).
* ``reg_names``: the general registers' names, in register-number order.

Every method here raises ``NotImplementedError``; a Target overrides all of
them.
"""

from __future__ import annotations


class Target:
    """The interface; ``emu/isa/<arch>/target.py`` subclasses it once."""

    name: str = ""
    elf_machines: tuple = ()
    reg_names: tuple = ()
    models: tuple = ()

    def new_state(self):
        raise NotImplementedError

    def model(self, name: str | None):
        raise NotImplementedError

    def pc(self, state) -> int:
        raise NotImplementedError

    def tb_flags(self, state) -> tuple:
        raise NotImplementedError

    def decoder(self, model, flags: tuple, registry=None):
        raise NotImplementedError

    def concrete_ops(self, state, ram, model, mmio=None):
        raise NotImplementedError

    def disassemble(self, code: bytes, state, model) -> str:
        raise NotImplementedError

    def exception_name(self, vector: int) -> str:
        raise NotImplementedError

    def unicorn_adapter(self, engine):
        """A new :class:`emu.isa.unicorn_adapter.UnicornAdapter` for the
        unicorn ``engine`` (imports unicorn; raises ``AdapterUnavailable``
        when the unicorn found cannot run this architecture)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Target {self.name}>"
