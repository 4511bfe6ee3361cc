"""Unit tests for the IR: opcode table, builder folding, optimiser passes, Python codegen."""

import pytest

from emu.isa.x86.ir_front import X86IRBuilder
from emu.isa.x86.ir_globals import PURE_CALLS
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


def test_a_helper_call_only_where_the_semantics_say_so():
    """NotInlinable (and RuntimeBranch) makes the instruction a helper
    call; any other error in a semantic function is a bug and propagates
    instead of becoming a silent helper call."""
    def insn(handler):
        return type("I", (), {"helper": False, "handler": staticmethod(handler), "ip": 0x7C00,
                              "name": "t", "next_ip": 0x7C01})()

    def branches(ops, i):
        if ops.get_reg(0, 2):
            pass

    def buggy(ops, i):
        return {}[ops.get_reg(0, 2) is None]

    blk, b = new_builder()
    assert b.translate_insn(0, insn(branches)) is False
    assert blk.ops[-1].name == "call_helper" and b.fallback_reason.startswith("RuntimeBranch")
    blk, b = new_builder()
    with pytest.raises(KeyError):
        b.translate_insn(0, insn(buggy))


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
    assert "while True:" in src and "r0 = r0 + r1\n" in src and "if r0 > 65535: r0 -= 65536" in src
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


# -- regions ------------------------------------------------------------------------------
class _I:
    """Just enough of a decoded instruction for the builder's commit."""

    def __init__(self, next_ip):
        self.next_ip = next_ip


def _block(ip, body, succ):
    """A block at ``ip``: ``body(b)`` emits one instruction; then a direct jump:
    ``succ`` = [t] (goto) or [t, f] (brcond on ZF to t, else f)."""
    blk, b = new_builder()
    blk.ip = blk.pc = ip
    b.emit("insn_start", aux=(0, ip), out=False)
    b.insn = _I(ip + 1)
    body(b)
    b.commit()
    b.emit("insn_start", aux=(1, ip + 1), out=False)
    b.insn = _I(ip + 2)
    if len(succ) == 2:
        b.branch(b.cond(F.CC_Z), succ[0])
        b.insn = _I(succ[1])
    else:
        b.jump(succ[0])
    b.commit()
    blk.insns = [None, None]
    propagate(blk)
    dce(blk)
    return blk


def _cmp_cx(b):
    cx = b.get_reg(1, 2)
    b.set_cc(F.CC_SUB, (cx - 7) & 0xFFFF, cx, 7, 2)


def _dec_cx(b):
    cx = b.get_reg(1, 2)
    r = (cx - 1) & 0xFFFF
    b.flags_before_inc()
    b.set_cc(F.CC_DEC, r, cx, 1, 2)
    b.set_reg(1, 2, r)


def _load_al(b):
    b.set_reg(0, 1, b.load(3, b.get_reg(6, 2), 1))


def test_plan_region_breaks_every_cycle_and_keeps_return_sites():
    from emu.ir.codegen import plan_region
    # 1 -> 2 -> 3 -> 2 (a loop not through the head), 4 unreachable by jumps
    blocks = {1: _block(1, _cmp_cx, [2]), 2: _block(2, _cmp_cx, [3]),
              3: _block(3, _cmp_cx, [2, 5]), 4: _block(4, _cmp_cx, [1]), 5: _block(5, _cmp_cx, [1])}
    d = plan_region(blocks, 1)
    assert 1 in d and 4 in d and (2 in d or 3 in d)
    assert 5 not in d                      # reached only from 3, on no cycle outside the head


def test_region_liveness_drops_what_the_next_block_overwrites():
    from emu.ir.optimize import region_liveness
    # A: dec cx (a DEC record and a CF fold), then B: cmp cx, 7 (a SUB record,
    # which hides fl's CF) and a branch
    a, b = _block(1, _dec_cx, [2]), _block(2, _cmp_cx, [1, 3])
    live = region_liveness({1: a, 2: b}, dispatch={1})
    assert not live[2] & {"op", "res", "a", "b", "size", "cf"}
    assert not {"setcc", "foldcf"} & {o.name for o in a.ops}
    # the same jump into a dispatch point: it may stop there for the budget,
    # so A's record and fold stay
    a, b = _block(1, _dec_cx, [2]), _block(2, _cmp_cx, [1, 3])
    region_liveness({1: a, 2: b}, dispatch={1, 2})
    assert {"setcc", "foldcf"} <= {o.name for o in a.ops}


def test_region_code_runs_and_keeps_the_budget():
    from emu.ir.codegen import EXIT_SHIFT, generate_region
    from emu.ir.optimize import region_liveness
    from emu.isa.x86.state import X86State
    # 1: dec cx; jz 3 else 1 (a loop); 3 is outside the region
    blk = _block(1, _dec_cx, [3, 1])
    blocks = {1: blk}
    live = region_liveness(blocks, {1})
    src, exits, tables, max_path = generate_region(blocks, 1, {1}, live, (1 << 52) - 1, 1 << 20)
    s = X86State()
    ns = {"R": s.regs, "S": s, "SEGS": s.segs, "MM": bytearray(1 << 20), "CP": bytearray(1 << 14),
          **tables, **{name: fn for name, (fn, _) in PURE_CALLS.items()}}
    exec(src, ns)
    s.regs[1] = 10
    code = ns["region"](7)                       # budget: 3 passes of 2, then stop
    assert code >> EXIT_SHIFT == 6 and s.regs[1] == 7 and s.rip == 1
    code = ns["region"](1000)
    assert code >> EXIT_SHIFT == 14 and s.regs[1] == 0 and exits[code & 0xFFFF].target == 3
    assert s.rflags & F.ZF and max_path[1] == 2


