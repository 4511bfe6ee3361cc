"""The text of a 32-bit protected-mode access through a flat segment,
counted rather than timed: an offset summed with a displacement
(``[ebx + 0x10000]``, ``[ebx*4 + table]``: a global array in C) wraps at
2**32, and the test that the access ends in RAM catches a sum that wrapped
too -- so the generated code makes one compare an access, not a wrap
correction and then the compare.  A sum that does wrap (a register holding
a negative number, a displacement past 2**31) bails to the interpreter
until the instruction is translated again with the wrap: it stays in
translated code.  The interpreter is the judge of every result."""

from __future__ import annotations

import io
import re

import pytest

from emu.machine import Machine
from tests.differential import pm32
from tests.differential.test_tcg import EXIT, asm, same
from tests.differential.test_tcg_cliffs import LEAVES_PER_1000, leaves_per_1000

#: fill 2000 bytes at 0x10000 + EBX, sum 500 dwords of them through
#: [EBX*4 + 0x10000], add a word of each through [ESI + 0x10002]; 30 passes
ARRAYS = """
    xor edi, edi
    mov ebp, 30
pass:
    xor ebx, ebx
fill:
    mov byte [ebx + 0x10000], bl
    inc ebx
    cmp ebx, 2000
    jb fill
    xor ebx, ebx
sum:
    add edi, [ebx*4 + 0x10000]
    movzx esi, byte [ebx + 0x10001]
    add di, [esi + 0x10002]
    inc ebx
    cmp ebx, 500
    jb sum
    dec ebp
    jnz pass
    mov eax, edi
    mov dx, 0x3f8
    mov ecx, 4
put:
    out dx, al
    shr eax, 8
    loop put
""" + EXIT


def arrays() -> int:
    mem = bytearray(0x20000)
    edi = 0
    for _ in range(30):
        for ebx in range(2000):
            mem[0x10000 + ebx] = ebx & 0xFF
        for ebx in range(500):
            edi = (edi + int.from_bytes(mem[0x10000 + 4 * ebx:0x10004 + 4 * ebx], "little")) & 0xFFFFFFFF
            esi = mem[0x10001 + ebx]
            w = int.from_bytes(mem[0x10002 + esi:0x10004 + esi], "little")
            edi = (edi & 0xFFFF0000) | ((edi + w) & 0xFFFF)
    return edi


def out_asm(image) -> str:
    log = io.StringIO()
    m = Machine(accel="tcg", log=log, log_flags=("out_asm",))
    try:
        m.load_image(image)
        m.run(icount_limit=2_000_000)
    finally:
        m.close()
    return log.getvalue()


def test_a_flat_access_at_a_displacement_tests_its_sum_once():
    image = asm(pm32.guest(ARRAYS))
    mt, _ = same(image, tier="tiered")
    assert mt.serial_output() == arrays().to_bytes(4, "little")
    text = out_asm(image)
    regions = [f for f in text.split("OUT: ") if "def region_" in f]
    assert regions
    # the address locals (a1 = r3 + 65536 ...) of the regions' accesses
    addrs = {m.group(1) for f in regions for m in re.finditer(r"\b(a\d+) = r\d+ (?:\* 4 )?\+ \d+\n", f)}
    assert addrs, regions
    # and not one correction of an address for its wrap: its test is the end of RAM's
    wraps = [line for f in regions for line in f.splitlines()
             if re.search(r"if (a\d+) > 4294967295: \1 -= 4294967296", line)]
    assert wraps == [], regions


#: stores and loads whose offset sums wrap on every pass: EBX + 0x80010000
#: with EBX at 0x80000000 and up (0x10000 and up), EAX + ECX with ECX = -4
#: (0x10004 + i - 4) and EAX + EDI with EDI = -0x800
WRAPS = """
    mov ebx, 0x80000000
    mov eax, 0x10004
    mov ecx, -4
    mov edi, -0x800
    xor edx, edx
    mov esi, {n}
l:
    mov [ebx + 0x80010000], si
    mov byte [eax + edi], dl
    add dx, [ebx + 0x80010000]
    add dl, [eax + ecx]
    add ebx, 2
    inc eax
    dec esi
    jnz l
    mov eax, edx
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
""" + EXIT


def wraps(n: int) -> int:
    mem = bytearray(0x20000)
    ebx, eax, dx = 0x80000000, 0x10004, 0
    for si in range(n, 0, -1):
        p = (ebx + 0x80010000) & 0xFFFFFFFF
        mem[p:p + 2] = si.to_bytes(2, "little")
        mem[(eax - 0x800) & 0xFFFFFFFF] = dx & 0xFF
        dx = (dx + int.from_bytes(mem[p:p + 2], "little")) & 0xFFFF
        dx = (dx & 0xFF00) | ((dx + mem[(eax - 4) & 0xFFFFFFFF]) & 0xFF)
        ebx += 2
        eax += 1
    return dx


@pytest.mark.parametrize("n", [20_000])
def test_offsets_that_wrap_on_every_pass_stay_in_translated_code(n):
    image = asm(pm32.guest(WRAPS.format(n=n)))
    mt, _ = same(image, tier="tiered")
    assert mt.serial_output() == wraps(n).to_bytes(2, "little")
    assert leaves_per_1000(image) <= LEAVES_PER_1000
