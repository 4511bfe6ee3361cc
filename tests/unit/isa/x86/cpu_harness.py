"""Run a few x86 instructions on the interpreter for the semantics unit tests.

Real-mode code runs on a pc Machine at 0000:7C00; 64-bit code is decoded in
long mode and executed on ConcreteOps directly."""

from emu.isa.x86.decode import Decoder
from emu.isa.x86.semantics import REGISTRY
from emu.isa.x86.state import CS, EFER_LMA
from emu.machine import Machine

NAMES = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")


def machine(code, cpu="max", steps=1, flags=0x2, mem=(), **regs):
    """A pc Machine that ran ``steps`` instructions of real-mode ``code`` at
    0000:7C00, after writing ``mem`` = [(address, size, value)]."""
    m = Machine("pc", "interp", cpu=cpu, memory=1 << 20)
    m.load_image(bytes(code))
    for addr, size, v in mem:
        m.ram.write(addr, size, v)
    s = m.cpu
    for name, v in regs.items():
        s.regs[NAMES.index(name)] = v
    s.rflags = flags | m.model.flags_set
    m.accel.run(steps)
    return m


def run(code, cpu="max", steps=1, flags=0x2, **regs):
    return machine(code, cpu, steps, flags, **regs).cpu


def run64(code, **regs):
    """Decode ``code`` in 64-bit mode and execute it on ConcreteOps."""
    m = Machine("pc", "interp", cpu="max", memory=1 << 20)
    s = m.cpu
    s.efer |= EFER_LMA
    s.segs[CS].l = 1
    for name, v in regs.items():
        s.regs[NAMES.index(name)] = v
    insn = Decoder("max", 4, True, REGISTRY).decode(lambda k: code[k], 0)
    insn.handler(m.accel.core.ops, insn)
    return s


def reg(s, name, size=2):
    return s.regs[NAMES.index(name)] & ((1 << (8 * size)) - 1)
