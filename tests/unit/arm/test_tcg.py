"""A32 on the translator: self-modifying code, MMIO from translated code,
conditional stores, ``emu translate`` on an Arm image.  Programs are
assembled by keystone; what each must compute is worked out here by hand."""

import pytest
from keystone import KS_ARCH_ARM, KS_MODE_ARM, Ks

from emu.machine import Machine

CODE = 0x40010000


def assemble(asm: str) -> bytes:
    return bytes(Ks(KS_ARCH_ARM, KS_MODE_ARM).asm(asm, CODE)[0])


def run(asm: str, accel: str, limit: int, hot_threshold=None, setup=None, cpu=None, memory=None,
        **regs):
    m = Machine(board="virt", accel=accel, cpu=cpu, memory=memory)
    try:
        if hot_threshold is not None:
            m.accel.hot_threshold = hot_threshold
        m.load_image(assemble(asm), "t", CODE, CODE)
        if setup is not None:
            setup(m)
        for k, v in regs.items():
            m.cpu.r[int(k[1:])] = v
        m.accel.state_changed()
        r = m.run(icount_limit=limit)
        return list(m.cpu.r), m.cpu.cpsr, r, m.accel.stats(), m.serial_output()
    finally:
        m.close()


def op_opt(asm: str) -> str:
    """The optimised IR of the block at the start of ``asm`` (``emu translate``'s op_opt)."""
    from emu.accel.tcg import translate_at
    m = Machine(board="virt", accel="tcg")
    try:
        m.load_image(assemble(asm), "t", CODE, CODE)
        return translate_at(m, CODE)["op_opt"]
    finally:
        m.close()


# the loop's ADD is rewritten to ADD #2 after its first 50 rounds: r0 = 50 + 100
SMC = """
    mov r5, #0
    mov r0, #0
outer:
    mov r2, #50
inner:
    add r0, r0, #1
    subs r2, r2, #1
    bne inner
    movw r3, #0x0002
    movt r3, #0xE280
    movw r6, #0x000c
    movt r6, #0x4001
    str r3, [r6]
    add r5, r5, #1
    cmp r5, #2
    bne outer
done:
    b done
"""


@pytest.mark.parametrize("hot", [1, None])
def test_a_store_into_translated_code_invalidates_it(hot):
    regs, _, _, stats, _ = run(SMC, "tcg", 2000, hot_threshold=hot)
    assert regs[0] == 150 and regs[5] == 2
    assert stats["invalidations"] >= 1


def test_a_store_into_decoded_code_invalidates_it_on_the_interpreter():
    """RAM above address 0 (the virt board's, at 0x40000000): the decode
    cache is dropped by the page the store names."""
    regs = run(SMC, "interp", 2000)[0]
    assert regs[0] == 150 and regs[5] == 2


# a loop that keeps its counter in the word just after it, in the same
# 64-byte code granule: data, not code -- nothing is dropped
DATA_NEXT_TO_CODE = """
    adr r1, var
    mov r2, #300
loop:
    ldr r0, [r1]
    add r0, r0, r2
    str r0, [r1]
    subs r2, r2, #1
    bne loop
done:
    b done
var:
    .word 0
"""


@pytest.mark.parametrize("hot", [1, None])
def test_a_store_next_to_translated_code_keeps_it(hot):
    regs, _, _, stats, _ = run(DATA_NEXT_TO_CODE, "tcg", 3000, hot_threshold=hot)
    assert regs[0] == sum(range(1, 301)) and regs[2] == 0
    assert stats["invalidations"] == 0


def test_a_store_next_to_decoded_code_keeps_it_on_the_interpreter():
    dropped = []
    regs = run(DATA_NEXT_TO_CODE, "interp", 3000,
               setup=lambda m: m.ram.add_invalidation_listener(dropped.append))[0]
    assert regs[0] == sum(range(1, 301))
    assert dropped == []


# stores to the PL011 data register (MMIO at 0x09000000) from a translated loop
UART = """
    movw r1, #0
    movt r1, #0x0900
    mov r2, #0x41
    mov r3, #5
loop:
    strb r2, [r1]
    add r2, r2, #1
    subs r3, r3, #1
    bne loop
done:
    b done
"""


