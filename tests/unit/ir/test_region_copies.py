"""How many regions one block is translated into.

Every hot head of a page forms a region of the blocks it reaches that have
run; when all of them run (a compiled function with several loops calling
one helper), each loop's region would copy the same helper again, and
translation time grows with the number of heads times the code they share.
A block copied into ``MAX_BLOCK_COPIES`` regions is jumped to by the next
ones instead.  Where it is translated changes nothing the guest computes:
the run is compared with the interpreter."""

from emu import loader
from emu.accel.tcg.regions import MAX_BLOCK_COPIES
from emu.machine import Machine

LOOPS = 6


def guest() -> str:
    """LOOPS loops one after another, each calling the same helper of
    three blocks (a conditional inside it), then the sum out of the UART."""
    loops = "".join(f"""
    mov cx, 40
loop{k}:
    call helper
    dec cx
    jnz loop{k}
""" for k in range(LOOPS))
    return f"""
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    xor bx, bx
{loops}
    mov dx, 0x3f8
    mov al, bl
    out dx, al
    mov al, bh
    out dx, al
    mov al, 0
    out 0xf4, al
helper:
    add bx, cx
    test cx, 1
    jz even
    xor bx, 0x55
    ret
even:
    rol bx, 1
    ret
"""


def run(accel):
    image = loader.assemble(guest(), "<test>", 0x7C00)
    m = Machine(accel=accel)
    m.load_image(image.data, image.name, image.entry)
    return image, m, m.run()


def test_a_helper_many_loops_call_is_copied_into_a_bounded_number_of_regions():
    image, m, r = run("tcg")
    try:
        assert r.reason == "debug-exit"
        regions = {}                    # a region's exits -> the ips of its instructions
        for tb in m.accel.tb_cache.values():
            if tb.loop:
                regions[id(tb.exits)] = {i.ip for i in tb.insns}
        helper = image.symbols["helper"]
        heads = [image.symbols[f"loop{k}"] for k in range(LOOPS)]
        assert sum(any(h in ips for h in heads) for ips in regions.values()) == LOOPS
        copies = sum(helper in ips for ips in regions.values())
        assert copies < LOOPS                   # not one copy per loop calling it
        assert 1 <= copies <= MAX_BLOCK_COPIES
        out = m.serial_output()
    finally:
        m.close()
    _, mi, ri = run("interp")
    try:
        assert ri.reason == r.reason and mi.serial_output() == out
        assert mi.cpu.regs == m.cpu.regs
    finally:
        mi.close()
