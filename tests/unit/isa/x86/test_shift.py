"""Shifts and rotates (emu/isa/x86/semantics/shift.py), expected values worked
by hand from the SDM pseudocode (Vol. 2B "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR",
"SHLD", "SHRD") and the per-model count masking (8086: none; 186+: 5 bits;
64-bit operands: 6 bits)."""

import pytest

from emu.isa.x86 import flags as F
from emu.isa.x86.state import CS
from emu.machine import Machine

from cpu_harness import NAMES, machine, reg, run, run64  # noqa: F401


def al(s):
    return s.regs[0] & 0xFF


def flag(s, f):
    return bool(s.rflags & f)


# -- count 1 (D0), every kind, on AL = 0x81 ---------------------------------------------

@pytest.mark.parametrize("modrm,cf_in,al_in,res,cf,of", [
    (0xC0, 0, 0x81, 0x03, 1, 1),    # rol: CF = LSB(res); OF = MSB(res) ^ CF
    (0xC8, 0, 0x81, 0xC0, 1, 0),    # ror: CF = MSB(res); OF = MSB ^ MSB-1
    (0xD0, 0, 0x81, 0x02, 1, 1),    # rcl: CF in at the bottom
    (0xD0, 1, 0x81, 0x03, 1, 1),
    (0xD8, 1, 0x01, 0x80, 1, 1),    # rcr: CF in at the top; OF = MSB ^ MSB-1 of the result
    (0xD8, 0, 0x80, 0x40, 0, 1),
    (0xE0, 0, 0x81, 0x02, 1, 1),    # shl: OF = MSB(res) ^ CF
    (0xE0, 0, 0x40, 0x80, 0, 1),
    (0xE8, 0, 0x81, 0x40, 1, 1),    # shr: OF = MSB of the operand
    (0xF8, 0, 0x81, 0xC0, 1, 0),    # sar: OF = 0
])
def test_count_one(modrm, cf_in, al_in, res, cf, of):
    s = run([0xD0, modrm], ax=al_in, flags=cf_in)
    assert al(s) == res
    assert (flag(s, F.CF), flag(s, F.OF)) == (bool(cf), bool(of))


def test_rotate_keeps_sf_zf_pf():
    # cmp al, al sets ZF and PF; rol al, 1 must leave them (rotates touch only CF and OF)
    s = run([0x38, 0xC0, 0xD0, 0xC0], steps=2, ax=0x80)
    assert al(s) == 0x01
    assert flag(s, F.ZF) and flag(s, F.PF) and flag(s, F.CF)


def test_shift_sets_sf_zf_pf_from_result():
    s = run([0xD0, 0xE0], ax=0x80)                                  # shl al, 1 -> 0
    assert al(s) == 0 and flag(s, F.ZF) and flag(s, F.PF) and flag(s, F.CF)
    assert not flag(s, F.SF)


# -- count 0 ---------------------------------------------------------------------------

@pytest.mark.parametrize("modrm", [0xC0, 0xC8, 0xD0, 0xD8, 0xE0, 0xE8, 0xF8])
def test_cl_zero_changes_nothing(modrm):
    # every arithmetic flag set; a shift or rotate of AX by CL = 0 keeps them all
    start = F.CF | F.ZF | F.OF | F.AF | F.SF | F.PF
    s = run([0xD3, modrm], ax=0x8421, cx=0x0100, flags=start)       # CL = 0 (CH = 1)
    assert reg(s, "ax") == 0x8421
    assert s.rflags & F.ARITH == start


def test_imm_count_masked_to_zero_changes_nothing():
    s = run([0xC1, 0xE0, 0x20], ax=0x1234, flags=F.CF)              # shl ax, 32 -> count 0
    assert reg(s, "ax") == 0x1234 and flag(s, F.CF)


def test_shld_cl_zero_changes_nothing():
    s = run([0x66, 0x0F, 0xA5, 0xD8], ax=0x1234, bx=0xFFFF, cx=0x20, flags=F.CF | F.OF)
    assert reg(s, "ax", 4) == 0x1234
    assert flag(s, F.CF) and flag(s, F.OF)


# -- count masking per model ------------------------------------------------------------

def test_286_masks_count_to_5_bits():
    s = run([0xD3, 0xE0], cpu="286", ax=0x4001, cx=33)              # shl ax, cl: 33 & 31 = 1
    assert reg(s, "ax") == 0x8002 and not flag(s, F.CF)


def test_8086_does_not_mask_count():
    s = run([0xD3, 0xE0], cpu="8086", ax=0x4001, cx=33)             # 33 iterations: all out
    assert reg(s, "ax") == 0 and not flag(s, F.CF) and flag(s, F.ZF)


def test_8086_shr_by_16_leaves_last_bit_in_cf():
    s = run([0xD3, 0xE8], cpu="8086", ax=0x8000, cx=16)             # shr ax, cl
    assert reg(s, "ax") == 0 and flag(s, F.CF)


def test_8086_sar_by_200_fills_with_sign():
    s = run([0xD3, 0xF8], cpu="8086", ax=0x8000, cx=200)
    assert reg(s, "ax") == 0xFFFF and flag(s, F.CF)


def test_rcl8_by_9_is_a_full_cycle():
    # a 9-bit rotate by 9 restores AL and CF
    s = run([0xD2, 0xD0], cpu="8086", ax=0x5A, cx=9, flags=F.CF)    # rcl al, cl
    assert al(s) == 0x5A and flag(s, F.CF)


def test_rcr16_by_17_mod_17():
    s = run([0xD3, 0xD8], ax=0x0001, cx=18)                         # rcr ax, cl: 18 % 17 = 1
    assert reg(s, "ax") == 0x0000 and flag(s, F.CF)


