"""TCG-style IR for the translator: opcodes (data), builder, optimiser, Python codegen.

Pipeline, as in QEMU's ``tb_gen_code``: decoded guest instructions ->
semantics run on :class:`~emu.ir.builder.X86IRBuilder` (IR, folded while
emitted) -> :func:`~emu.ir.optimize.optimize` -> :func:`~emu.ir.codegen.generate`
(Python source) -> ``compile()``.  The engine that caches and chains the
result is :mod:`emu.accel.tcg`.
"""
