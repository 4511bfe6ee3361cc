"""ARMv7-A integer instructions on the cortex-a15 model; expected values
from the Operation pseudocode of ARM DDI 0406C A8.8 worked out by hand."""

import pytest
from arm_harness import CODE, Cpu

from emu.isa.arm.state import C_BIT, N_BIT, SVC, Z_BIT


# SDIV/UDIV r0, r1, r2 (A8.8.165, A8.8.248: cond 0111 0x01 Rd 1111 Rm 0001 Rn);
# keystone has no hardware-divide feature
SDIV = ".word 0xe710f211"
UDIV = ".word 0xe730f211"


def run(asm, model="cortex-a15", **regs):
    return Cpu(model).asm_run(asm, **regs)


@pytest.mark.parametrize("asm,regs,want", [
    ("movw r0, #0xbeef\nmovt r0, #0xdead", {}, 0xDEADBEEF),
    ("ubfx r0, r1, #8, #4", {"r1": 0x12345678}, 0x6),
    ("sbfx r0, r1, #4, #4", {"r1": 0x000000F0}, 0xFFFFFFFF),
    ("bfi r0, r1, #8, #8", {"r0": 0xFFFFFFFF, "r1": 0x12}, 0xFFFF12FF),
    ("bfc r0, #4, #24", {"r0": 0xFFFFFFFF}, 0xF000000F),
    (SDIV, {"r1": (-7) & 0xFFFFFFFF, "r2": 2}, (-3) & 0xFFFFFFFF),   # rounds to zero
    (SDIV, {"r1": 0x80000000, "r2": 0xFFFFFFFF}, 0x80000000),       # overflow wraps
    (UDIV, {"r1": 100, "r2": 0}, 0),                                # SCTLR.DZ = 0
    (UDIV, {"r1": 0xFFFFFFFF, "r2": 16}, 0x0FFFFFFF),
    ("clz r0, r1", {"r1": 0x00010000}, 15),
    ("clz r0, r1", {"r1": 0}, 32),
    ("rev r0, r1", {"r1": 0x11223344}, 0x44332211),
    ("rev16 r0, r1", {"r1": 0x11223344}, 0x22114433),
    ("revsh r0, r1", {"r1": 0x000080FF}, 0xFFFFFF80),
    ("uxtb r0, r1, ror #8", {"r1": 0x11223344}, 0x33),
    ("sxth r0, r1", {"r1": 0x00018000}, 0xFFFF8000),
    ("uxtab r0, r2, r1", {"r1": 0xFF, "r2": 0x100}, 0x1FF),
    ("sxtah r0, r2, r1", {"r1": 0xFFFF, "r2": 1}, 0),
    ("mls r0, r1, r2, r3", {"r1": 3, "r2": 4, "r3": 20}, 8),
    ("mul r0, r1, r2", {"r1": 0x10000, "r2": 0x10001}, 0x00010000),
])
def test_result(asm, regs, want):
    assert run(asm, **regs).r[0] == want


def test_long_multiplies():
    s = run("smull r0, r1, r2, r3", r2=0xFFFFFFFE, r3=3)          # -2 * 3
    assert (s.r[0], s.r[1]) == (0xFFFFFFFA, 0xFFFFFFFF)
    s = run("umlal r0, r1, r2, r3", r0=0xFFFFFFFF, r1=1, r2=2, r3=1)
    assert (s.r[0], s.r[1]) == (1, 2)
    s = run("umulls r0, r1, r2, r3", r2=0, r3=5)
    assert s.cpsr & Z_BIT and not s.cpsr & N_BIT


def test_conditions_skip_and_execute():
    s = run("cmp r0, #1\nmoveq r1, #5\nmovne r2, #6\naddgt r3, r3, #1\naddle r4, r4, #1", r0=1)
    assert (s.r[1], s.r[2], s.r[3], s.r[4]) == (5, 0, 0, 1)
    assert s.cpsr & (Z_BIT | C_BIT) == Z_BIT | C_BIT


