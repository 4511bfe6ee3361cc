"""32-bit paging (SDM Vol. 3A §4.3, §4.6-4.8, §4.10): translations, #PF error
codes and CR2, accessed/dirty bits, U/S and R/W with CR0.WP, 4 MiB pages,
the TLB and INVLPG.  Every expectation is computed by hand from the SDM."""

import pytest

from emu.isa.ops import GuestException
from emu.isa.x86.paging import translate_debug
from emu.isa.x86.state import CR0_PG, CR0_WP, CR4_PSE

from pm_helpers import PM

PD, PT = 0x20000, 0x21000


def paged(cpl=0, wp=True):
    pm = PM(cpl)
    pm.w(PD, 4, PT | 7)                        # PDE 0: P|RW|US -> PT
    pm.w(PD + 4, 4, 0x00400000 | 0x87)         # PDE 1: 4 MiB page at 4 MiB, P|RW|US|PS
    pm.w(PT + 0x10 * 4, 4, 0x50000 | 7)        # 0x10000 -> 0x50000, user RW
    pm.w(PT + 0x11 * 4, 4, 0x51000 | 1)        # 0x11000 -> 0x51000, supervisor read-only
    pm.w(PT + 0x12 * 4, 4, 0x52000 | 5)        # 0x12000 -> 0x52000, user read-only
    pm.w(PT + 0x07 * 4, 4, 0x7000 | 3)         # the stack page (below ESP 0x8000), supervisor RW
    s = pm.s
    s.cr3 = PD
    s.cr4 |= CR4_PSE
    s.cr0 |= CR0_PG | (CR0_WP if wp else 0)
    pm.ops.update_paging()
    return pm


def pf(pm, lin, write=False, fetch=False):
    with pytest.raises(GuestException) as e:
        pm.ops.translate(lin, write, fetch)
    assert e.value.vector == 14
    return e.value.error_code, pm.s.cr2


def test_4k_translation_sets_accessed_then_dirty():
    pm = paged()
    assert pm.ops.translate(0x10123, False, False) == 0x50123
    assert pm.r(PT + 0x40) & 0x60 == 0x20                  # A, not D
    assert pm.r(PD) & 0x20                                 # the PDE used: A
    assert pm.ops.translate(0x10124, True, False) == 0x50124
    assert pm.r(PT + 0x40) & 0x60 == 0x60                  # the first write sets D (TLB hit or not)


def test_4m_page_with_pse():
    pm = paged()
    assert pm.ops.translate(0x00456789, False, False) == 0x00456789
    assert pm.r(PD + 4) & 0x20


def test_not_present_error_codes_and_cr2():
    pm = paged()
    assert pf(pm, 0x13000) == (0, 0x13000)                 # supervisor read
    assert pf(pm, 0x13004, write=True) == (2, 0x13004)     # supervisor write
    assert pf(pm, 0x00C00000) == (0, 0x00C00000)           # PDE 3 not present
    user = paged(cpl=3)
    assert pf(user, 0x13000, write=True) == (6, 0x13000)   # user write


def test_user_access_to_a_supervisor_page_is_protection_fault():
    pm = paged(cpl=3)
    assert pf(pm, 0x11000) == (5, 0x11000)                 # P|U
    assert pf(pm, 0x12000, write=True) == (7, 0x12000)     # user write, read-only: P|W|U
    assert pm.ops.translate(0x12000, False, False) == 0x52000


def test_wp_decides_supervisor_writes_to_read_only_pages():
    assert pf(paged(wp=True), 0x11000, write=True) == (3, 0x11000)
    assert paged(wp=False).ops.translate(0x11000, True, False) == 0x51000


def test_implicit_supervisor_access_from_cpl3():
    pm = paged(cpl=3)
    pm.ops.implicit_sv = True
    assert pm.ops.translate(0x11000, False, False) == 0x51000


def test_tlb_keeps_a_stale_mapping_until_invlpg_and_cr3_write_flushes():
    pm = paged()
    assert pm.ops.translate(0x10000, False, False) == 0x50000
    pm.w(PT + 0x40, 4, 0x60000 | 7)                        # remap without INVLPG
    assert pm.ops.translate(0x10000, False, False) == 0x50000
    pm.ops.flush_tlb(0x10000)                              # INVLPG
    assert pm.ops.translate(0x10000, False, False) == 0x60000
    pm.w(PT + 0x40, 4, 0x70000 | 7)
    pm.ops.flush_tlb()                                     # MOV CR3
    assert pm.ops.translate(0x10000, False, False) == 0x70000


def test_page_fault_through_the_idt_pushes_the_error_code():
    from emu.isa.x86.interrupts import deliver_exception
    pm = paged()
    pm.set_gate(14, 0x4000, 0x08, 0x8E)
    pm.w(PT + 4 * 4, 4, 0x4000 | 3)                        # the handler's page
    pm.w(PT + 2 * 4, 4, 0x2000 | 3)                        # the IDT's page
    pm.w(PT + 1 * 4, 4, 0x1000 | 3)                        # the GDT's page
    pm.ops.update_paging()
    pm.ops.flush_tlb()
    with pytest.raises(GuestException) as e:
        pm.ops.read_lin(0x13000, 4)
    deliver_exception(pm.ops, e.value, None)
    assert pm.s.rip == 0x4000 and pm.s.cr2 == 0x13000
    assert pm.r(0x8000 - 16) == 0                          # error code: not present, read, supervisor


def test_debug_translation_has_no_side_effects():
    pm = paged()
    pm.s.cr2 = 0
    assert translate_debug(pm.ops, 0x10042) == 0x50042
    assert pm.r(PT + 0x40) & 0x20 == 0
    assert translate_debug(pm.ops, 0x13000) is None and pm.s.cr2 == 0
