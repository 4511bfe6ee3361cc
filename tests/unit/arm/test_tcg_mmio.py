"""A32 MMIO from translated code: a load or store outside RAM is offered
to the device from the block (``Machine.serve_mmio_quiet``: the PL011 while
its interrupts are masked) instead of leaving it for the interpreter, and
is counted and logged as the MMIO exit the interpreter makes -- so the exit
statistics, ``-d exits`` and the output are the interpreter's.  Accesses a
device does not serve quietly (an unmasked PL011 interrupt, the GIC, an
unassigned address) still bail and run on the interpreter."""

import io
import re

import pytest
from arm_harness import VIRT_CODE as CODE
from arm_harness import pl011_base
from keystone import KS_ARCH_ARM, KS_MODE_ARM, Ks

from emu.machine import Machine

# a polled PL011 loop (PL011 TRM 3.3.3, 3.3.1): wait while FR.TXFF, then
# write DR; one byte of the alphabet per round, 26 rounds
POLLED = pl011_base("r12") + """
    mov r0, #0x41
    mov r3, #26
loop:
    ldr r1, [r12, #0x18]
    tst r1, #0x20
    bne loop
    ldrb r5, [r12, #0x18]
    strb r0, [r12]
    add r4, r4, r1
    add r4, r4, r5
    add r0, r0, #1
    subs r3, r3, #1
    bne loop
done:
    b done
"""

# the same after unmasking the TX interrupt (IMSC bit 5) with CPSR.I set:
# the line may rise, so every access is a real exit
UNMASKED = pl011_base("r12") + """
    mov r2, #0x20
    str r2, [r12, #0x38]
""" + POLLED.split("\n", 3)[3]

# the GIC distributor's type register and an unassigned address (reads
# all ones): neither is served from the block
OTHER = """
    movw r6, #0x0004
    movt r6, #0x0800
    movw r7, #0
    movt r7, #0x0a00
    mov r3, #8
loop:
    ldr r1, [r6]
    ldr r2, [r7]
    add r4, r4, r1
    add r5, r5, r2
    str r3, [r7, #4]
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def run(asm: str, accel: str, limit: int = 2000, **kw):
    m = Machine(board="virt", accel=accel, **kw)
    try:
        if accel == "tcg":
            m.accel.hot_threshold = 1
        m.load_image(bytes(Ks(KS_ARCH_ARM, KS_MODE_ARM).asm(asm, CODE)[0]), "t", CODE, CODE)
        m.accel.state_changed()
        r = m.run(icount_limit=limit)
        stats = m.accel.stats() if accel == "tcg" else None
        return (list(m.cpu.r), m.cpu.cpsr, r.icount, dict(m.stats.by_key), m.serial_output()), stats
    finally:
        m.close()


def test_polled_uart_is_served_from_the_translated_block():
    want, _ = run(POLLED, "interp")
    got, stats = run(POLLED, "tcg")
    assert want[4] == b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert got == want
    # FR and DR: every access counted, as on the interpreter (26 rounds of 3)
    assert sum(want[3].values()) == 78
    assert stats["bails"] == 0 and stats["interp_insns"] < 20


@pytest.mark.parametrize("asm", [UNMASKED, OTHER], ids=["unmasked", "gic-unassigned"])
def test_accesses_a_device_does_not_serve_quietly_bail(asm):
    want, _ = run(asm, "interp")
    got, stats = run(asm, "tcg")
    assert got == want
    assert stats["bails"] >= 8


def test_d_exits_logs_every_access_on_both_engines():
    logs = {}
    for accel in ("interp", "tcg"):
        log = io.StringIO()
        got, _ = run(POLLED, accel, log=log, log_flags=("exits",))
        logs[accel] = [line for line in log.getvalue().splitlines() if line.startswith("exit: MMIO")]
        assert got[4] == b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert len(logs["tcg"]) == 78
    assert logs["tcg"] == logs["interp"]


# a byte read-modify-write of one address (LDRB, then STRB to the same
# base): in RAM (r1) and at the PL011's DR (r12, RX empty: reads 0)
RMW = pl011_base("r12") + """
    movw r1, #0x1000
    movt r1, #0x4010
    mov r0, #0x41
    mov r3, #26
loop:
    ldrb r5, [r1]
    add r5, r5, r0
    strb r5, [r1], #1
    ldrb r6, [r12]
    add r6, r6, r0
    strb r6, [r12]
    add r0, r0, #1
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def test_a_byte_read_modify_write_tests_its_address_once():
    from emu.accel.tcg import translate_at
    m = Machine(board="virt", accel="tcg")
    try:
        m.load_image(bytes(Ks(KS_ARCH_ARM, KS_MODE_ARM).asm(RMW, CODE)[0]), "t", CODE, CODE)
        src = translate_at(m, CODE + 16)["out_asm"]
    finally:
        m.close()
    # r1's byte and r12's: one outside-RAM test each, the store counting
    # on the load's (whose device access then bails)
    assert len(re.findall(r"& -\d+:$", src, re.M)) == 2
    assert src.count("MQ(") == 0


def test_a_byte_read_modify_write_of_a_device_runs_as_on_the_interpreter():
    want, _ = run(RMW, "interp")
    got, stats = run(RMW, "tcg")
    assert want[4] == b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert got == want
    assert stats["bails"] >= 26


# two reads of the PL011's DR in one block pop two received bytes; a store
# to the IMSC register's neighbour ICR (write-only, reads 0) read back at
# once reads 0, not what was written: a device's register is read each
# time, never taken from an earlier access of the block
TWICE = pl011_base("r12") + """
    mov r3, #4
    mov r4, #0
loop:
    ldrb r1, [r12]
    ldrb r2, [r12]
    add r4, r4, r1
    add r4, r4, r2, lsl #8
    strb r3, [r12, #0x44]
    ldrb r6, [r12, #0x44]
    add r4, r4, r6, lsl #16
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def test_a_device_register_read_twice_in_a_block_is_read_twice():
    want, _ = run(TWICE, "interp", limit=200, serial_input=b"ABCDEFGHIJ")
    got, _ = run(TWICE, "tcg", limit=200, serial_input=b"ABCDEFGHIJ")
    # the four rounds pop A..H: (A + 256 B) + (C + 256 D) + ...
    assert want[0][4] == sum(0x41 + 2 * i + ((0x42 + 2 * i) << 8) for i in range(4))
    assert got == want
    assert want[3]["MMIO read 0x9000000"] == 8 and want[3]["MMIO read 0x9000044"] == 4