def test_mmio_stores_from_translated_code_reach_the_device():
    regs, _, _, stats, out = run(UART, "tcg", 200, hot_threshold=1)
    assert out == b"ABCDE"
    assert stats["bails"] >= 5           # each store left the translated code for the interpreter
    assert regs[2] == 0x46 and regs[3] == 0


# conditional execution: predicated ALU operations, a conditional store (around)
# and a conditional branch, after flags set in the same block and in another
COND = """
    movw r6, #0x1000
    movt r6, #0x4001
    mov r0, #7
    mov r1, #7
    cmp r0, r1
    moveq r2, #1
    movne r2, #2
    addhi r3, r0, #100
    addls r3, r0, #200
    strgt r0, [r6]
    strle r1, [r6, #4]
    cmp r0, #8
    strlt r0, [r6, #8]
    mvnge r4, #0
    movlt r4, #5
    b next
next:
    subslt r7, r0, r1
    addeq r8, r7, #9
done:
    b done
"""


@pytest.mark.parametrize("hot", [1, None])
def test_conditional_execution_translated(hot):
    regs, cpsr, _, _, _ = run(COND, "tcg", 200, hot_threshold=hot)
    assert regs[2] == 1                 # 7 == 7
    assert regs[3] == 207               # LS: not higher
    assert regs[4] == 5                 # 7 < 8
    assert regs[7] == 0 and regs[8] == 9
    assert cpsr >> 28 == 0b0110         # SUBS 7 - 7: Z and C
    want = run(COND, "interp", 200)
    assert regs[:15] == want[0][:15] and cpsr == want[1]


def test_conditional_stores_are_skipped_when_the_condition_fails():
    asm = COND.replace("done:\n    b done", "    ldr r9, [r6]\n    ldr r10, [r6, #4]\n"
                       "    ldr r11, [r6, #8]\ndone:\n    b done")
    regs = run(asm, "tcg", 200, hot_threshold=1)[0]
    assert (regs[9], regs[10], regs[11]) == (0, 7, 7)     # GT failed, LE and LT held


def test_translate_shows_an_arm_block(tmp_path, capsys):
    from emu.cli import main
    image = tmp_path / "loop.bin"
    image.write_bytes(assemble("loop:\n add r0, r0, r2\n subs r2, r2, #1\n bne loop\n b loop\n"))
    assert main(["translate", "-M", "virt", str(image), "--at", hex(CODE)]) == 0
    out = capsys.readouterr().out
    in_asm = out.split("---- in_asm ----\n")[1].split("----")[0].splitlines()
    assert in_asm == [f"0x{CODE:08x}:  add r0, r0, r2", f"0x{CODE + 4:08x}:  subs r2, r2, #1",
                      f"0x{CODE + 8:08x}:  bne #0x{CODE:08x}"]
    assert "getr r2" in out and "setfl" in out and "brcond" in out
    src = out.split("---- out_asm ----\n")[1]
    assert src.startswith(f"def tb_{CODE:x}(")
    compile(src, "tb", "exec")


def test_single_stepping_translated_code_matches_the_interpreter():
    """The debugger's way (one instruction per run, -one-insn-per-tb blocks
    translated once stepped often enough): every step lands where the
    interpreter's does, with the same registers and CPSR."""
    steps = {}
    for accel in ("interp", "tcg"):
        m = Machine(board="virt", accel=accel)
        try:
            m.load_image(assemble(SMC), "t", CODE, CODE)
            m.accel.set_single_step(True)
            seq = []
            for _ in range(400):
                m.accel.run(1)
                seq.append((m.cpu.pc, tuple(m.cpu.r), m.cpu.cpsr))
            steps[accel] = seq
            if accel == "tcg":
                assert m.accel.stats()["blocks_translated"] > 0
        finally:
            m.close()
    assert steps["interp"] == steps["tcg"]
    assert steps["tcg"][-1][1][0] > 50          # through the patched loop


def test_a_condition_known_when_translated_needs_no_test():
    asm = "movs r0, #0\n moveq r1, #5\n movne r1, #6\n bne done\n add r1, r1, #1\ndone:\n b done\n"
    regs = run(asm, "tcg", 5, hot_threshold=1)[0]
    assert regs[1] == 6
    ops = op_opt(asm)
    assert "brcond" not in ops and "select" not in ops
