"""Operand kinds of a decoded x86 instruction (``emu.isa.x86.insn``): a
general register, memory, an immediate, a segment, control or debug
register -- the operand types of SDM Vol. 2A §3.1.1.3.  A module of its
own so that the formatter (``disasm``) and the instruction classes
(``insn``) both read them without importing each other."""

REG, MEM, IMM, SEG, CTL, DBG = range(6)
