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


def _loops(first: int, last: int) -> str:
    return "".join(f"""
    mov cx, 40
loop{k}:
    call helper
    dec cx
    jnz loop{k}
""" for k in range(first, last))


def guest(middle: str = "", after: int = 0) -> str:
    """LOOPS loops one after another, each calling the same helper of
    three blocks (a conditional inside it), then ``middle`` and ``after``
    more such loops, then the sum out of the UART."""
    return f"""
    xor ax, ax
    mov ss, ax
    mov ds, ax
    mov sp, 0x7000
    xor bx, bx
{_loops(0, LOOPS)}
{middle}
{_loops(LOOPS, LOOPS + after)}
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


def run(accel, source=None):
    image = loader.assemble(source or guest(), "<test>", 0x7C00)
    m = Machine(accel=accel)
    m.load_image(image.data, image.name, image.entry)
    return image, m, m.run()


def _regions(m) -> dict:
    """A region's exits -> the ips of its instructions, for every region."""
    return {id(tb.exits): {i.ip for i in tb.insns} for tb in m.accel.tb_cache.values() if tb.loop}


def test_a_helper_many_loops_call_is_copied_into_a_bounded_number_of_regions():
    image, m, r = run("tcg")
    try:
        assert r.reason == "debug-exit"
        regions = _regions(m)
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


# between the two groups of loops a store rewrites a byte of code in their
# page (the immediate of ``patch``): every region there is dropped, and the
# loops after it form new ones that copy the helper again
SMC_BETWEEN = """
    mov byte ptr [patch + 1], 7
patch:
    mov al, 1
"""


def test_regions_dropped_by_self_modifying_code_no_longer_count_as_copies():
    image, m, r = run("tcg", guest(SMC_BETWEEN, after=3))
    try:
        assert r.reason == "debug-exit"
        assert m.accel.stats()["invalidations"] >= 1
        helper = image.symbols["helper"]
        later = [image.symbols[f"loop{k}"] for k in range(LOOPS, LOOPS + 3)]
        regions = [ips for ips in _regions(m).values() if any(h in ips for h in later)]
        assert regions and any(helper in ips for ips in regions)
        out = m.serial_output()
    finally:
        m.close()
    _, mi, ri = run("interp", guest(SMC_BETWEEN, after=3))
    try:
        assert mi.serial_output() == out and mi.cpu.regs == m.cpu.regs
    finally:
        mi.close()
