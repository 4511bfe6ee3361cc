"""TCG-style IR for the translator: opcodes (data), builder, optimiser, Python codegen.

Pipeline, as in QEMU's ``tb_gen_code``: decoded guest instructions ->
semantics run on the target's front end (a :class:`~emu.ir.builder.TranslatorOps`
subclass, obtained through ``Target.ir_frontend``; IR, folded while emitted)
-> :func:`~emu.ir.optimize.optimize` -> :func:`~emu.ir.codegen.generate`
(Python source) -> ``compile()``.  The engine that caches and chains the
result is :mod:`emu.accel.tcg`.

This package is a leaf, as QEMU's ``tcg/``: it imports no target.  What it
needs of one -- register globals, the lazy flag record, pure helpers,
memory-access hooks -- is declared in :mod:`emu.ir.frontend` and filled in
by the target (x86: :mod:`emu.isa.x86.ir_globals`, :mod:`emu.isa.x86.ir_mem`,
:mod:`emu.isa.x86.ir_front`).
"""
