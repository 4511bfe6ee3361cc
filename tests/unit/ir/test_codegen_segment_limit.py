"""A translated access checks its segment's own limit, not the budget.

The code generator once kept the instruction budget it entered with in a
local named ``L0`` -- the name x86's memory hooks give segment 0's (ES's)
limit -- so every ES access of a loop or region compared its offset with
the budget: a store beyond ES's limit went through while the budget was
larger (no #GP), and one below it bailed while the budget was smaller.
The guest stores bytes through an ES of limit 0xFFF (32-bit protected
mode, no IDT) at offsets 0, 1, 2, ...: the store at 0x1000 must raise #GP,
which without an IDT is a triple fault (SDM Vol. 3A §6.15, "Interrupt
8--Double Fault Exception"), with every byte below it written and none at
or above it, on the translator as on the interpreter."""

import pytest

from emu import loader
from emu.machine import Machine

from tests.differential.pm32 import guest

GUEST = guest("""
    mov ax, 0x18
    mov es, ax
    xor edi, edi
again:
    mov byte ptr es:[edi], 1
    inc edi
    cmp edi, 0x3000
    jb again
    mov al, 0
    out 0xf4, al
    hlt
""")


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_a_store_beyond_the_es_limit_faults(accel):
    m = Machine(accel=accel)
    try:
        m.load_image(loader.assemble(GUEST, "<test>", 0x7C00).data)
        r = m.run(icount_limit=200_000)
        assert (r.reason, r.status) == ("shutdown", 3), r.message
        assert "#GP" in r.message
        assert m.ram.read_bytes(0, 0x1000) == bytes([1] * 0x1000)
        assert m.ram.read_bytes(0x1000, 0x2000) == bytes(0x2000)
    finally:
        m.close()
