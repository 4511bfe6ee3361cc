"""Translated stores through a segment whose base is not 0 (ES = 0x1000).

Once a block is hot (16 runs) it is translated, and a segment whose whole
64 KiB is RAM gets the fast path: the store's linear address is the base
plus the 16-bit offset.  The offset expression once went in unparenthesised
-- ``B0 + (t2 + 2) & 65535``, which Python reads as ``(B0 + t2 + 2) &
65535`` -- so the base was dropped and the store landed in the first 64
KiB instead.  The guests store a byte through ES at 16 * k + 2 for k < 40,
in a loop of one block and in a region of two, and print what landed
there: every one must be 10, as on the interpreter."""

import pytest

from emu import loader
from emu.machine import Machine

SINGLE_BLOCK = """
again:
    mov di, bp
    shl di, 4
    mov word ptr es:[di], 0x4141
    mov byte ptr es:[di + 2], 10
    inc bp
    cmp bp, 40
    jb again
"""

REGION = """
again:
    mov di, bp
    shl di, 4
    test bp, 1
    jz even
    mov word ptr es:[di], 0x4141
even:
    mov byte ptr es:[di + 2], 10
    inc bp
    cmp bp, 40
    jb again
"""

PROLOGUE = """
    xor ax, ax
    mov ds, ax
    mov ax, 0x1000
    mov es, ax
    xor bp, bp
"""

SHOW = """
    xor si, si
    mov cx, 40
    mov dx, 0x3f8
show:
    mov al, es:[si + 2]
    out dx, al
    add si, 16
    loop show
    mov al, 0
    out 0xf4, al
"""


@pytest.mark.parametrize("accel", ["interp", "tcg"])
@pytest.mark.parametrize("loop", [SINGLE_BLOCK, REGION], ids=["one block", "a region"])
def test_every_es_store_of_a_hot_loop_lands(accel, loop):
    image = loader.assemble(PROLOGUE + loop + SHOW, "<test>", 0x7C00).data
    m = Machine(accel=accel)
    try:
        m.load_image(image)
        r = m.run(icount_limit=100_000)
        assert (r.reason, r.status) == ("debug-exit", 1), r.message
        assert m.serial_output() == bytes([10] * 40)
    finally:
        m.close()
