"""BT/BTS/BTR/BTC, BSF/BSR, CMPXCHG, XADD (emu/isa/x86/semantics/bits.py),
expected values worked by hand from the SDM (Vol. 2A "BT" with its
bit-string addressing, "BSF", "BSR", "CMPXCHG"; Vol. 2B "XADD")."""

import pytest

from emu.isa.x86 import flags as F

from cpu_harness import NAMES, machine, reg, run, run64  # noqa: F401

BASE = 0x0800          # DS = 0: the memory operands live here


def flag(s, f):
    return bool(s.rflags & f)


# -- BT family, register destination ---------------------------------------------------------

def test_bt_reg_imm():
    s = machine([0x0F, 0xBA, 0xE0, 0x03], ax=0x0008).cpu             # bt ax, 3
    assert flag(s, F.CF) and reg(s, "ax") == 8


def test_bt_reg_offset_is_modulo_width_for_register_destination():
    s = machine([0x0F, 0xA3, 0xC8], ax=0x0008, cx=19).cpu            # bt ax, cx: 19 % 16 = 3
    assert flag(s, F.CF)


def test_bt_leaves_zf_alone():
    s = machine([0x0F, 0xBA, 0xE0, 0x00], ax=1, flags=F.ZF).cpu      # bt ax, 0
    assert flag(s, F.CF) and flag(s, F.ZF)


@pytest.mark.parametrize("op,start,cf,result", [
    (0xE8, 0x00F0, 0, 0x00F1),      # bts ax, 0
    (0xE8, 0x00F1, 1, 0x00F1),
    (0xF0, 0x00F1, 1, 0x00F0),      # btr ax, 0
    (0xF0, 0x00F0, 0, 0x00F0),
    (0xF8, 0x00F0, 0, 0x00F1),      # btc ax, 0
    (0xF8, 0x00F1, 1, 0x00F0),
])
def test_bts_btr_btc_reg_imm(op, start, cf, result):
    s = machine([0x0F, 0xBA, op, 0x00], ax=start).cpu
    assert reg(s, "ax") == result
    assert flag(s, F.CF) == bool(cf)


def test_btr32_top_bit():
    s = machine([0x66, 0x0F, 0xBA, 0xF0, 0x1F], ax=0xFFFFFFFF).cpu   # btr eax, 31
    assert reg(s, "ax", 4) == 0x7FFFFFFF and flag(s, F.CF)


# -- BT family, memory bit strings ------------------------------------------------------------

def test_bts_memory_positive_offset_moves_to_next_word():
    m = machine([0x0F, 0xAB, 0x07], bx=BASE, ax=19, mem=[(BASE, 2, 0), (BASE + 2, 2, 0)])
    # bts [bx], ax: bit 19 = bit 3 of the word at EA + 2
    assert m.ram.read(BASE, 2) == 0
    assert m.ram.read(BASE + 2, 2) == 0x0008
    assert not flag(m.cpu, F.CF)


def test_btr_memory_negative_offset_moves_backwards():
    m = machine([0x0F, 0xB3, 0x07], bx=BASE, ax=0xFFFF, mem=[(BASE - 2, 2, 0xFFFF)])
    # btr [bx], ax with ax = -1: bit 15 of the word at EA - 2
    assert m.ram.read(BASE - 2, 2) == 0x7FFF
    assert flag(m.cpu, F.CF)


def test_btc32_memory_offset_in_dwords():
    m = machine([0x66, 0x0F, 0xBB, 0x07], bx=BASE, ax=0x21, mem=[(BASE + 4, 4, 0x10)])
    # btc [bx], eax: bit 33 = bit 1 of the dword at EA + 4
    assert m.ram.read(BASE + 4, 4) == 0x12
    assert m.ram.read(BASE, 4) == 0
    assert not flag(m.cpu, F.CF)


def test_bt32_memory_large_negative_offset():
    m = machine([0x66, 0x0F, 0xA3, 0x07], bx=BASE, ax=(1 << 32) - 33,
                mem=[(BASE - 8, 4, 0x80000000)])
    # bt [bx], eax with eax = -33: dword at EA + 4*(-33 >> 5) = EA - 8, bit -33 & 31 = 31
    assert flag(m.cpu, F.CF)


def test_bts_memory_immediate_offset_stays_in_the_operand():
    m = machine([0x0F, 0xBA, 0x2F, 0x13], bx=BASE, mem=[(BASE, 2, 0x0008), (BASE + 2, 2, 0)])
    # bts word [bx], 19: an immediate is taken modulo 16 -> bit 3 of [bx] itself
    assert flag(m.cpu, F.CF)
    assert m.ram.read(BASE, 2) == 0x0008 and m.ram.read(BASE + 2, 2) == 0


def test_bt_memory_does_not_write():
    m = machine([0x0F, 0xA3, 0x07], bx=BASE, ax=0, mem=[(BASE, 2, 0x0001)])
    assert flag(m.cpu, F.CF) and m.ram.read(BASE, 2) == 1