def test_builder_takes_cf_out_of_a_packed_word_and_cond_with_unknown_op():
    blk, b = new_builder()
    x = b.get_reg(0, 2)
    packed = ((x & 1) | ((x >> 15) << 1)) | 0x10
    assert (packed & 1).op.name == "and" and (packed & 1).op.args[0] is x
    z = b.cond(F.CC_Z)                           # cc_op only known at run time
    c = b.cond(F.CC_B)
    calls = [o.aux[0] for o in blk.ops if o.name == "call"]
    assert "cond" not in calls and calls == ["carry"]
    assert isinstance(z, Temp) and isinstance(c, Temp)


def test_codegen_leaves_record_fields_the_operation_never_reads():
    blk, b = new_builder()
    b.emit("insn_start", aux=(0, 0x7C00), out=False)
    ax = b.get_reg(0, 2)
    b.set_cc(F.CC_LOGIC, ax & 0xFF, ax, 3, 1)
    b.insn = _I(0x7C02)
    b.commit()
    b.end_block(0x7C02)
    blk.insns = [None]
    optimize(blk)
    src, _ = generate(blk, (1 << 52) - 1, 1 << 20, False)
    assert "S.cc_res" in src and "S.cc_a" not in src and "S.cc_b" not in src


def test_paged_access_goes_through_the_tlb_or_bails():
    from emu.ir.codegen import BAIL
    from emu.isa.x86.ir_mem import X86Memory
    from emu.isa.x86.state import X86State
    blk, b = new_builder()
    b.emit("insn_start", aux=(0, 0x7C00), out=False)
    b.insn = _I(0x7C03)
    _load_al(b)
    b.commit()
    b.end_block(0x7C03)
    blk.insns = [None]
    optimize(blk)
    src, exits = generate(blk, (1 << 52) - 1, 1 << 20, False,
                          mem=X86Memory(paged=True, user=True, lin_mask=0xFFFFFFFF))
    s = X86State()
    mm = bytearray(1 << 20)
    mm[0x5123] = 0x99

    class Tr:
        tlb = {0x12345: (0x5000, 0b10001)}      # readable at CPL 3, not writable
    ns = {"R": s.regs, "S": s, "SEGS": s.segs, "MM": mm, "CP": bytearray(1 << 14),
          "OPS": type("O", (), {"translate": Tr})}
    exec(src, ns)
    s.segs[3].base, s.segs[3].limit = 0x12345000, 0xFFFFFFFF
    s.regs[6] = 0x123
    code = ns["tb"](10)
    assert code >> 16 == 1 and s.regs[0] & 0xFF == 0x99
    s.regs[6] = 0x1123                          # not in the TLB: the interpreter walks
    code = ns["tb"](10)
    assert code >> 16 == 0 and exits[code & 0xFFFF].kind == BAIL and s.rip == 0x7C00


def test_dead_register_writes():
    from emu.ir.optimize import dead_regs
    blk, b = new_builder()
    b.emit("insn_start", aux=(0, 0x7C00), out=False)
    b.insn = _I(0x7C02)
    b.set_reg(3, 1, 0)                     # xor bl, bl: covered by the word write below
    b.commit()
    b.set_reg(0, 2, b.get_reg(0, 2) + 1)   # kept: a word write the later byte write does not cover
    b.commit()
    b.set_reg(3, 2, 8)                     # mov bx, 8
    b.set_reg(0, 1, 5)
    b.commit()
    b.end_block(0x7C02)
    dead_regs(blk)
    assert [o.aux for o in blk.ops if o.name == "setr"] == [(0, 2), (3, 2), (0, 1)]
    # a possible exit between the writes keeps the first
    blk, b = new_builder()
    b.insn = _I(0x7C02)
    b.set_reg(3, 1, 0)
    b.commit()
    b.load(3, 0x100, 1)
    b.set_reg(3, 2, 8)
    b.commit()
    b.end_block(0x7C02)
    dead_regs(blk)
    assert [o.aux for o in blk.ops if o.name == "setr"] == [(3, 1), (3, 2)]


def test_a_second_load_of_the_same_address_reuses_the_first():
    from emu.ir.optimize import reuse_loads
    blk, b = new_builder()
    b.emit("insn_start", aux=(0, 0x7C00), out=False)
    x = b.load(3, 0x600, 2)
    y = b.load(3, 0x600, 2)            # the same word: reused
    z = b.load(3, 0x600, 1)            # another size: loaded
    b.set_reg(0, 2, b.op2("add", x, y))
    b.set_reg(1, 1, z)
    b.store(3, 0x602, 2, x)
    w = b.load(3, 0x600, 2)            # after a store: loaded again
    b.set_reg(2, 2, w)
    b.end_block(0x7C03)
    reuse_loads(blk)
    loads = [o for o in blk.ops if o.name == "ld"]
    assert [o.aux for o in loads] == [(3, 2), (3, 1), (3, 2)]
    assert y.op not in blk.ops and x.op in blk.ops and w.op in blk.ops
    add = next(o for o in blk.ops if o.name == "add")
    assert add.args == [x, x]


def test_a_load_after_a_call_that_may_write_memory_is_made_again():
    from emu.ir.optimize import reuse_loads
    blk, b = new_builder()
    b.emit("insn_start", aux=(0, 0x7C00), out=False)
    x = b.load(3, 0x600, 2)
    b.emit("call_bail", (0,), ("load_seg_real",))
    y = b.load(3, 0x600, 2)
    b.set_reg(0, 2, b.op2("add", x, y))
    b.end_block(0x7C03)
    reuse_loads(blk)
    assert len([o for o in blk.ops if o.name == "ld"]) == 2
