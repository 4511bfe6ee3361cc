"""Exception entry and return (ARM DDI 0406C B1.8, Tables B1-3/B1-6;
ARMv4T: DDI 0100I A2.6), processor modes and banked registers (B1.3).
Expected values are worked out by hand from those tables."""

import pytest
from arm_harness import CODE, Cpu

from emu.isa.arm.exceptions import IRQ_EXC, enter_exception
from emu.isa.arm.state import (A_BIT, ABT, F_BIT, FIQ, I_BIT, IRQ, SVC, SYS, T_BIT, UND, USR)
from emu.isa.arm.step import ThumbUnsupported

FLAGS = 0xA0000000          # N and C, to see the SPSR keep them


def user_cpu(model="cortex-a15"):
    cpu = Cpu(model)
    cpu.s.set_cpsr(FLAGS | USR)
    cpu.s.r[13], cpu.s.r[14] = 0x7000, 0x1111
    return cpu


def test_svc_from_user_mode():
    cpu = user_cpu()
    cpu.s.vbar = 0x8000
    s = cpu.asm_run("svc #0x42")
    assert s.cpsr & 0x1F == SVC
    assert s.cpsr & I_BIT and not s.cpsr & (T_BIT | A_BIT)
    assert s.cpsr & 0xF0000000 == FLAGS
    assert s.spsr[SVC] == FLAGS | USR
    assert s.r[14] == CODE + 4                  # LR_svc: the next instruction
    assert s.pc == 0x8008                       # VBAR + 8
    assert s.user_reg(14) == 0x1111 and s.user_reg(13) == 0x7000


def test_undefined_on_arm7tdmi_for_a_v7_encoding():
    cpu = user_cpu("arm7tdmi")
    s = cpu.asm_run("movw r0, #0x1234")
    assert s.r[0] == 0
    assert s.cpsr & 0x1F == UND and s.cpsr & I_BIT and not s.cpsr & F_BIT
    assert s.spsr[UND] == FLAGS | USR
    assert s.r[14] == CODE + 4 and s.pc == 0x04


def test_high_vectors():
    cpu = user_cpu()
    cpu.s.sctlr |= 1 << 13                      # SCTLR.V
    cpu.s.vbar = 0x8000                         # ignored with high vectors
    s = cpu.asm_run(".word 0xe7f000f0")         # UDF
    assert s.pc == 0xFFFF0004 and s.cpsr & 0x1F == UND


def test_data_abort_keeps_registers_and_returns_to_plus_8():
    cpu = Cpu(abort_at=0x3000)
    cpu.s.set_cpsr(SVC | I_BIT)
    s = cpu.asm_run("ldr r0, [r1], #4", r0=7, r1=0x3000)
    assert s.r[0] == 7 and s.r[1] == 0x3000     # neither load nor writeback happened
    assert s.cpsr & 0x1F == ABT and s.cpsr & A_BIT
    assert s.r[14] == CODE + 8 and s.pc == 0x10
    assert s.spsr[ABT] == SVC | I_BIT


def test_irq_entry_and_return_with_subs_pc_lr():
    cpu = user_cpu()
    cpu.load("nop\nsubs pc, lr, #4", at=0x18)   # the IRQ vector: return at once
    cpu.s.pc = CODE + 8                          # the instruction to resume
    enter_exception(cpu.s, cpu.model, IRQ_EXC, CODE + 8)
    s = cpu.s
    assert s.cpsr & 0x1F == IRQ and s.cpsr & (I_BIT | A_BIT) == I_BIT | A_BIT
    assert s.r[14] == CODE + 12 and s.pc == 0x18 and s.spsr[IRQ] == FLAGS | USR
    cpu.run(2)
    assert s.cpsr == FLAGS | USR and s.pc == CODE + 8
    assert s.r[14] == 0x1111                     # user LR back in view


def test_fiq_banks_r8_to_r14():
    cpu = Cpu()
    cpu.s.set_cpsr(SVC)
    cpu.s.r[8], cpu.s.r[13] = 0x88, 0x5000
    cpu.s.set_cpsr(FIQ | I_BIT | F_BIT)
    cpu.s.r[8] = 0xF8
    cpu.s.set_cpsr(SYS)
    assert cpu.s.r[8] == 0x88 and cpu.s.r[13] != 0x5000   # SYS: user bank
    cpu.s.set_cpsr(SVC)
    assert cpu.s.r[8] == 0x88 and cpu.s.r[13] == 0x5000
    cpu.s.set_cpsr(FIQ)
    assert cpu.s.r[8] == 0xF8


def test_msr_mode_switch_swaps_sp():
    cpu = Cpu()
    cpu.s.set_cpsr(SVC | I_BIT | F_BIT)
    s = cpu.asm_run("mov sp, #0x4000\nmsr cpsr_c, #0xd2\nmov sp, #0x3000\nmsr cpsr_c, #0xd3")
    assert s.r[13] == 0x4000 and s.banked[IRQ][0] == 0x3000


def test_ldm_caret_with_pc_restores_cpsr():
    cpu = Cpu()
    cpu.s.set_cpsr(SVC | I_BIT)
    cpu.s.spsr[SVC] = FLAGS | USR
    cpu.mem[0x4000:0x4008] = (0x2000).to_bytes(4, "little") + (0x1234).to_bytes(4, "little")
    s = cpu.asm_run("ldmia sp!, {r0, pc}^", r13=0x4000)
    assert s.cpsr == FLAGS | USR and s.pc == 0x1234 and s.r[0] == 0x2000
    assert s.banked[SVC][0] == 0x4008            # the SVC stack pointer was written back


