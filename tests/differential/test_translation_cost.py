"""What translating costs, counted rather than timed: how often a block's IR
is built, how long the generated text is, how often cold code is decoded
ahead.  Translation is most of a run of large compiled code that runs a
few hundred times (gcc -O2 inlining a recursion into kilobytes of one
function): each of these is paid per translated instruction.  The
interpreter stays the judge of every result."""

from __future__ import annotations

import io
import re

from emu import bench, loader
from emu.machine import Machine
from tests.differential.test_tcg import EXIT, LOAD, asm, run, same
from tests.differential.test_region_forming import CRC


def _run_c(image):
    m = Machine(board="pc", accel="tcg", memory=16 << 20)
    m.load_image(image.data, image.name, image.entry)
    m.run(icount_limit=50_000_000)
    return m


def test_a_block_copied_into_several_regions_is_built_once():
    """Blocks copied into more than one region (a neighbourhood two hot heads
    share) and a region translated again to grow take the IR built the
    first time: the front end and the block's own passes run once per
    block."""
    image = bench.guest_image("pmc_qsort", 1)
    m = _run_c(image)
    try:
        s = m.accel.stats()
        mi = Machine(board="pc", accel="interp", memory=16 << 20)
        mi.load_image(image.data, image.name, image.entry)
        mi.run(icount_limit=50_000_000)
        assert m.serial_output() == mi.serial_output()
        mi.close()
        assert s["region_ir_reused"] > 0, s
        # no code changed in this guest: one build per distinct block
        assert s["region_ir_builds"] == len(m.accel.built_ir), s
    finally:
        m.close()


# a multiplication whose flags are pending when a later block's condition
# code is a constant (TEST): the flag computation's choice on the record's
# operation is made while generating, not carried into every exit's stores
IMUL_LOOP = """
    xor ax, ax
    mov ds, ax
    mov si, 0x500
    mov di, 0x600
    mov cx, 300
l:  mov ax, [si]
    imul ax, [di]
    mov dx, [si+2]
    add ax, dx
    add [di+4], ax
    test cx, cx
    jz z
    dec cx
    jmp l
z:  mov ax, [di+4]
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
""" + EXIT


def test_no_choice_between_literals_in_generated_code():
    image = asm(IMUL_LOOP)
    same(image, tier="tiered")
    log = io.StringIO()
    m = Machine(accel="tcg", log=log, log_flags=("out_asm",))
    m.load_image(image)
    m.run(icount_limit=100_000)
    text = log.getvalue()
    assert "def region_" in text
    literal = r"\(?-?\d+\)?"
    assert not re.search(rf"\({literal} [=!<>]=? {literal}\)", text), text
    assert not re.search(rf" if \(?{literal}\)? else ", text), text


def test_a_cold_block_is_decoded_ahead_once():
    """A block runs on the interpreter up to its control transfer until it is
    hot; its length is found by decoding ahead once, not at each of its
    cold runs -- and found again after a store into its code."""
    image = asm(CRC.format(passes=3, nbytes=8))
    m, _ = run("tcg", image, hot_threshold=10**9)
    mi, _ = run("interp", image)
    assert m.serial_output() == mi.serial_output()
    lens = m.accel.cold_lens
    labels = loader.assemble(CRC.format(passes=3, nbytes=8), "<test>", LOAD).symbols
    key = next(k for k in lens if k[1] == labels["bit"])
    assert lens[key] == 3           # SHR, RCR, JNC
    assert m.accel.stats()["blocks_translated"] == 0
    m.ram.invalidate_range(labels["bit"], 1)
    assert not m.accel.cold_lens


# a loop of ~70 instructions; the block ``late`` runs only in the second half
# of its iterations, after the loop's region formed without it
LATE = """
    xor ax, ax
    xor bx, bx
    mov cx, 400
top:
""" + "    add ax, 3\n    xor bx, ax\n" * 35 + """
    cmp cx, 200
    ja skip
late:
    add bx, 7
skip:
    dec cx
    jnz top
    add al, bl
    mov dx, 0x3f8
    out dx, al
""" + EXIT


def test_a_large_region_is_not_translated_again_for_a_late_block():
    """Growing a region translates all of it again: a large one is not grown
    for a block that only started to run after it formed -- that block
    gets code of its own, which leaves into the region -- while a small
    loop nest still grows into one function (test_region_forming)."""
    mt, _ = same(asm(LATE), tier="tiered")
    s = mt.accel.stats()
    assert s["regions_translated"] == 1
    assert s["regions_grown"] == 0, s
    late = loader.assemble(LATE, "<test>", LOAD).symbols["late"]
    tb = next(tb for tb in mt.accel.tb_cache.values() if tb.ip == late)
    assert len(tb.insns) == tb.icount == 3          # ADD, DEC, JNZ: no copy of the loop
