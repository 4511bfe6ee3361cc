"""The interpreter's bound semantics (``emu.isa.x86.bind``) do what the
semantic function does on ConcreteOps: every instruction below runs from
the same random state once through ``insn.handler`` and once through
``insn.run``, and the registers, RIP, the flags, the lazy flags record's
outcome, a fault and RAM must all agree."""

import random

import pytest

from emu.isa.ops import GuestException
from emu.isa.x86 import flags as F
from emu.isa.x86.insn import REG
from emu.machine import Machine

ORG = 0x7C00

#: real-mode encodings of every operand shape the binder rewrites: register,
#: high-byte register, immediate, memory with base / index / both / neither,
#: 8/16/32-bit operand and 16/32-bit address sizes, and the conditions,
#: jumps, register helpers and flag reads it inlines
CODES = {
    "add ax, bx": "01d8", "add al, ah": "00e0", "add bh, 0x7f": "80c77f", "add eax, ecx": "6601c8",
    "add [bx+si+4], ax": "014004", "add ax, [bp-2]": "0346fe", "add [0x120], dl": "001620 01",
    "add byte [di], 0x80": "800580", "adc dx, 0": "83d200", "adc [si], ax": "1104",
    "sbb cx, bx": "19d9", "sub eax, [ebx+ecx*4+8]": "6667 2b448b08", "cmp al, 0x41": "3c41",
    "and si, di": "21fe", "or ah, [bx]": "0a27", "xor ebp, ebp": "6631ed", "test bl, 1": "f6c301",
    "inc word [bx+di]": "ff01", "dec cl": "fec9", "inc ax": "40", "neg dx": "f7da",
    "mov ax, [0x140]": "a14001", "mov [bx+6], cx": "894f06", "mov dh, 0x12": "b612",
    "mov es:[di], ax": "268905", "movzx eax, byte [si]": "66 0fb604", "lea bx, [bp+si+3]": "8d5a03",
    "lea eax, [eax+eax*2]": "6667 8d0440", "xchg ax, dx": "92", "xchg [bx], cl": "860f",
    "mul word [0x130]": "f7263001", "mul bl": "f6e3", "imul cx": "f7e9", "imul ax, bx, 7": "6bc307",
    "shl ax, 1": "d1e0", "shr byte [si], 3": "c02c03", "rcr dx, 1": "d1da", "rol bx, cl": "d3c3",
    "jz +4": "7404", "jnc -6": "73fa", "jg +0x10": "7f10", "jle +2": "7e02", "jmp +3": "eb03",
    "loop -4": "e2fc", "loopz -4": "e1fc", "jcxz +2": "e302", "call +5": "e80500", "ret": "c3",
    "push ax": "50", "pop si": "5e", "push word [bx]": "ff37", "cbw": "98", "cwd": "99",
    "setc al": "0f92c0", "cmovz ax, bx": "0f44c3", "bt ax, 3": "0fbae003", "bsf cx, dx": "0fbcca",
    "div bl": "f6f3", "not word [bx]": "f717", "sahf": "9e", "lahf": "9f", "cmc": "f5",
}


def _prepare(m, image: bytes, regs, fl, lazy):
    """``m`` with RAM's first 64 KiB = ``image`` and the given registers,
    flags and lazy flags record."""
    m.ram.mm[:len(image)] = image
    s = m.cpu
    s.regs[:8] = regs
    s.rflags = fl | m.model.flags_set
    if lazy is not None:
        # a lazy record (SUB, ADD, INC, logic ...) for get_cf and conditions
        op, res, a, b, size = lazy
        m.accel.core.ops.set_cc(op, res, a, b, size)


def _outcome(m, bound: bool):
    core = m.accel.core
    ops = core.ops
    s = m.cpu
    insn = core.decode_at(ORG, ORG)
    ops.insn = insn
    s.rip = insn.next_ip
    fault = None
    try:
        (insn.run if bound else insn.handler)(ops, insn)
    except GuestException as e:
        fault = e.vector
    return (list(s.regs[:8]), s.rip, ops.get_flags(), [ops.cond(cc) for cc in range(16)],
            fault, bytes(m.ram.mm[:0x10000]))


#: shapes that must be bound (the common ones; a binder that silently
#: rewrites nothing would pass the comparison above)
MUST_BIND = ("add ax, bx", "add [bx+si+4], ax", "adc dx, 0", "mov ax, [0x140]", "inc word [bx+di]",
             "jz +4", "loop -4", "mul word [0x130]", "xchg ax, dx", "lea eax, [eax+eax*2]", "cmp al, 0x41")


