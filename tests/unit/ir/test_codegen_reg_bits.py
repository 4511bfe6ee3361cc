"""Full-width reads of 32-bit registers in a region of 32-bit code.

Outside 64-bit mode a general register is read at most 32 bits wide and
written zero-extended from 32 bits (SDM Vol. 1 §3.4.1.1), so a region whose
entry guard saw no bit above bit 31 in the registers it holds reads them
unmasked.  Bits above 31 can still be there (left by 64-bit code; a 16-bit
write keeps them): then the guard fails, the region is translated again
without the bound, and the results are the interpreter's."""

import io
import re

from tests.differential.pm32 import guest
from tests.differential.translated import machine, regions_in

GUEST = guest("""
    xor ebx, ebx
again:
    inc si                      ; a 16-bit write keeps bits 16-63
    add ebx, esi                ; 32-bit reads of esi see its low half
    cmp esi, 0x40
    jb again
    mov [0x500], ebx
    mov [0x504], esi
    hlt
""")
ENTRY_INSNS = 15                # the frame's instructions up to the test's code


def run(accel, high, log=None):
    """Run the frame, set ``high`` (bits above 31) in ESI, run the loop:
    the stop, the registers, the two stored dwords and the engine's counters."""
    with machine(GUEST, accel, 16 << 20, log) as m:
        r = m.run(icount_limit=ENTRY_INSNS)
        assert r.reason == "limit" and m.cpu.regs[4] == 0x90000
        m.cpu.regs[6] = high
        r = m.run(icount_limit=100_000)
        return (r.reason, tuple(m.cpu.regs[:8]), m.ram.read_bytes(0x500, 8)), m.accel.stats()


def test_bits_above_31_fail_the_guard_and_the_results_are_the_interpreters():
    want, _ = run("interp", 5 << 36)
    assert want[0] == "halt" and want[1][6] >> 32 == 5 << 4     # the loop kept ESI's high bits
    got, stats = run("tcg", 5 << 36)
    assert got == want
    assert stats["guard_fails"] >= 1 and stats["regions_translated"] >= 2


def test_a_guarded_region_reads_32_bit_registers_unmasked():
    log = io.StringIO()
    want, _ = run("interp", 0)
    got, stats = run("tcg", 0, log)
    assert got == want and stats["guard_fails"] == 0
    regions = regions_in(log)
    # each region's guard checks the registers it holds fit 32 bits
    assert regions and all(re.search(r"\(r\d+( \| r\d+)*\) > 4294967295", code) for code in regions)
    for code in regions:
        assert "r6 & 4294967295" not in code and "r3 & 4294967295" not in code
