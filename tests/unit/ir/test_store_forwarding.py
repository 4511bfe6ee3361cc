"""A load of what a store just wrote is the stored value.

``inc dword [x]`` then ``cmp dword [x], n`` stores, then reads back, the
same bytes: with no other store and no call between, the load is the value
stored (the store's checks of the address cover the load's: a segment or
page a store may write, a load may read), so the translator drops it.  A
store between that may alias (another address, known or not), an access
made only under a condition, and a value wider than the bytes stored keep
the load.  Stopped anywhere, the state is the interpreter's: a store
between that aliases at run time, a counter in the granule of the code
that reads it (every store then leaves for the interpreter), an operand
the loop itself patches in its code, and a 16-bit word at offset 0xFFFF
(#GP in real-address mode, SDM Vol. 3A ch. 20)."""

import re

import pytest

from emu.ir.optimize import reuse_loads
from tests.differential.pm32 import guest
from tests.differential.translated import stopped_at, tcg_regions
from tests.unit.ir.x86_guests import REAL_GP_ENTRY
from tests.unit.ir.test_ir import new_builder


def _block(between=None, value=None, cond=False):
    """A block storing then loading the dword at 3:0x600 (``between``: a
    callback emitting ops between them); the load and the block."""
    blk, b = new_builder()
    b.emit("insn_start", aux=(0, 0x7C00), out=False)
    x = b.load(3, 0x604, 4)
    v = b.op2("and", b.op2("add", x, 1), 0xFFFFFFFF) if value is None else value(b, x)
    b.store(3, 0x600, 4, v)
    if between is not None:
        between(b)
    y = b.load(3, 0x600, 4)
    b.set_reg(0, 4, y)
    b.commit()
    b.end_block(0x7C03)
    reuse_loads(blk)
    return blk, v, y


def test_a_load_of_what_was_just_stored_is_the_stored_value():
    blk, v, y = _block()
    assert y.op not in blk.ops
    assert [o.args[0] for o in blk.ops if o.name == "setr"] == [v]
    blk, v, y = _block(value=lambda b, x: 0x1234)           # a constant
    assert y.op not in blk.ops
    assert [o.args[0] for o in blk.ops if o.name == "setr"] == [0x1234]


@pytest.mark.parametrize("between", [
    lambda b: b.store(3, 0x700, 4, 5),                       # another address: may alias
    lambda b: b.store(3, b.get_reg(3, 4), 1, 5),             # an address known at run time
    lambda b: b.store(0, 0x600, 4, 5),                       # another space, the same offset
    lambda b: b.emit("call_bail", (0,), ("load_seg_real",)),  # may write memory
])
def test_a_store_between_keeps_the_load(between):
    blk, _v, y = _block(between)
    assert y.op in blk.ops


def test_a_value_wider_than_the_store_keeps_the_load():
    """A value with bits above the bytes stored (an ``st`` op made directly:
    the x86 front end masks what it stores) is not what a load reads back."""
    for wide in (lambda b, x: b.op2("add", x, 1), lambda b, x: 1 << 32, lambda b, x: -1):
        blk, b = new_builder()
        b.emit("insn_start", aux=(0, 0x7C00), out=False)
        x = b.load(3, 0x604, 4)
        b.emit("st", (0x600, wide(b, x)), (3, 4), out=False)
        y = b.load(3, 0x600, 4)
        b.set_reg(0, 4, y)
        b.commit()
        b.end_block(0x7C03)
        reuse_loads(blk)
        assert y.op in blk.ops


COUNTER = guest("""
    mov dword ptr [0x600], 0
    xor eax, eax
again:
    inc dword ptr [0x600]
    add eax, dword ptr [0x600]  ; reads back what the INC stored
    cmp dword ptr [0x600], 300
    jb again
    mov [0x500], eax
    hlt
""")


def test_the_translated_loop_reads_its_counter_back_from_no_memory():
    """One load of the counter a pass (the INC's), not three."""
    for code in tcg_regions(lambda accel, log: stopped_at(COUNTER, accel, 16 << 20, 20_000,
                                                          (0x500, 4), log)):
        if "again" in code or "W4[" in code:
            loads = re.findall(r"= W4\[(\w+)\]", code)
            stores = re.findall(r"W4\[(\w+)\] = ", code)
            assert stores
            for w in set(stores):
                assert loads.count(w) <= stores.count(w)


ALIASING = guest("""
    mov dword ptr [0x600], 0
    mov ebx, 0x600
    xor eax, eax
    xor esi, esi
    mov ecx, 200
again:
    inc dword ptr [0x600]
    mov [ebx], esi              ; the counter on every other pass
    xor ebx, 4
    add eax, dword ptr [0x600]
    inc esi
    loop again
    mov [0x500], eax
    mov ebx, [0x600]
    mov [0x504], ebx
    hlt
""")

NEAR_CODE = guest("""
    xor eax, eax
    jmp again
counter:
    .long 0
again:
    inc dword ptr [counter]     ; the code's own granule
    add eax, dword ptr [counter]
    inc dword ptr [imm_end - 4] ; the ADD's immediate below
    mov edx, dword ptr [imm_end - 4]
    add eax, 0x11111111
imm_end:
    add eax, edx
    cmp dword ptr [counter], 150
    jb again
    mov [0x500], eax
    hlt
""")


@pytest.mark.parametrize("src", [COUNTER, ALIASING, NEAR_CODE], ids=["counter", "aliasing", "smc"])
@pytest.mark.parametrize("limit", [30, 31, 33, 1000, 1003, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(src, limit):
    run = [stopped_at(src, accel, 16 << 20, limit, (0x500, 8)) for accel in ("tcg", "interp")]
    assert run[0] == run[1]
    if limit == 100_000:
        assert run[0][0] == "halt"


REAL_WRAP = REAL_GP_ENTRY + """
    mov bx, 0xFFF0
    mov word ptr [0xFFFE], 0
    mov cx, 40
again:
    inc word ptr [bx + 0xE]     ; offset 0xFFFF at the last pass: #GP
    add ax, word ptr [bx + 0xE]
    mov word ptr [bx + 0xE], ax
    add ax, word ptr [bx + 0xE]
    cmp cx, 2
    jne same
    inc bx
same:
    loop again
    mov [0x500], ax
    hlt
gp:
    mov [0x502], bx
    hlt
"""


@pytest.mark.parametrize("limit", [40, 41, 300, 100_000])
def test_a_16_bit_word_at_the_segments_end_faults_as_on_the_interpreter(limit):
    run = [stopped_at(REAL_WRAP, accel, 16 << 20, limit, (0x500, 4)) for accel in ("tcg", "interp")]
    assert run[0] == run[1]
    if limit == 100_000:
        assert run[0][0] == "halt" and run[0][-1][2:] == b"\xf1\xff"
