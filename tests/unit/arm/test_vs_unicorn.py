"""A32 and T16 semantics against unicorn (QEMU's ARM front end,
cortex-a15) on random single instructions, from SVC mode with random
registers, flags and memory: data processing, multiplies, media, loads and
stores, LDM/STM, PUSH/POP, SWP, MSR/MRS, branches.  Left out: what either
side defines differently by design -- in A32 r15 as an operand or
destination (UNPREDICTABLE in most forms), LDM/STM with the base in the
list, empty lists or ``^``, LDRD/STRD with an odd register; in T16 the
high-register forms with the PC and STM with the base in the list but not
lowest (UNKNOWN value); in both, instructions that trap (unicorn stops on
them instead of taking the vector), IT, Thumb-2 other than BL, and words
either side leaves undefined."""

import random

import pytest
from arm_harness import TRAPS, Cpu, a32_comparable, random_a32, random_regs
from unicorn import UC_ARCH_ARM, UC_MODE_ARM, UC_MODE_THUMB, Uc, UcError
from unicorn import arm_const as A

from emu.isa.arm.state import T_BIT
from emu.isa.arm.step import ThumbUnsupported

REGS = [A.UC_ARM_REG_R0 + k for k in range(13)] + [A.UC_ARM_REG_SP, A.UC_ARM_REG_LR]
MEM, MEM_SIZE, CODE = 0x7F00, 0x200, 0x1000
PSR_BITS = 0xF80F01FF | T_BIT          # flags, GE, A I F T, mode


def t16_comparable(i, hw):
    if i.name in TRAPS or i.row.name in TRAPS:
        return False
    if hw >> 10 == 0b010001 and (i.rm == 15 or i.rd == 15):
        return False
    return not (i.name == "STM" and i.regs >> i.rn & 1 and i.regs & ((1 << i.rn) - 1))


class Pair:
    """kasou and unicorn over one shared memory image each."""

    def __init__(self, mode):
        self.uc = Uc(UC_ARCH_ARM, mode)
        self.uc.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_A15)
        self.uc.mem_map(0, 0x100000)
        self.memory = bytearray(0x100000)  # both sides keep what earlier instructions stored

    def run(self, rnd, code: bytes, thumb: bool):
        """Both sides from the same random state; None if unicorn faults."""
        cpu = Cpu(mem=self.memory)
        uc = self.uc
        mem = bytes(rnd.getrandbits(8) for _ in range(MEM_SIZE))
        regs = random_regs(rnd, MEM + 0x80)
        cpsr = rnd.getrandbits(4) << 28 | 0xD3 | (T_BIT if thumb else 0)
        for at, data in ((MEM, mem), (CODE, code)):
            uc.mem_write(at, data)
            self.memory[at:at + len(data)] = data
        uc.ctl_remove_cache(CODE, CODE + len(code))
        uc.reg_write(A.UC_ARM_REG_CPSR, cpsr)
        cpu.s.set_cpsr(cpsr)
        cpu.s.pc = CODE
        for k, v in enumerate(regs):
            uc.reg_write(REGS[k], v)
            cpu.s.r[k] = v
        try:
            uc.emu_start(CODE | thumb, 0x100000, count=1)
        except UcError:
            return None                # outside unicorn's map: an abort it reports differently
        cpu.run(1)
        got = [cpu.s.r[k] for k in range(15)] + [cpu.s.pc, cpu.s.cpsr & PSR_BITS,
                                                 bytes(self.memory[MEM:MEM + MEM_SIZE])]
        want = [uc.reg_read(r) for r in REGS] + [uc.reg_read(A.UC_ARM_REG_PC),
                                                 uc.reg_read(A.UC_ARM_REG_CPSR) & PSR_BITS,
                                                 bytes(uc.mem_read(MEM, MEM_SIZE))]
        return [f"[{k}] {a!r:.40} != {b!r:.40}" for k, (a, b) in enumerate(zip(got, want))
                if a != b]


@pytest.mark.parametrize("seed", [3, 5])
def test_a32_agrees_with_unicorn(seed):
    rnd = random.Random(seed)
    pair = Pair(UC_MODE_ARM)
    dec = Cpu().dec
    compared, diffs = 0, []
    while compared < 1000:
        word, i = random_a32(rnd, dec, a32_comparable)
        bad = pair.run(rnd, word.to_bytes(4, "little"), False)
        if bad is not None:
            compared += 1
            if bad:
                diffs.append(f"{word:08x} {i.name}: {', '.join(bad)}")
    assert diffs == []


@pytest.mark.parametrize("seed", [1, 2])
def test_t16_agrees_with_unicorn(seed):
    rnd = random.Random(seed)
    pair = Pair(UC_MODE_THUMB)
    tdec = Cpu().dec.thumb()
    compared, diffs = 0, []
    while compared < 1000:
        hw = rnd.getrandbits(16)
        hw2 = 0xBF00                                   # NOP after a 16-bit instruction
        if hw >> 11 in (0b11101, 0b11110, 0b11111):    # a 32-bit instruction: BL or BLX?
            hw2 = rnd.getrandbits(16) | 0xC000
            if tdec.decode_bl32(hw, hw2, CODE) is None:
                continue
        elif not t16_comparable(tdec.decode_half(hw, CODE), hw):
            continue
        try:
            bad = pair.run(rnd, hw.to_bytes(2, "little") + hw2.to_bytes(2, "little"), True)
        except ThumbUnsupported:
            continue
        if bad is not None:
            compared += 1
            if bad:
                diffs.append(f"{hw:04x} {hw2:04x}: {', '.join(bad)}")
    assert diffs == []
