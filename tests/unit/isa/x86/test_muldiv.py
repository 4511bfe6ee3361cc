"""MUL, IMUL, DIV, IDIV (emu/isa/x86/semantics/muldiv.py), expected values
worked by hand from the SDM pseudocode (Vol. 2A "DIV", "IDIV", "IMUL",
Vol. 2B "MUL").  32-bit forms run in real mode behind an operand-size
prefix; 64-bit forms are decoded in long mode and run on ConcreteOps."""

import pytest

from emu.isa.ops import GuestException
from emu.isa.x86 import flags as F
from emu.isa.x86.state import CS

from cpu_harness import NAMES, machine, reg, run, run64  # noqa: F401


def cf_of(s):
    f = s.rflags
    return (bool(f & F.CF), bool(f & F.OF))


def faulted_de(s):
    """A #DE went through IVT entry 0 to the pc board's dummy handler at F000:FF53."""
    return s.segs[CS].selector == 0xF000 and s.rip == 0xFF53


# -- MUL ------------------------------------------------------------------------------

def test_mul8_fits_clears_cf_of():
    s = run([0xF6, 0xE3], ax=0x1103, bx=4, flags=F.CF | F.OF)     # mul bl
    assert reg(s, "ax") == 12                                        # AH is overwritten
    assert cf_of(s) == (False, False)


def test_mul8_upper_half_sets_cf_of():
    s = run([0xF6, 0xE3], ax=0x80, bx=2)
    assert reg(s, "ax") == 0x100
    assert cf_of(s) == (True, True)


def test_mul16_writes_dx_ax():
    s = run([0xF7, 0xE3], ax=0xFFFF, bx=0xFFFF)                      # mul bx
    assert (reg(s, "dx"), reg(s, "ax")) == (0xFFFE, 0x0001)
    assert cf_of(s) == (True, True)


def test_mul32_operand_size_prefix():
    s = run([0x66, 0xF7, 0xE3], ax=0x80000000, bx=4)                # mul ebx
    assert (reg(s, "dx", 4), reg(s, "ax", 4)) == (2, 0)
    assert cf_of(s) == (True, True)


def test_mul64():
    s = run64(bytes([0x48, 0xF7, 0xE3]), ax=1 << 63, bx=6)          # mul rbx
    assert (s.regs[2], s.regs[0]) == (3, 0)
    assert cf_of(s) == (True, True)


# -- IMUL -----------------------------------------------------------------------------

def test_imul8_one_operand_signed():
    s = run([0xF6, 0xEB], ax=0xFE, bx=3)                            # imul bl: -2*3
    assert reg(s, "ax") == 0xFFFA
    assert cf_of(s) == (False, False)


def test_imul8_one_operand_overflow():
    s = run([0xF6, 0xEB], ax=0xFF, bx=0x80)                         # -1 * -128 = +128
    assert reg(s, "ax") == 0x0080
    assert cf_of(s) == (True, True)


def test_imul2_32bit_overflow_truncates():
    s = run([0x66, 0x0F, 0xAF, 0xC3], ax=0x10000, bx=0x10000)       # imul eax, ebx
    assert reg(s, "ax", 4) == 0
    assert cf_of(s) == (True, True)


def test_imul2_32bit_negative_fits():
    s = run([0x66, 0x0F, 0xAF, 0xC3], ax=0xFFFFFFFD, bx=5)          # -3 * 5
    assert reg(s, "ax", 4) == 0xFFFFFFF1
    assert cf_of(s) == (False, False)


def test_imul3_32bit_imm8_exactly_min_int_does_not_overflow():
    s = run([0x66, 0x6B, 0xC3, 0xFE], bx=0x40000000, flags=F.CF)    # imul eax, ebx, -2
    assert reg(s, "ax", 4) == 0x80000000
    assert cf_of(s) == (False, False)


def test_imul3_32bit_imm8_one_past_min_int_overflows():
    s = run([0x66, 0x6B, 0xC3, 0xFE], bx=0x40000001)                # -2**31 - 2
    assert reg(s, "ax", 4) == 0x7FFFFFFE
    assert cf_of(s) == (True, True)


def test_imul3_32bit_imm32():
    s = run([0x66, 0x69, 0xCB, 0x00, 0x00, 0x01, 0x00], bx=0x8000)   # imul ecx, ebx, 0x10000
    assert reg(s, "cx", 4) == 0x80000000                            # +2**31 does not fit
    assert cf_of(s) == (True, True)