def test_stm_caret_stores_user_registers():
    cpu = Cpu()
    cpu.s.set_cpsr(USR)
    cpu.s.r[13], cpu.s.r[14] = 0xAAAA, 0xBBBB
    cpu.s.set_cpsr(IRQ | I_BIT)
    cpu.s.r[13], cpu.s.r[14] = 0x4000, 0xCCCC
    cpu.asm_run("stmia r13, {r13, r14}^")
    assert cpu.mem[0x4000:0x4008] == bytes.fromhex("aaaa0000" "bbbb0000")


def test_thumb_runs_t16_but_refuses_it_blocks_and_thumb2():
    cpu = Cpu()
    s = cpu.asm_run("bx r0", r0=0x2001)
    assert s.cpsr & T_BIT and s.pc == 0x2000
    # movs r0, #5; it eq; ldr.w r1, [r0]
    cpu.mem[0x2000:0x200A] = bytes.fromhex("0520" "08bf" "d0f80010" "0000")
    cpu.run(1)
    assert s.r[0] == 5 and s.pc == 0x2002
    before = (list(s.r), s.cpsr)
    with pytest.raises(ThumbUnsupported, match="IT block is not implemented"):
        cpu.run(1)
    assert (s.r, s.cpsr, s.pc) == (before[0], before[1], 0x2002)
    s.pc = 0x2004
    with pytest.raises(ThumbUnsupported, match="32-bit Thumb-2 instruction f8d0 1000"):
        cpu.run(1)
    assert s.pc == 0x2004


def test_svc_from_thumb_returns_to_the_next_halfword():
    cpu = Cpu()
    cpu.s.set_cpsr(USR | T_BIT)
    cpu.mem[0x2000:0x2002] = bytes.fromhex("12df")                       # svc #0x12
    cpu.s.pc = 0x2000
    s = cpu.run(1)
    assert s.r[14] == 0x2002 and s.spsr[SVC] == USR | T_BIT
    assert s.cpsr & 0x1F == SVC and not s.cpsr & T_BIT and s.pc == 0x08


def test_arm7tdmi_thumb_bl_pair():
    """ARMv4T: BL is two T16 instructions, LR carries the high part
    between them (DDI 0100I A7.1.17)."""
    cpu = Cpu("arm7tdmi")
    cpu.s.set_cpsr(SVC | T_BIT)
    cpu.mem[0x2000:0x2004] = bytes.fromhex("00f0" "02f8")               # bl 0x2008
    cpu.s.pc = 0x2000
    s = cpu.run(1)
    assert s.r[14] == 0x2004 and s.pc == 0x2002
    cpu.run(1)
    assert s.pc == 0x2008 and s.r[14] == 0x2005 and s.cpsr & T_BIT


def test_cp15_vbar_and_midr_but_other_coprocessors_trap():
    cpu = Cpu()
    cpu.s.set_cpsr(SVC | I_BIT)
    s = cpu.asm_run("mrc p15, 0, r0, c0, c0, 0\nmcr p15, 0, r1, c12, c0, 0", r1=0x8000)
    assert s.r[0] == 0x412FC0F1 and s.vbar == 0x8000
    s = cpu.asm_run("mrc p14, 0, r0, c0, c0, 0")
    assert s.cpsr & 0x1F == UND and s.pc == 0x8004


def test_take_interrupt_respects_the_mask_and_wakes_wfi():
    from emu.isa.arm.exceptions import take_interrupt
    cpu = user_cpu()
    cpu.s.set_cpsr(FLAGS | USR | I_BIT)
    cpu.s.pc = 0x2000
    assert not take_interrupt(cpu.s, cpu.model)
    cpu.s.set_cpsr(FLAGS | USR)
    cpu.asm_run("wfi")
    assert cpu.s.halted
    assert take_interrupt(cpu.s, cpu.model)
    assert not cpu.s.halted and cpu.s.cpsr & 0x1F == IRQ and cpu.s.r[14] == CODE + 8
    assert take_interrupt(cpu.s, cpu.model, fiq=True)            # F is still clear
    assert cpu.s.cpsr & 0x1F == FIQ and cpu.s.pc == 0x1C


@pytest.mark.parametrize("asm,thumb", [("svc #0x123456", False), ("bkpt #0xab", False)])
def test_semihosting_hook_replaces_the_exception(asm, thumb):
    calls = []
    cpu = Cpu()
    cpu.s.set_cpsr(SVC)
    cpu.ops.semihosting = lambda ops: calls.append(ops.s.r[0]) or ops.set_reg(0, 42)
    s = cpu.asm_run(asm, r0=4)
    assert calls == [4] and s.r[0] == 42 and s.pc == CODE + 4 and s.cpsr & 0x1F == SVC
    s = cpu.asm_run("svc #0x12")                                   # any other SVC is an SVC
    assert s.pc == 0x08 and calls == [4]


def test_thumb_semihosting_svc_0xab():
    calls = []
    cpu = Cpu()
    cpu.s.set_cpsr(SVC | T_BIT)
    cpu.ops.semihosting = lambda ops: calls.append(ops.s.r[0])
    cpu.mem[0x2000:0x2002] = bytes.fromhex("abdf")                 # svc #0xab
    cpu.s.pc = 0x2000
    s = cpu.run(1)
    assert calls == [0] and s.pc == 0x2002 and s.cpsr & T_BIT