def test_rol8_by_8_sets_cf_from_lsb():
    s = run([0xC0, 0xC0, 0x08], ax=0x81)                            # rol al, 8
    assert al(s) == 0x81 and flag(s, F.CF)


def test_64bit_count_masked_to_6_bits():
    s = run64(bytes([0x48, 0xD3, 0xE0]), ax=1, cx=0x70)             # shl rax, cl: 0x30
    assert s.regs[0] == 1 << 48


def test_32bit_count_masked_to_5_bits_in_long_mode():
    s = run64(bytes([0xD3, 0xE0]), ax=1, cx=0x70)                   # shl eax, cl: 0x10
    assert s.regs[0] == 1 << 16


# -- 32-bit forms -------------------------------------------------------------------------

def test_shl32_imm():
    s = run([0x66, 0xC1, 0xE0, 0x1F], ax=3)                         # shl eax, 31
    assert reg(s, "ax", 4) == 0x80000000 and flag(s, F.CF)


def test_ror32_imm():
    s = run([0x66, 0xC1, 0xC8, 0x08], ax=0x12345678)                # ror eax, 8
    assert reg(s, "ax", 4) == 0x78123456 and not flag(s, F.CF)


def test_sar32_cl():
    s = run([0x66, 0xD3, 0xF8], ax=0x80000010, cx=4)                # sar eax, cl
    assert reg(s, "ax", 4) == 0xF8000001 and not flag(s, F.CF)


# -- SHLD / SHRD --------------------------------------------------------------------------

def test_shld32_imm():
    s = run([0x66, 0x0F, 0xA4, 0xD8, 0x04], ax=0x12345678, bx=0x9ABCDEF0)   # shld eax, ebx, 4
    assert reg(s, "ax", 4) == 0x23456789
    assert reg(s, "bx", 4) == 0x9ABCDEF0
    assert flag(s, F.CF)                                             # bit 28 of 0x12345678


def test_shrd32_imm():
    s = run([0x66, 0x0F, 0xAC, 0xD8, 0x04], ax=0x12345678, bx=0x9ABCDEF1)   # shrd eax, ebx, 4
    assert reg(s, "ax", 4) == 0x11234567
    assert flag(s, F.CF)                                             # bit 3 of 0x...78


def test_shrd32_cl_count_1_of():
    s = run([0x66, 0x0F, 0xAD, 0xD8], ax=0x00000002, bx=1, cx=1)    # shrd eax, ebx, cl
    assert reg(s, "ax", 4) == 0x80000001
    assert flag(s, F.OF) and not flag(s, F.CF) and flag(s, F.SF)    # sign changed


def test_shld16_count_above_16_shifts_dest_src_dest():
    # Intel: a 16-bit SHLD by 20 shifts the 48-bit AX:BX:AX left by 20
    s = run([0x0F, 0xA4, 0xD8, 0x14], ax=0x1234, bx=0x5678)         # shld ax, bx, 20
    assert reg(s, "ax") == 0x6781


def test_shrd16_count_above_16_shifts_dest_src_dest():
    s = run([0x0F, 0xAC, 0xD8, 0x14], ax=0x1234, bx=0x5678)         # shrd ax, bx, 20
    assert reg(s, "ax") == 0x4567


def test_shld64_cl():
    s = run64(bytes([0x48, 0x0F, 0xA5, 0xD8]), ax=1 << 63 | 1, bx=1 << 63, cx=1)
    assert s.regs[0] == 3 and s.rflags & F.CF                        # shld rax, rbx, cl


def test_shld_memory_destination():
    m = Machine("pc", "interp", cpu="max", memory=1 << 20)
    m.load_image(bytes([0x0F, 0xA4, 0x1F, 0x08]))                   # shld [bx], bx, 8
    m.ram.write(0x0600, 2, 0x1234)
    m.cpu.regs[3] = 0x0600
    m.accel.run(1)
    assert m.ram.read(0x0600, 2) == 0x3406                          # 0x1234 << 8 | 0x06


def test_shift_memory_destination_count_zero_still_faults_on_286():
    # rol word [bx], 0x80: count 0 after masking, yet the word at 0xFFFF is read -> #GP
    m = machine([0xC1, 0x07, 0x80], cpu="286", bx=0xFFFF)
    assert m.cpu.segs[CS].selector == 0xF000 and m.cpu.rip == 0xFF53


# -- 8086 SETMO / SETMOC, 286 SAL ----------------------------------------------------------

def test_8086_setmo_writes_all_ones():
    s = run([0xD1, 0xF0], cpu="8086", ax=0x1234, flags=F.CF | F.OF)    # setmo ax
    assert reg(s, "ax") == 0xFFFF
    assert not flag(s, F.CF) and not flag(s, F.OF) and flag(s, F.SF) and flag(s, F.PF)


def test_8086_setmoc_with_cl_zero_changes_nothing():
    s = run([0xD2, 0xF0], cpu="8086", ax=0x1234, cx=0, flags=F.CF)     # setmoc al, cl
    assert reg(s, "ax") == 0x1234 and flag(s, F.CF)


def test_8086_setmoc_with_cl_nonzero():
    s = run([0xD2, 0xF0], cpu="8086", ax=0x1234, cx=5)
    assert reg(s, "ax") == 0x12FF


def test_286_sal_is_shl():
    s = run([0xD0, 0xF0], cpu="286", ax=0x41)                         # /6 = sal al, 1
    assert al(s) == 0x82 and flag(s, F.OF) and not flag(s, F.CF)
