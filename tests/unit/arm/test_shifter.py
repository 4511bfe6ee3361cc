"""The barrel shifter and its carry-out (ARM DDI 0406C A8.4.3 Shift_C,
A5.2.4 ARMExpandImm_C; DDI 0100I A5.1): expected values worked out by hand
from those pseudocode pages."""

import pytest
from arm_harness import Cpu

from emu.isa.arm.semantics import ASR, LSL, LSR, ROR, expand_imm_c, shift_imm, shift_reg
from emu.isa.arm.state import C_BIT

IMM_CASES = [
    # (value, type, imm5, carry in) -> (result, carry out)
    ((0x80000001, LSL, 0, 1), (0x80000001, 1)),     # LSL #0: no shift, C kept
    ((0x80000001, LSL, 1, 0), (0x00000002, 1)),     # bit 31 shifted out
    ((0x40000000, LSL, 1, 1), (0x80000000, 0)),
    ((0x00000003, LSR, 1, 0), (0x00000001, 1)),
    ((0x80000000, LSR, 0, 0), (0x00000000, 1)),     # LSR #0 encodes LSR #32
    ((0x7FFFFFFF, LSR, 0, 1), (0x00000000, 0)),
    ((0x80000000, ASR, 0, 0), (0xFFFFFFFF, 1)),     # ASR #32
    ((0x7FFFFFFF, ASR, 0, 1), (0x00000000, 0)),
    ((0x80000010, ASR, 4, 0), (0xF8000001, 0)),
    ((0x80000018, ASR, 4, 0), (0xF8000001, 1)),
    ((0x0000000F, ROR, 4, 0), (0xF0000000, 1)),
    ((0x00000001, ROR, 0, 1), (0x80000000, 1)),     # ROR #0 encodes RRX
    ((0x00000002, ROR, 0, 0), (0x00000001, 0)),
]


@pytest.mark.parametrize("args,want", IMM_CASES)
def test_immediate_shift(args, want):
    assert shift_imm(*args) == want


REG_CASES = [
    ((0x12345678, LSL, 0, 1), (0x12345678, 1)),     # amount 0: unchanged, C kept
    ((0x00000001, LSL, 32, 0), (0, 1)),             # LSL 32: C = bit 0
    ((0x00000001, LSL, 33, 1), (0, 0)),             # LSL > 32: C = 0
    ((0x80000000, LSR, 32, 0), (0, 1)),
    ((0x80000000, LSR, 33, 1), (0, 0)),
    ((0x80000000, ASR, 40, 0), (0xFFFFFFFF, 1)),    # ASR >= 32: sign, C = bit 31
    ((0x40000000, ASR, 200, 1), (0, 0)),
    ((0x80000000, ROR, 32, 0), (0x80000000, 1)),    # ROR by a multiple of 32: C = bit 31
    ((0x00000001, ROR, 33, 0), (0x80000000, 1)),    # ROR 33 == ROR 1
]


@pytest.mark.parametrize("args,want", REG_CASES)
def test_register_shift(args, want):
    assert shift_reg(*args) == want


def test_modified_immediate_carry():
    assert expand_imm_c(0, 0xFF, 1) == (0xFF, 1)           # no rotation: C kept
    assert expand_imm_c(1, 0x02, 0) == (0x80000000, 1)     # 2 ROR 2: C = bit 31
    assert expand_imm_c(4, 0x01, 1) == (0x01000000, 0)     # 1 ROR 8


def flags_after(asm, model="cortex-a15", carry=0, **regs):
    cpu = Cpu(model)
    cpu.s.cpsr = (cpu.s.cpsr & ~C_BIT) | (C_BIT if carry else 0)
    return cpu.asm_run(asm, **regs)


def test_movs_register_shift_by_32_sets_carry_from_bit0():
    s = flags_after("movs r0, r1, lsl r2", r1=1, r2=32)
    assert s.r[0] == 0 and s.cpsr & C_BIT


def test_shift_by_bottom_byte_of_rs_only():
    # Rs = 0x100: the bottom byte is 0, so nothing moves and C is kept
    s = flags_after("movs r0, r1, lsr r2", carry=1, r1=0x80000000, r2=0x100)
    assert s.r[0] == 0x80000000 and s.cpsr & C_BIT


def test_logical_op_takes_shifter_carry_arith_op_does_not():
    s = flags_after("ands r0, r1, r2, lsr #1", r1=0xFFFFFFFF, r2=3)
    assert s.r[0] == 1 and s.cpsr & C_BIT
    s = flags_after("adds r0, r1, r2, lsr #1", r1=0, r2=3)
    assert s.r[0] == 1 and not s.cpsr & C_BIT


def test_rrx_operand():
    s = flags_after("movs r0, r1, rrx", carry=1, r1=3)
    assert s.r[0] == 0x80000001 and s.cpsr & C_BIT


def test_pc_operand_reads_plus_8_and_plus_12_register_shifted_on_arm7tdmi():
    s = flags_after("add r0, pc, #0")
    assert s.r[0] == 0x1008
    s = flags_after("mov r0, pc, lsl r1", model="arm7tdmi", r1=0)
    assert s.r[0] == 0x100C
