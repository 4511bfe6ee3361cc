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
* ``core(machine)``: the Core the interpreter loop and the translator step
  (:mod:`emu.isa.core`: decode cache, fault and interrupt delivery, HLT),
  QEMU's ``TCGCPUOps``.
* ``disassemble(code, state, model)``: one instruction at the PC as text.
* ``disassemble_at(code, ip, state, model)``: one instruction decoded as
  if at ``ip`` in the CPU's current mode: (its length, its text as QEMU's
  monitor shows it), for the monitor's ``x /i`` (QEMU's ``monitor_disas``);
  bytes that are no instruction raise ``emu.isa.ops.GuestException``.
* ``exception_name(vector)``: how ``-d int`` names a vector.
* ``ir_frontend(model)``: the translator's front end (QEMU's
  ``TranslatorOps`` with the target's TCG globals): its IR description
  (``ir``, an :class:`emu.ir.frontend.IRTarget`), a builder per block and
  the memory-access models the code generator uses.
* ``reg_names``: the general registers' names, in register-number order
  (the one table the debugger and the gdb stub name them from).
* ``debug_adapter(machine)``: what the debugger and the gdb stub ask about
  registers, instructions, frames and gdb's register layout
  (:class:`emu.isa.debug_adapter.DebugAdapter`; gdb's ``gdbarch``).
* ``dump_registers(state)``: the CPU state as the monitor's ``info
  registers`` prints it (QEMU's ``cpu_dump_state``).
* ``lockstep()``: the rules ``emu diff`` compares two engines by: what
  the architecture leaves undefined after an instruction, how a state is
  compared, aligned and shown, how the instruction is named.
* ``coverage(model)``: what the model decodes but cannot execute
  (``emu coverage``).
* ``translation_probes(model, cap)``: one decoded instruction per encoding,
  operand form and code mode, with the block key to translate it under
  (``emu coverage``'s translator section, :func:`emu.coverage.translation`).
* ``describe_insn(insn)`` and ``mnemonics()``: a decoded instruction as
  ``(mnemonic, text)``, and every mnemonic the decoder names (the
  grader's traces and its ``forbid``/``allow`` rules).
* ``vector_reader(cpu)``: the reader and judge of the single-instruction
  test vectors captured from that CPU model (``emu conformance``).
* ``unicorn_adapter(engine)``: what the unicorn engine asks of the
  architecture (:mod:`emu.isa.unicorn_adapter`: engine modes, register
  sync, the interrupt hook, the instructions kasou runs itself).
* ``unicorn_bare(image, memory)``: the guest on unicorn with only the
  device hooks its board's console and exit need (``emu bench``'s
  ``unicorn-bare``).

Every method here raises ``NotImplementedError``; a Target overrides all of
them.
"""

from __future__ import annotations


class Target:
    """The interface; ``emu/isa/<arch>/target.py`` subclasses it once."""

    name: str = ""
    #: the engines that can run this architecture's guests
    engines: tuple = ()
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

    def core(self, machine):
        """A new :class:`emu.isa.core.Core` for ``machine`` (its ``cpu``,
        ``ram``, ``model`` and ``mmio``)."""
        raise NotImplementedError

    def disassemble(self, code: bytes, state, model) -> str:
        raise NotImplementedError

    def disassemble_at(self, code: bytes, ip: int, state, model) -> tuple:
        raise NotImplementedError

    def exception_name(self, vector: int) -> str:
        raise NotImplementedError

    def debug_adapter(self, machine):
        """The :class:`~emu.isa.debug_adapter.DebugAdapter` for ``machine`` (a Machine
        whose board names this Target)."""
        raise NotImplementedError

    def ir_frontend(self, model):
        """The translator front end for CPU ``model`` (see the module docstring)."""
        raise NotImplementedError

    def dump_registers(self, state) -> str:
        """``info registers``: the state as QEMU's monitor shows it."""
        raise NotImplementedError

    def lockstep(self):
        """The lockstep comparison rules: an object with ``inspect(ram,
        state)`` (the instruction at the PC: ``.pc``, ``.text``),
        ``undefined(insn, after)`` (the masks of what may differ after it),
        ``compare(a, b, masks=...)`` (lines of differences), ``align(a, b,
        masks)``, ``side_by_side(a, b, names)``, ``where(state, wide=False)``
        and ``repeats_left(insn, state)`` (iterations a repeated instruction
        has left, or None)."""
        raise NotImplementedError

    def coverage(self, model) -> tuple:
        """``(total, rows, gaps)`` for CPU model name ``model``: how many
        encodings decode, those without semantics as ``(opcode, name,
        operands)`` and the subsystems not modelled (lines); ValueError for
        an unknown model."""
        raise NotImplementedError

    def translation_probes(self, model, cap: int) -> tuple:
        """``(modes, probes)`` for CPU model object ``model``, in blocks of
        at most ``cap`` instructions (the translator's usual cap): the code modes
        as ``[(label, description)]`` and, for every decoded encoding, an
        instruction of each operand form in each mode, as ``(mode, opcode,
        name, operands, form, insn, key)``: ``insn`` decoded as the
        translator's Core decodes it and ``key`` a block key
        ``ir_frontend(model).builder`` takes for that mode."""
        raise NotImplementedError

    def describe_insn(self, insn) -> tuple:
        """``(mnemonic, text)`` of an instruction a :meth:`decoder` decoded."""
        raise NotImplementedError

    def mnemonics(self) -> frozenset:
        """Every mnemonic :meth:`describe_insn` can return (and, for a
        repeated form such as ``rep movsb``, its last word)."""
        raise NotImplementedError

    def vector_reader(self, cpu: str):
        """The reader and judge of single-instruction test vectors for CPU
        model ``cpu`` (``emu.conformance`` documents what it provides);
        ValueError when no suite of this architecture was captured from it."""
        raise NotImplementedError

    def unicorn_adapter(self, engine):
        """A new :class:`emu.isa.unicorn_adapter.UnicornAdapter` for the
        unicorn ``engine`` (imports unicorn; raises ``AdapterUnavailable``
        when the unicorn found cannot run this architecture)."""
        raise NotImplementedError

    def unicorn_bare(self, image: bytes, memory: int):
        """Run ``image`` on unicorn with nothing of kasou's but RAM and the
        port or MMIO accesses the board's console and exit device need (no
        block hook, no count): ``emu bench``'s yardstick, engine
        ``unicorn-bare``.  Returns an object with ``output`` (bytes),
        ``status`` (the exit status, None when it timed out), ``seconds``
        (inside unicorn) and ``how`` (how the run ended)."""
        raise NotImplementedError

    def engine_refusal(self, accel: str) -> str:
        """The one line that says why engine ``accel`` cannot run this
        architecture's guests."""
        if accel == "kvm":
            return (f"-accel kvm runs only guests of the host's own architecture: KVM executes "
                    f"them on the host CPU, and {self.name} code does not run on an x86 host; "
                    f"{self.name} guests run on -accel {', '.join(self.engines)}")
        return (f"-accel {accel} cannot run {self.name} guests yet; they run on "
                f"-accel {', '.join(self.engines)}")

    def __repr__(self) -> str:
        return f"<Target {self.name}>"
