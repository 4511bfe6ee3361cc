"""``-cpu max`` where the SDM defines the result (SDM Vol. 2A "AAM", "AAD",
"POPF", "IRET"); the expected values are worked out from those pages."""

from emu.isa.x86 import flags as F

from cpu_harness import machine, reg, run


def test_aam_sets_sf_zf_pf_from_al_not_ax():
    # AL = 0x50 (80), AAM 10: AH = 80 / 10 = 8, AL = 80 mod 10 = 0.
    # From AL: ZF = 1, PF = 1 (no ones: even), SF = 0.  (OR AX,0 would give ZF = 0.)
    s = run(bytes([0xD4, 0x0A]), ax=0x0050)
    assert reg(s, "ax") == 0x0800
    assert s.rflags & (F.ZF | F.SF | F.PF) == F.ZF | F.PF
    # AL = 0x85, AAM 0x90: AH = 0, AL = 0x85; SF = bit 7 of AL = 1.
    s = run(bytes([0xD4, 0x90]), ax=0x0085)
    assert reg(s, "ax") == 0x0085
    assert s.rflags & (F.ZF | F.SF) == F.SF


def test_aad_sets_sf_from_al():
    # AX = 0x0D05, AAD 10: AL = 5 + 13 * 10 = 135 = 0x87, AH = 0.
    # From AL: SF = 1 (bit 7), ZF = 0, PF = 1 (0x87 has four ones).  As a
    # word AX = 0x0087 is positive, so OR AX,0 would give SF = 0.
    s = run(bytes([0xD5, 0x0A]), ax=0x0D05)
    assert reg(s, "ax") == 0x0087
    assert s.rflags & (F.SF | F.ZF | F.PF) == F.SF | F.PF


def test_popfd_in_real_mode_never_sets_vm_and_clears_rf():
    # POPFD (66 9D) of 0x00270001: RF VM AC ID CF.  "All non-reserved flags
    # except RF, VIP, VIF, and VM can be modified; VIP, VIF, VM ... unaffected.
    # RF is cleared."  So CF, AC and ID are set; VM and RF stay 0.
    m = machine(bytes([0x66, 0x9D]), sp=0x6000, mem=[(0x6000, 4, 0x00270001)])
    fl = m.cpu.rflags
    assert fl & (F.CF | F.AC | F.ID) == F.CF | F.AC | F.ID
    assert fl & (F.VM | F.RF) == 0


def test_iretd_in_real_mode_masks_with_257fd5():
    # IRETD (66 CF) pops EIP = 0x7C10, CS = 0, EFLAGS = 0x00B30001 (VIF RF VM
    # ID CF): "EFLAGS <- (tempEFLAGS AND 257FD5H) OR (EFLAGS AND 1A0000H)", so
    # RF, ID and CF are set, VM and VIF keep 0.
    m = machine(bytes([0x66, 0xCF]), sp=0x6000,
                mem=[(0x6000, 4, 0x7C10), (0x6004, 4, 0), (0x6008, 4, 0x00B30001)])
    fl = m.cpu.rflags
    assert fl & (F.CF | F.RF | F.ID) == F.CF | F.RF | F.ID
    assert fl & (F.VM | F.VIF) == 0
