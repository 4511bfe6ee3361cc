"""32-bit registers in a region kept as their low 32 bits.

A region whose code reads a register at most 32 bits wide and writes it only
with 32-bit values (a 32-bit write zero-extends, SDM Vol. 1 §3.4.1.1) keeps
its local as the low 32 bits, so reading EAX is the local itself, with no
``& 0xffffffff``.  That holds only if the register held no more than 32 bits
when the region was entered: its entry guard checks, and a region whose
guard fails is translated again without the assumption.  The interpreter is
the judge in every tier, with and without high bits set."""

import io
import re

import pytest

from emu import loader
from emu.machine import Machine
from tests.differential.test_tcg import EXIT, asm, same

LOOP = """
    mov cx, 2000
    mov eax, 0x12345678
l:
    add eax, edx
    shr ebx, 1
    xor ebx, eax
    inc esi
    mov ebp, edx
    cmp edx, eax
    adc edi, 0
    loop l
    mov dx, 0x3f8
    out dx, al
    mov al, bl
    out dx, al
""" + EXIT


def wide(m):
    """High bits (above 32) in EBX, EDX and ESI when the loop starts: EDX is
    only read in the loop, so they are still there when it gets hot."""
    for n, v in ((3, 0x5_0000_0000), (2, 0xA_0000_0011), (6, 0x3_FFFF_FFFF)):
        m.cpu.regs[n] = v


@pytest.mark.parametrize("setup", [None, wide], ids=["low", "high"])
def test_same_as_the_interpreter(setup):
    mt, rt = same(asm(LOOP), setup=setup, tier="tiered")
    assert rt.reason == "debug-exit"
    if setup is wide:
        assert mt.accel.stats()["guard_fails"] >= 1
        assert mt.cpu.regs[2] == 0xA_0000_03F8          # EDX only read: its high bits kept


def test_reads_are_unmasked():
    log = io.StringIO()
    m = Machine(accel="tcg", log=log, log_flags=("out_asm",))
    m.load_image(loader.assemble(LOOP, "<test>", 0x7C00).data)
    assert m.run(icount_limit=100_000).reason == "debug-exit"
    m.close()
    region = log.getvalue().split("OUT: [region of ")[1]
    assert "> 4294967295" in region            # the entry guard
    assert not re.search(r"\br\d+ & 4294967295\b", region)
