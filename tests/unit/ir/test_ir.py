"""Unit tests for the IR: opcode table, builder folding, optimiser passes, Python codegen."""

import pytest

from emu.ir.builder import IRBuilder, X86IRBuilder
from emu.ir.codegen import GOTO, generate
from emu.ir.ir import IRBlock, RuntimeBranch, Temp
from emu.ir.opcodes import OPCODES, PURE
from emu.ir.optimize import dce, dead_flags, optimize, propagate
from emu.isa.x86 import flags as F
from emu.isa.x86.models import get_model


def new_builder():
    blk = IRBlock(0x7C00, 0x7C00)
    return blk, X86IRBuilder(blk, get_model("max"), ss32=False, long64=False)


def test_opcode_table_is_data_and_complete():
    for name, d in OPCODES.items():
        assert d.name == name
        if PURE in d.flags and name not in ("call", "getr", "getseg", "getcc"):
            assert d.py is not None, name
    assert OPCODES["add"].py.format("a", "b") == "a + b"


def test_folding_while_emitting():
    blk, b = new_builder()
    t = b.get_reg(0, 2)
    assert t + 0 is t and 0 + t is t and t * 1 is t and t ^ 0 is t
    assert (t & 0xFFFF) is t                   # already 16 bits wide
    assert (t & 0) == 0 and (3 + 4) == 7
    u = (t + 1) & 0xFFFF
    assert isinstance(u, Temp) and u.bits == 16
    assert ((u & 0xFF) & 0xF).op.args[1] == 0xF  # (x & c1) & c2 -> x & (c1 & c2)
    assert b.select(True, t, u) is t and b.select(t == 1, u, u) is u


def test_runtime_branch_is_a_clear_error():
    blk, b = new_builder()
    t = b.get_reg(0, 2)
    with pytest.raises(RuntimeBranch, match="helper=True"):
        if t == 0:
            pass
    with pytest.raises(TypeError):
        {t: 1}


def test_register_writes_commit_at_the_end_of_the_instruction():
    blk, b = new_builder()
    b.set_reg(0, 1, 5)                     # AL = 5, pending
    assert not [o for o in blk.ops if o.name == "setr"]
    ax = b.get_reg(0, 2)                   # sees the pending low byte merged into AX
    assert isinstance(ax, Temp)
    b.insn = type("I", (), {"next_ip": 0})()
    b.commit()
    assert [o.aux for o in blk.ops if o.name == "setr"] == [(0, 1)]


def test_cond_after_cmp_is_an_inline_compare():
    blk, b = new_builder()
    a = b.get_reg(1, 2)
    b.set_cc(F.CC_SUB, (a - 7) & 0xFFFF, a, 7, 2)
    ne = b.cond(F.CC_NZ)
    assert ne.op.name == "ne" and ne.op.args == [a, 7]
    assert b.cond(F.CC_L).op.name == "lt"


def _loop_block():
    """add ax,cx; inc cx; cmp cx,N; jne start, as the builder emits it."""
    blk, b = new_builder()

    def start(k):
        b.emit("insn_start", aux=(k, 0x7C00 + 2 * k), out=False)
    start(0)
    ax, cx = b.get_reg(0, 2), b.get_reg(1, 2)
    r = (ax + cx) & 0xFFFF
    b.set_cc(F.CC_ADD, r, ax, cx, 2)
    b.set_reg(0, 2, r)
    b.insn = type("I", (), {"next_ip": 0x7C02})()
    b.commit()
    start(1)
    r2 = (cx + 1) & 0xFFFF
    b.flags_before_inc()
    b.set_cc(F.CC_INC, r2, cx, 1, 2)
    b.set_reg(1, 2, r2)
    b.commit()
    start(2)
    b.set_cc(F.CC_SUB, (r2 - 100) & 0xFFFF, r2, 100, 2)
    b.commit()
    start(3)
    b.branch(b.cond(F.CC_NZ), 0x7C00)
    b.insn = type("I", (), {"next_ip": 0x7C0A})()
    b.commit()
    blk.insns = [None] * 4
    return blk


def test_optimiser_drops_dead_flag_records_and_cf_folds():
    blk = _loop_block()
    names = [o.name for o in blk.ops]
    assert names.count("setcc") == 3 and "foldcf" in names
    optimize(blk)
    names = [o.name for o in blk.ops]
    assert names.count("setcc") == 1 and "foldcf" not in names and "getcc" not in names


def test_passes_individually():
    blk, b = new_builder()
    t = b.get_reg(0, 2)
    dead = b.emit("add", (t, 5), bits=17)
    b.emit("mov", (t,))
    b.end_block(0)
    propagate(blk)
    assert not [o for o in blk.ops if o.name == "mov"]
    dce(blk)
    assert dead.op not in blk.ops and not [o for o in blk.ops if o.name == "getr"]
    dead_flags(blk)
    assert blk.ops[-1].name == "goto_tb"


def _compile(blk, loop):
    src, exits = generate(blk, (1 << 52) - 1, 1 << 20, loop)
    from emu.accel.tcg import Translator  # noqa: F401  (namespace names match the engine's)
    from emu.ir.codegen import PACKERS
    from emu.isa.x86.state import X86State
    s = X86State()
    ns = {"R": s.regs, "S": s, "SEGS": s.segs, "MM": bytearray(1 << 20), "CP": bytearray(1 << 14), **PACKERS}
    exec(src, ns)
    return ns["tb"], s, src, exits


def test_codegen_loop_runs_in_the_function_and_writes_back():
    blk = optimize(_loop_block())
    fn, s, src, exits = _compile(blk, loop=True)
    assert "while True:" in src and "r0 = (r0 + r1) & 65535" in src
    s.regs[0], s.regs[1] = 0xABCD0000, 0
    code = fn(10_000)
    retired, e = code >> 16, code & 0xFFFF
    assert retired == 400 and exits[e].kind == GOTO and exits[e].target == 0x7C0A
    assert s.regs[1] == 100 and s.regs[0] == 0xABCD0000 | (sum(range(100)) & 0xFFFF)
    assert s.rflags & (F.ZF | F.CF) == F.ZF and s.rip == 0x7C0A


def test_codegen_loop_stops_at_the_budget():
    blk = optimize(_loop_block())
    fn, s, src, exits = _compile(blk, loop=True)
    code = fn(10)                       # two iterations fit, the third does not
    assert code >> 16 == 8 and s.rip == 0x7C00 and s.regs[1] == 2
