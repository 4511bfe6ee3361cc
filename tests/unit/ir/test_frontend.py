"""The IR with a target that is not x86: what emu.ir.frontend declares is all it uses.

A toy target -- two registers ``a`` and ``b``, a program counter ``S.pc``,
a flag record kept in differently named attributes, one flat address space
-- is translated, optimised, compiled and run; the generated code speaks only
of what the toy target declared.
"""

import pytest

from emu.ir.builder import TranslatorOps
from emu.ir.codegen import BAIL, EXIT_MASK, EXIT_SHIFT, GOTO, PACKERS, generate
from emu.ir.frontend import FlagRecord, IRTarget, MemoryAccess
from emu.ir.ir import IRBlock
from emu.ir.optimize import optimize

RAM = 256


class FlatMemory(MemoryAccess):
    """One address space: RAM at 0, nothing above it."""

    def params(self, spaces):
        return ["MM=MM", "CP=CP"]

    def prologue(self, cg, spaces):
        pass

    def load_store(self, cg, op, k, ip, load):
        size = op.aux[1]
        a = cg.atomic(cg.val(op.args[0]), "a")
        conds = [f"{a} > {RAM - size}"] + ([] if load else cg.code_checks(a, size))
        cg.bail_if(" or ".join(conds), k, ip)
        cg.access(op, load, size, a)

    def space_value(self, n):
        return "0"

    def guard(self, cg, fast):
        return []


TOY = IRTarget("toy", ("a", "b"), ("mem",), "pc",
               FlagRecord({"op": "kind", "res": "res", "a": "x", "b": "y", "size": "n", "fl": "flags"},
                          cf_mask=1, cf_hidden=(), record_uses={}, carry_exprs={}),
               {}, FlatMemory())


class ToyFront(TranslatorOps):
    """Registers written at the instruction's end; one instruction per step."""

    def __init__(self, block):
        super().__init__(block, TOY)
        self.pend = {}

    def checkpoint(self):
        return len(self.block.ops), self.ntemps

    def rollback(self, cp):
        del self.block.ops[cp[0]:]
        self.ntemps = cp[1]
        self.pend.clear()

    def commit(self):
        for n, v in self.pend.items():
            self.emit("setr", (v,), (n, 8), out=False)
        self.pend.clear()

    def get(self, n):
        return self.emit("getr", aux=(n, 8), bits=64)

    def set(self, n, v):
        self.pend[n] = v


class Insn:
    helper = False

    def __init__(self, ip, handler):
        self.ip, self.next_ip, self.handler, self.name = ip, ip + 1, handler, "toy"


def add_load(ops, insn):        # b = a + mem[a]
    a = ops.get(0)
    ops.set(1, ops.op2("add", a, ops.emit("ld", (a,), (0, 1), bits=8)))


def xor3(ops, insn):            # a = a ^ 3
    ops.set(0, ops.op2("xor", ops.get(0), 3))


class State:
    def __init__(self):
        self.pc = self.kind = self.res = self.x = self.y = self.n = self.flags = 0


def toy_block():
    blk = IRBlock(0x10, 0x10)
    b = ToyFront(blk)
    for k, h in enumerate((add_load, xor3)):
        blk.insns.append(Insn(0x10 + k, h))
        assert b.translate_insn(k, blk.insns[-1])
    b.end_block(0x12)
    return optimize(blk)


def run(blk, regs):
    src, exits = generate(blk, (1 << 32) - 1, RAM, False)
    s = State()
    mm = bytearray(RAM)
    mm[5] = 7
    ns = {"R": regs, "S": s, "MM": mm, "CP": bytearray(RAM >> 6), **PACKERS}
    exec(src, ns)
    code = ns["tb"](100)
    return src, s, code >> EXIT_SHIFT, exits[code & EXIT_MASK]


def test_the_dump_names_the_targets_registers():
    text = toy_block().dump()
    assert "getr a, 8" in text and "setr b, 8" in text and "ld1 mem:[" in text


def test_generated_code_uses_only_what_the_target_declared():
    src, s, retired, ex = run(toy_block(), regs := [5, 0])
    assert regs == [6, 12] and s.pc == 0x12 and retired == 2 and ex.kind == GOTO
    assert "S.pc = " in src
    for x86 in ("rip", "SEGS", "cc_op", "B0", "L0"):
        assert x86 not in src


def test_a_load_the_hooks_refuse_bails_before_the_instruction():
    src, s, retired, ex = run(toy_block(), regs := [RAM, 0])
    assert regs == [RAM, 0] and s.pc == 0x10 and retired == 0 and ex.kind == BAIL


def test_a_front_end_must_fill_in_the_hooks():
    class Bare(TranslatorOps):
        pass

    blk = IRBlock(0, 0)
    b = Bare(blk, TOY)
    with pytest.raises(NotImplementedError):
        b.translate_insn(0, Insn(0, xor3))