def test_imul3_16bit_leaves_source():
    s = run([0x6B, 0xC3, 0x07], bx=0x0100, ax=0x5555)               # imul ax, bx, 7
    assert reg(s, "ax") == 0x0700 and reg(s, "bx") == 0x0100
    assert cf_of(s) == (False, False)


# -- DIV ------------------------------------------------------------------------------

def test_div8_quotient_and_remainder():
    s = run([0xF6, 0xF3], ax=1001, bx=10)                           # div bl
    assert reg(s, "ax") == (1 << 8) | 100
    assert not faulted_de(s)


def test_div8_quotient_overflow_is_de():
    s = run([0xF6, 0xF3], ax=0x0200, bx=2)                          # 0x100 does not fit AL
    assert faulted_de(s)
    assert reg(s, "ax") == 0x0200


def test_div32_by_zero_is_de_and_changes_nothing():
    s = run([0x66, 0xF7, 0xF3], ax=0x1234, dx=0, bx=0)              # div ebx
    assert faulted_de(s)
    assert reg(s, "ax", 4) == 0x1234 and reg(s, "dx", 4) == 0


def test_div32_quotient_overflow_is_de():
    s = run([0x66, 0xF7, 0xF3], ax=0, dx=1, bx=1)                   # 2**32 / 1
    assert faulted_de(s)


def test_div32_edx_eax():
    s = run([0x66, 0xF7, 0xF3], dx=1, ax=5, bx=0x10)                # 0x1_00000005 / 16
    assert (reg(s, "ax", 4), reg(s, "dx", 4)) == (0x10000000, 5)


@pytest.mark.parametrize("cpu,ret", [("max", 0x7C00), ("286", 0x7C00), ("8086", 0x7C02)])
def test_de_return_address(cpu, ret):
    """#DE pushes the faulting IP (286 and later) or the next one (8086)."""
    m = machine([0xF6, 0xF3], cpu=cpu, ax=1, bx=0)                 # div bl, bl = 0
    assert faulted_de(m.cpu)
    sp = reg(m.cpu, "sp")
    assert sp == 0x7C00 - 6
    assert m.ram.read(sp, 2) == ret


# -- IDIV -----------------------------------------------------------------------------

def test_idiv8_truncates_toward_zero():
    s = run([0xF6, 0xFB], ax=0xFFF9, bx=2)                          # -7 / 2 = -3 rem -1
    assert reg(s, "ax") == 0xFFFD


def test_idiv16_negative_divisor():
    s = run([0xF7, 0xFB], dx=0, ax=7, bx=0xFFFE)                     # 7 / -2 = -3 rem 1
    assert (reg(s, "ax"), reg(s, "dx")) == (0xFFFD, 1)


def test_idiv8_min_quotient_allowed_on_286_and_later():
    s = run([0xF6, 0xFB], ax=0xFF80, bx=1)                          # -128 / 1
    assert not faulted_de(s)
    assert reg(s, "ax") == 0x0080


def test_idiv8_min_quotient_is_de_on_8086():
    s = run([0xF6, 0xFB], cpu="8086", ax=0xFF80, bx=1)
    assert faulted_de(s)


def test_idiv8_positive_overflow_is_de():
    s = run([0xF6, 0xFB], ax=0x0080, bx=1)                          # +128
    assert faulted_de(s)


def test_8086_rep_idiv_negates_quotient():
    s = run([0xF3, 0xF6, 0xFB], cpu="8086", ax=7, bx=2)             # rep idiv bl
    assert reg(s, "ax") == (1 << 8) | 0xFD                          # quotient -3, remainder 1


def test_rep_idiv_is_plain_idiv_on_286():
    s = run([0xF3, 0xF6, 0xFB], cpu="286", ax=7, bx=2)
    assert reg(s, "ax") == (1 << 8) | 3


def test_idiv64_min_over_minus_one_is_de():
    with pytest.raises(GuestException) as e:
        run64(bytes([0x48, 0xF7, 0xFB]), dx=(1 << 64) - 1, ax=1 << 63, bx=(1 << 64) - 1)
    assert e.value.vector == 0


def test_div64_rdx_rax():
    s = run64(bytes([0x48, 0xF7, 0xF3]), dx=3, ax=7, bx=1 << 62)    # (3*2**64 + 7) / 2**62
    assert (s.regs[0], s.regs[2]) == (12, 7)


def test_8086_rep_imul_negates_product():
    s = run([0xF2, 0xF6, 0xEB], cpu="8086", ax=3, bx=2)             # repne imul bl
    assert reg(s, "ax") == 0xFFFA