def test_bts64_register_offset():
    s = run64(bytes([0x48, 0x0F, 0xAB, 0xC8]), ax=0, cx=70)          # bts rax, rcx: 70 % 64
    assert s.regs[0] == 1 << 6


# -- BSF / BSR ----------------------------------------------------------------------------

def test_bsf_lowest_set_bit():
    s = machine([0x0F, 0xBC, 0xC3], bx=0x0050, ax=0xAAAA, flags=F.ZF).cpu   # bsf ax, bx
    assert reg(s, "ax") == 4 and not flag(s, F.ZF)


def test_bsr_highest_set_bit():
    s = machine([0x0F, 0xBD, 0xC3], bx=0x0050, ax=0xAAAA).cpu              # bsr ax, bx
    assert reg(s, "ax") == 6 and not flag(s, F.ZF)


@pytest.mark.parametrize("op", [0xBC, 0xBD])
def test_bsf_bsr_zero_source_sets_zf_and_keeps_destination(op):
    s = machine([0x66, 0x0F, op, 0xC3], bx=0, ax=0xDEADBEEF).cpu
    assert flag(s, F.ZF)
    assert reg(s, "ax", 4) == 0xDEADBEEF


def test_bsr32_top_bit():
    s = machine([0x66, 0x0F, 0xBD, 0xC3], bx=0x80000001, ax=0).cpu
    assert reg(s, "ax", 4) == 31


# -- CMPXCHG -------------------------------------------------------------------------------

def test_cmpxchg_equal_stores_source():
    m = machine([0x0F, 0xB1, 0x0F], bx=BASE, ax=0x1234, cx=0x5678, mem=[(BASE, 2, 0x1234)])
    assert m.ram.read(BASE, 2) == 0x5678                            # cmpxchg [bx], cx
    assert reg(m.cpu, "ax") == 0x1234
    assert flag(m.cpu, F.ZF) and not flag(m.cpu, F.CF)


def test_cmpxchg_not_equal_loads_accumulator():
    m = machine([0x0F, 0xB1, 0x0F], bx=BASE, ax=0x0001, cx=0x5678, mem=[(BASE, 2, 0x0002)])
    assert m.ram.read(BASE, 2) == 0x0002
    assert reg(m.cpu, "ax") == 0x0002
    assert not flag(m.cpu, F.ZF) and flag(m.cpu, F.CF)              # flags of CMP 1, 2


def test_cmpxchg8_register_destination():
    s = machine([0x0F, 0xB0, 0xCB], ax=0x0042, bx=0x0042, cx=0x0099).cpu   # cmpxchg bl, cl
    assert reg(s, "bx") == 0x0099 and reg(s, "ax") == 0x0042 and flag(s, F.ZF)


def test_cmpxchg_accumulator_as_destination_takes_source():
    s = machine([0x0F, 0xB1, 0xC8], ax=0x0007, cx=0x0099).cpu       # cmpxchg ax, cx: always equal
    assert reg(s, "ax") == 0x0099 and flag(s, F.ZF)


def test_cmpxchg32_equal_keeps_upper_rax_in_long_mode():
    s = run64(bytes([0x0F, 0xB1, 0xCB]), ax=(0xAB << 32) | 5, bx=5, cx=9)   # cmpxchg ebx, ecx
    assert s.regs[0] == (0xAB << 32) | 5 and s.regs[3] == 9
    assert s.rflags & F.ZF


def test_cmpxchg32_not_equal_zero_extends_into_rax():
    s = run64(bytes([0x0F, 0xB1, 0xCB]), ax=(0xAB << 32) | 5, bx=6, cx=9)
    assert s.regs[0] == 6 and s.regs[3] == 6
    assert not s.rflags & F.ZF


# -- XADD ---------------------------------------------------------------------------------

def test_xadd_register():
    s = machine([0x0F, 0xC1, 0xD8], ax=1, bx=2).cpu                 # xadd ax, bx
    assert (reg(s, "ax"), reg(s, "bx")) == (3, 1)


def test_xadd_same_register_doubles():
    s = machine([0x0F, 0xC1, 0xC0], ax=0x21).cpu                    # xadd ax, ax
    assert reg(s, "ax") == 0x42


def test_xadd_memory_flags_of_the_add():
    m = machine([0x0F, 0xC1, 0x0F], bx=BASE, cx=1, mem=[(BASE, 2, 0xFFFF)])   # xadd [bx], cx
    assert m.ram.read(BASE, 2) == 0 and reg(m.cpu, "cx") == 0xFFFF
    assert flag(m.cpu, F.CF) and flag(m.cpu, F.ZF) and flag(m.cpu, F.AF) and not flag(m.cpu, F.OF)


def test_xadd8():
    s = machine([0x0F, 0xC0, 0xD8], ax=0x7F, bx=0x01).cpu           # xadd al, bl
    assert (reg(s, "ax"), reg(s, "bx")) == (0x80, 0x7F)
    assert flag(s, F.OF) and flag(s, F.SF)