@pytest.mark.parametrize("name", sorted(CODES))
def test_bound_form_does_what_the_semantics_do(name):
    code = bytes.fromhex(CODES[name].replace(" ", ""))
    rng = random.Random(name)
    lazy_ops = (F.CC_ADD, F.CC_SUB, F.CC_LOGIC, F.CC_INC, F.CC_DEC, F.CC_ADC, F.CC_SBB)
    ref_m, got_m = (Machine("pc", "interp", memory=1 << 20) for _ in range(2))
    try:
        ref_m.load_image(code)
        got_m.load_image(code)
        clean = bytes(ref_m.ram.mm[:0x10000])
        for _ in range(40):
            size = rng.choice((1, 2, 4))
            top = (1 << (8 * size)) - 1
            regs = [rng.choice((0, 1, 0xFFFF, 0x8000, rng.getrandbits(32))) for _ in range(8)]
            regs[4] = 0x6000 + rng.randrange(0, 0x100, 2)         # SP in RAM, clear of the code
            for r in (3, 5, 6, 7):
                if rng.random() < 0.7:
                    regs[r] &= 0x0FFF                             # BX BP SI DI: pointing at data
            fl = rng.getrandbits(12) & 0x8D5
            lazy = None
            if rng.random() < 0.6:
                a, b = rng.getrandbits(8 * size), rng.getrandbits(8 * size)
                lazy = (rng.choice(lazy_ops), (a - b) & top, a, b, size)
            image = bytearray(clean)
            for _ in range(64):
                image[rng.randrange(0, 0x2000)] = rng.getrandbits(8)
            _prepare(ref_m, image, regs, fl, lazy)
            _prepare(got_m, image, regs, fl, lazy)
            ref = _outcome(ref_m, bound=False)
            got = _outcome(got_m, bound=True)
            assert got[:5] == ref[:5], f"{name}: regs/rip/flags/conditions/fault differ"
            assert got[5] == ref[5], f"{name}: RAM differs"
    finally:
        ref_m.close()
        got_m.close()


@pytest.mark.parametrize("name", MUST_BIND)
def test_common_shapes_are_bound(name):
    m = Machine("pc", "interp", memory=1 << 20)
    try:
        m.load_image(bytes.fromhex(CODES[name].replace(" ", "")))
        insn = m.accel.core.decode_at(ORG, ORG)
        assert insn.run is not insn.handler
    finally:
        m.close()


def test_a_second_machine_makes_no_factory_the_first_made():
    """A factory (the rewritten, compiled source of one semantic function
    for one operand shape) is made once per process: a second machine
    decoding the same instructions binds each with no source read or
    compiled -- counted as the factories its binder made (a bench's
    repeated runs, each a new machine, otherwise paid for it each time)."""
    code = b"".join(bytes.fromhex(CODES[n].replace(" ", "")) for n in MUST_BIND[:6])
    made = []
    for _ in range(2):
        m = Machine("pc", "interp", memory=1 << 20)
        try:
            m.load_image(code)
            core = m.accel.core
            ip = ORG
            for _ in MUST_BIND[:6]:
                insn = core.decode_at(ip, ip)
                assert insn.run is not insn.handler
                ip = insn.next_ip
            made.append(core.binder.made)
        finally:
            m.close()
    assert made[1] == 0, made


def _semantic_functions():
    from emu.isa.x86.semantics import REGISTRY
    return sorted({fn for fn in REGISTRY.table.values()}, key=lambda f: f.__code__.co_firstlineno)


def test_every_semantic_function_source_matches_its_code():
    """The binder rewrites a function's source only where that source
    compiles to the function's own code: for every registered x86 semantic
    function the check must hold (or a function would silently run unbound)."""
    import ast
    import inspect
    import textwrap
    from emu.isa.x86 import bind
    checked = 0
    for fn in _semantic_functions():
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        if isinstance(tree.body[0], ast.FunctionDef):
            assert bind._same_code(fn), fn.__qualname__
            checked += 1
    assert checked > 100


def test_an_edited_source_is_not_bound(tmp_path):
    """A source file that differs from the running code (edited after the
    import) is not rewritten: the function runs as it is."""
    import importlib.util
    from emu.isa.x86 import bind
    path = tmp_path / "semfile.py"
    path.write_text("def add_one(ops, i):\n    ops.write(i.ops[0], ops.read(i.ops[0]) + 1)\n")
    spec = importlib.util.spec_from_file_location("semfile", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert bind._same_code(mod.add_one)
    assert bind._factory(mod.add_one, (REG,)) is not None
    path.write_text("def add_one(ops, i):\n    ops.write(i.ops[0], ops.read(i.ops[0]) + 2)\n")
    assert not bind._same_code(mod.add_one)
    assert bind._factory(mod.add_one, (REG,)) is None

