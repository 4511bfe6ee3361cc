"""Region formation whatever order the blocks of a loop nest first ran in.

A loop nest gets hot piece by piece: the inner loop first (its region is
formed then), the outer loop's tail only when the inner loops are done
(the region grows to take it in), while blocks inside the inner loop keep
being entered from cold code on the way back in.  However that happens,
the hot loop must end up in one region function -- not two that hand
control to each other through the dispatcher at every iteration -- and
stay exact (the interpreter is the judge, in every tier)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from emu import bench, loader
from emu.machine import Machine
from tests.differential.test_tcg import EXIT, LOAD, asm, run, same

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# bitwise CRC-32 of a message in DX:BX, several passes over it: the bit loop
# (SHR/RCR, JNC over the XOR, DEC/JNZ) is hot before the pass loop's tail has run
CRC = """
    xor ax, ax
    mov ds, ax
    mov bx, 0xffff
    mov dx, bx
    mov bp, {passes}
pass:
    mov si, 0x7c00
next_byte:
    xor bl, [si]
    mov cx, 8
bit:
    shr dx, 1
    rcr bx, 1
    jnc no_xor
    xor bx, 0x8320
    xor dx, 0xedb8
no_xor:
    dec cx
    jnz bit
    inc si
    cmp si, 0x7c00 + {nbytes}
    jb next_byte
    dec bp
    jnz pass
    mov ax, bx
    mov bx, dx
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
    mov al, bl
    out dx, al
    mov al, bh
    out dx, al
""" + EXIT


def crc32(data: bytes, passes: int) -> int:
    """The CRC register after ``passes`` passes (no final inversion)."""
    crc = 0xFFFFFFFF
    for _ in range(passes):
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc


@pytest.mark.parametrize("passes, nbytes", [(60, 64), (40, 128)])
def test_a_loop_nest_hot_piecemeal_runs_in_one_region(passes, nbytes):
    image = asm(CRC.format(passes=passes, nbytes=nbytes))
    mt, rt = same(image, tier="tiered")
    assert mt.serial_output() == crc32(image[:nbytes].ljust(nbytes, b"\0"), passes).to_bytes(4, "little")
    s = mt.accel.stats()
    # passes * nbytes * 8 runs of the bit loop; the dispatcher entered
    # translated code only while the nest was getting hot
    assert s["regions_translated"] >= 1
    assert s["blocks_executed"] < 100, s
    # a block of the bit loop entered from cold code often enough to be hot
    # (the JNC target, on the way back in from each pass) is translated as a
    # block of its own leading into the region, not as a second region:
    # region entries share their function's exits, and no block of this
    # guest jumps to itself (loop False for every other block)
    tbs = mt.accel.tb_cache.values()
    assert len({id(tb.exits) for tb in tbs if tb.loop}) == 1
    assert any(not tb.loop for tb in tbs)


@pytest.mark.parametrize("slice_len", [997, 5001])
def test_runs_ending_anywhere_form_no_second_region(slice_len):
    """The guest run in slices that end at arbitrary instructions (as a
    timer's deadlines end runs): each next run starts wherever the last
    one stopped -- in the middle of a block, at a block the region inlines,
    or at a block translated only up to the budget's end.  None of these
    becomes a region of its own or an entry splitting the hot loop; the
    result is the interpreter's."""
    image = asm(CRC.format(passes=60, nbytes=64))
    m = Machine(accel="tcg")
    m.load_image(image)
    runs = 0
    while True:
        r = m.run(icount_limit=slice_len)
        runs += 1
        if r.reason != "limit":
            break
    mi, ri = run("interp", image)
    assert (r.reason, m.serial_output()) == (ri.reason, mi.serial_output())
    assert m.cpu.snapshot() == mi.cpu.snapshot()
    regions = {}
    for tb in m.accel.tb_cache.values():
        if tb.loop:
            regions.setdefault(id(tb.exits), set()).add(tb.ip)
    labels = loader.assemble(CRC.format(passes=60, nbytes=64), "<test>", LOAD).symbols
    assert len(regions) == 1
    entries = regions.popitem()[1]
    assert labels["bit"] in entries and labels["no_xor"] not in entries
    # a few entries into translated code per run, not one per iteration
    assert m.accel.stats()["blocks_executed"] < 5 * runs


# a loop calling a function, run ``{n}`` times: its blocks are looked up
# ``n`` times each
FEW = """
    xor ax, ax
    mov cx, {n}
again:
    call add_cx
    dec cx
    jnz again
    mov dx, 0x3f8
    out dx, al
""" + EXIT + """
add_cx:
    add ax, cx
    ret
"""


def test_code_run_a_few_dozen_times_stays_on_the_interpreter():
    """Translating a block costs as much as a few hundred interpreted runs
    of it: code that runs only a few dozen times (the paths of a large
    compiled function taken now and then) is never translated, while code
    that keeps running is (the same loop, run longer)."""
    few = 24
    mt, _ = same(asm(FEW.format(n=few)), tier="tiered")
    assert mt.serial_output() == bytes([few * (few + 1) // 2 & 0xFF])
    assert mt.accel.stats()["blocks_translated"] == 0
    mt, _ = same(asm(FEW.format(n=200)), tier="tiered")
    assert mt.accel.stats()["regions_translated"] >= 1


def formation(image) -> str:
    """One run of ``image`` (a C guest) on the translator: what region
    formation decided (every translated block's entry and length, the
    counts) and what the guest printed."""
    m = Machine(board="pc", accel="tcg", memory=16 << 20)
    try:
        m.load_image(image.data, image.name, image.entry)
        m.run(icount_limit=50_000_000)
        s = m.accel.stats()
        return repr((sorted((tb.ip, tb.icount) for tb in m.accel.tb_cache.values()),
                     s["blocks_translated"], s["regions_translated"], s["regions_grown"],
                     m.serial_output()))
    finally:
        m.close()


#: the reduced quicksort guest's formation, printed by another process
OTHER = """
from emu import bench
from tests.differential.test_region_forming import formation
print(formation(bench.guest_image("pmc_qsort", 1)))
"""


def test_region_formation_is_the_same_in_every_run():
    """Which blocks are translated, into which regions, depends only on the
    guest: not on the order of a set or a dict of keys (the string hash
    seed), on where objects sit in memory, or on an earlier Machine of the
    same process."""
    image = bench.guest_image("pmc_qsort", 1)
    here = {formation(image), formation(image)}
    seed = "1" if os.environ.get("PYTHONHASHSEED") == "0" else "0"
    r = subprocess.run([sys.executable, "-c", OTHER], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONHASHSEED=seed), cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert here == {r.stdout.strip()}, (here, r.stdout)