def test_ldrd_strd_push_pop():
    cpu = Cpu()
    s = cpu.asm_run("strd r2, r3, [r0, #8]!\nldrd r4, r5, [r0]\npush {r2, r3}\npop {r6, r7}",
                    r0=0x3000, r2=0x11, r3=0x22, r13=0x5000)
    assert s.r[0] == 0x3008 and (s.r[4], s.r[5]) == (0x11, 0x22)
    assert (s.r[6], s.r[7], s.r[13]) == (0x11, 0x22, 0x5000)
    assert cpu.mem[0x4FF8:0x5000] == bytes([0x11, 0, 0, 0, 0x22, 0, 0, 0])


def test_exclusive_monitor():
    cpu = Cpu()
    s = cpu.asm_run("ldrex r1, [r0]\nadd r1, r1, #1\nstrex r2, r1, [r0]\nstrex r3, r1, [r0]",
                    r0=0x3000)
    assert s.r[2] == 0 and s.r[3] == 1              # the second STREX finds the monitor open
    assert cpu.mem[0x3000] == 1


def test_swp():
    cpu = Cpu()
    cpu.mem[0x3000] = 0x99
    s = cpu.asm_run("swpb r1, r2, [r0]", r0=0x3000, r2=0x7)
    assert s.r[1] == 0x99 and cpu.mem[0x3000] == 7


def test_unaligned_word_load_v7_and_rotation_v4():
    for model, want in (("cortex-a15", 0x44332211 >> 8 | 0x55 << 24), ("arm7tdmi", 0x11443322)):
        cpu = Cpu(model)
        cpu.mem[0x3000:0x3005] = bytes([0x11, 0x22, 0x33, 0x44, 0x55])
        s = cpu.asm_run("ldr r1, [r0]", r0=0x3001)
        assert s.r[1] == want, model


def test_branches_and_links():
    s = run("bl 0x1010")
    assert s.pc == 0x1010 and s.r[14] == CODE + 4
    s = run("blx r0", r0=0x2000)
    assert s.pc == 0x2000 and s.r[14] == CODE + 4


def test_cps_and_mrs():
    s = run("cpsid if\nmrs r0, apsr\ncpsie i, #0x13")
    assert s.r[0] & 0xC0 == 0xC0
    assert s.cpsr & 0x1F == SVC and not s.cpsr & 0x80 and s.cpsr & 0x40


def test_msr_flags_only_in_user_mode():
    cpu = Cpu()
    cpu.s.set_cpsr(0x10)
    s = cpu.asm_run("msr cpsr_fc, r0", r0=0xF00000D3)
    assert s.cpsr == 0xF0000010


def test_ldrd_with_odd_first_register_traps():
    cpu = Cpu()
    cpu.s.set_cpsr(SVC)
    s = cpu.asm_run(".word 0xe1c0f0d0", r0=0x3000)      # LDRD r15, r16?, [r0]: Rt = 15
    assert s.cpsr & 0x1F == 0x1B and s.pc == 0x04


@pytest.mark.parametrize("model", ["cortex-a15", "arm7tdmi"])
def test_random_words_never_crash(model):
    """Any word, any mode: it executes, traps as the guest's exception, or
    (Thumb) is refused with ThumbUnsupported -- never a Python error."""
    import random

    from emu.isa.arm.step import ThumbUnsupported
    rnd = random.Random(7)
    for _ in range(3000):
        cpu = Cpu(model)
        for k in range(15):
            cpu.s.r[k] = rnd.choice([rnd.getrandbits(32), rnd.randrange(0x2000, 0xF000), 0, 32])
        mode = rnd.choice([0x10, 0x11, 0x12, 0x13, 0x17, 0x1B, 0x1F])
        cpu.s.set_cpsr(rnd.getrandbits(4) << 28 | mode)
        cpu.words([rnd.getrandbits(32) | (0x40000000 if rnd.random() < 0.3 else 0)])
        try:
            cpu.run(2)
        except ThumbUnsupported:
            pass


def test_msr_to_a_mode_that_does_not_exist_keeps_the_mode():
    cpu = Cpu()
    cpu.s.set_cpsr(SVC)
    s = cpu.asm_run("msr cpsr_fc, r0", r0=0x8000001C)     # 0x1C names no mode
    assert s.cpsr == 0x80000000 | SVC


def test_msr_mode_zero_is_no_mode_on_v7():
    cpu = Cpu()
    cpu.s.set_cpsr(0xD00000D3)
    s = cpu.asm_run("msr cpsr_fxc, #0x9c00")     # the control byte 0: I, F cleared, M = 0
    assert s.cpsr == SVC
