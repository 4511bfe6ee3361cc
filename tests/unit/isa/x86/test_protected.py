"""Protected mode (SDM Vol. 3A §5, §6.12-6.13; Vol. 2 IRET, LAR, LSL, VERR,
ARPL, LLDT, LTR): descriptor checks with their error codes, gate delivery
frames with and without a privilege change, IRET to ring 3.  Expectations
are worked out by hand from the SDM, not taken from an engine."""

import pytest

from emu.isa.ops import GuestException, Unsupported
from emu.isa.x86 import flags as F
from emu.isa.x86 import protected as P
from emu.isa.x86.interrupts import deliver, deliver_exception
from emu.isa.x86.pm_interrupts import iret_protected
from emu.isa.x86.state import CS, DS, SS

from pm_helpers import GDT, IDT, PM


class I:                       # the bits of a decoded IRET the helper reads
    osize = 4


def fault(fn, *a):
    with pytest.raises(GuestException) as e:
        fn(*a)
    return e.value.vector, e.value.error_code


# -- segment loads (SDM Vol. 3A §5.5-5.7, Vol. 2 MOV) ----------------------------------------
def test_load_beyond_gdt_limit_is_gp_with_selector():
    pm = PM()
    assert fault(pm.ops.load_seg, DS, 0x80) == (13, 0x80)


def test_load_ring0_data_at_cpl3_is_gp_with_selector():
    pm = PM(cpl=3)
    assert fault(pm.ops.load_seg, DS, 0x10) == (13, 0x10)


def test_load_not_present_is_np_and_ss_wrong_dpl_is_gp():
    pm = PM()
    assert fault(pm.ops.load_seg, DS, 0x30) == (11, 0x30)
    assert fault(pm.ops.load_seg, SS, 0x20) == (13, 0x20)     # DPL 3 stack at CPL 0


def test_load_sets_the_accessed_bit():
    pm = PM()
    pm.w(GDT + 0x10 + 4, 4, pm.r(GDT + 0x14) & ~0x100)
    pm.ops.load_seg(DS, 0x10)
    assert pm.r(GDT + 0x14) & 0x100 and pm.s.segs[DS].type == 3


# -- gate delivery (SDM Vol. 3A §6.12.1, Figure 6-4) --------------------------------------
def test_same_privilege_interrupt_gate_frame():
    pm = PM()
    pm.set_gate(0x30, 0x1234, 0x08, 0x8E)
    pm.s.rflags = 0x202
    deliver(pm.ops, 0x30, 0x600, soft=True)
    s = pm.s
    assert (s.rip, s.segs[CS].selector, s.regs[4]) == (0x1234, 0x08, 0x8000 - 12)
    assert [pm.r(0x8000 - 12 + 4 * k) for k in range(3)] == [0x600, 0x08, 0x202]
    assert not s.rflags & F.IF                          # interrupt gate clears IF


def test_trap_gate_keeps_if_and_error_code_is_pushed():
    pm = PM()
    pm.set_gate(13, 0x2000, 0x08, 0x8F)
    pm.s.rflags = 0x202
    deliver_exception(pm.ops, GuestException(13, 0x28, "test"), None)
    assert pm.s.rflags & F.IF
    assert [pm.r(0x8000 - 16 + 4 * k) for k in range(4)] == [0x28, 0x500, 0x08, 0x202]


def test_ring3_to_ring0_switches_to_the_tss_stack():
    pm = PM(cpl=3)
    pm.set_gate(0x80, 0x3000, 0x08, 0xEE)
    pm.s.rflags = 0x3202 & ~F.IOPL | 0x202
    deliver(pm.ops, 0x80, 0x700, soft=True)
    s = pm.s
    assert s.cpl == 0 and s.segs[SS].selector == 0x10 and s.regs[4] == 0x9000 - 20
    # SS, ESP, EFLAGS, CS, EIP of the interrupted ring-3 code, first pushed highest
    assert [pm.r(0x9000 - 4 * k) for k in range(1, 6)] == [0x23, 0x8000, 0x202, 0x1B, 0x700]


def test_int_through_dpl0_gate_from_ring3_is_gp_idt_selector():
    pm = PM(cpl=3)
    pm.set_gate(0x81, 0x3000, 0x08, 0x8E)
    assert fault(deliver, pm.ops, 0x81, 0x700, None, True) == (13, 0x81 * 8 + 2)


def test_not_present_gate_is_np_with_ext_for_an_exception():
    pm = PM()
    pm.set_gate(6, 0x3000, 0x08, 0x0E)                     # P=0
    assert fault(deliver, pm.ops, 6, 0x700) == (11, 6 * 8 + 2 + 1)


def test_vector_beyond_idt_limit_is_gp():
    pm = PM()
    pm.s.idt_limit = 8 * 0x20 - 1
    assert fault(deliver, pm.ops, 0x20, 0x700, None, True) == (13, 0x20 * 8 + 2)


@pytest.mark.parametrize("b", [0, 1])
@pytest.mark.parametrize("n", [DS, SS])
def test_an_expand_down_data_segment_checks_offsets_above_its_limit(n, b):
    """An expand-down data segment (SDM Vol. 3A §5.3): valid offsets are
    limit + 1 .. 0xFFFF (B=0) or 0xFFFFFFFF (B=1); an access touching the
    limit or below, or past that top, is #GP(0) -- #SS(0) through SS.  It
    loads like any data segment, also from translated code's segment load
    (``load_seg_prot``), and the fast paths' bound (``fast_limit``) sends
    every access through it to the exact check."""
    from pm_helpers import desc
    pm = PM()
    lo, hi = desc(0x1000, 0x7FFF, 0x97, 0x4 if b else 0)    # P, DPL 0, read/write expand-down, accessed
    pm.w(GDT + 0x38, 4, lo)
    pm.w(GDT + 0x3C, 4, hi)
    pm.s.gdt_limit = 8 * 8 - 1
    if n == DS:
        assert pm.ops.load_seg_prot(n, 0x38) == 0
    else:
        pm.ops.load_seg(n, 0x38)
    sg = pm.s.segs[n]
    assert (sg.limit, sg.type, sg.db, sg.fast_limit) == (0x7FFF, 7, b, -1)
    vector = 12 if n == SS else 13
    top = 0xFFFFFFFF if b else 0xFFFF
    pm.ops.store(n, 0x8000, 4, 0x11223344)                   # just above the limit
    assert pm.r(0x9000) == 0x11223344 and pm.ops.load(n, 0x8000, 4) == 0x11223344
    pm.ops.store(n, 0xFFFE, 2, 0x5566)                        # the top of a 16-bit segment
    assert pm.r(0x10FFE, 2) == 0x5566
    for off, size in ((0x7FFF, 1), (0x7FFE, 2), (0x7FFD, 4), (0, 1), (top, 2), (top - 2, 4)):
        assert fault(pm.ops.load, n, off, size) == (vector, 0), hex(off)
        assert fault(pm.ops.store, n, off, size, 0) == (vector, 0), hex(off)
    assert pm.r(0x8FFC) == 0
    if b:                                                     # base + offset wraps at 4 GiB
        pm.ops.store(n, 0xFFFFF000, 4, 0x778899AA)
        assert pm.r(0) == 0x778899AA
    else:
        assert fault(pm.ops.load, n, 0x10000, 1) == (vector, 0)


def test_task_gate_is_a_visible_gap():
    pm = PM()
    pm.w(IDT + 8 * 5 + 4, 4, 0x8500)
    with pytest.raises(Unsupported, match="task gate"):
        deliver(pm.ops, 5, 0x700)


def test_iret_to_ring3_pops_ss_esp_and_nulls_ring0_data_segments():
    pm = PM()
    for k, v in enumerate([0x1000, 0x1B, 0x3202, 0x7000, 0x23]):
        pm.w(0x8000 + 4 * k, 4, v)
    iret_protected(pm.ops, I)
    s = pm.s
    assert (s.rip, s.cpl, s.segs[SS].selector, s.regs[4]) == (0x1000, 3, 0x23, 0x7000)
    assert s.segs[DS].selector == 0 and s.segs[DS].unusable          # DPL 0 data
    assert (s.rflags >> 12) & 3 == 3                                  # CPL 0 may set IOPL


def test_iret_at_cpl3_cannot_change_iopl_or_if():
    pm = PM(cpl=3)
    for k, v in enumerate([0x1000, 0x1B, 0x3202]):
        pm.w(0x8000 + 4 * k, 4, v)
    pm.s.rflags = 0x002
    iret_protected(pm.ops, I)
    assert pm.s.rflags & (F.IOPL | F.IF) == 0


def test_iret_to_inner_privilege_is_gp_and_leaves_esp():
    pm = PM(cpl=3)
    for k, v in enumerate([0x1000, 0x08, 0x202]):
        pm.w(0x8000 + 4 * k, 4, v)
    assert fault(iret_protected, pm.ops, I) == (13, 0x08)
    assert pm.s.regs[4] == 0x8000


# -- LAR, LSL, VERR/VERW, LTR, I/O permission ----------------------------------------------
def test_lar_lsl_verr_verw():
    pm = PM()
    assert P.access_rights(pm.ops, 0x08) & 0x00F0FF00 == 0x00C09B00
    assert P.segment_limit(pm.ops, 0x10) == 0xFFFFFFFF
    assert P.segment_limit(pm.ops, 0x28) == 0x67
    assert P.verify(pm.ops, 0x08, write=False) and not P.verify(pm.ops, 0x08, write=True)
    assert P.verify(pm.ops, 0x10, write=True)
    assert P.access_rights(pm.ops, 0x80) is None                      # beyond the limit
    assert P.access_rights(PM(cpl=3).ops, 0x10) is None               # DPL 0 < CPL 3


def test_ltr_marks_the_tss_busy_and_rejects_a_busy_one():
    pm = PM()
    pm.w(GDT + 0x28 + 4, 4, pm.r(GDT + 0x2C) & ~0x200)               # available
    P.load_tr(pm.ops, 0x28)
    assert pm.s.tr.type == 11 and pm.r(GDT + 0x2C) & 0x200
    assert fault(P.load_tr, pm.ops, 0x28) == (13, 0x28)              # now busy


def test_io_bitmap_allows_and_denies_per_port():
    pm = PM(cpl=3)
    from pm_helpers import TSS
    pm.s.tr.limit = 0x68 + 0x80
    pm.w(TSS + 0x66, 2, 0x68)
    for k in range(0x80):
        pm.w(TSS + 0x68 + k, 1, 0xFF)
    pm.w(TSS + 0x68 + 0x3F8 // 8, 1, 0xFE)                            # port 0x3F8 open
    P.check_io(pm.ops, 0x3F8, 1)
    assert fault(P.check_io, pm.ops, 0x3F9, 1) == (13, 0)
    assert fault(P.check_io, pm.ops, 0x3F8, 2) == (13, 0)             # 0x3F9 is closed


def test_privileged_instructions_at_cpl3_are_gp0():
    from emu.isa.x86.semantics import REGISTRY
    pm = PM(cpl=3)

    class Insn:
        ops = ()
        name = "INVD"
    for name in ("HLT", "CLTS", "INVD", "WBINVD", "RDMSR", "WRMSR"):
        Insn.name = name
        assert fault(REGISTRY.get(name), pm.ops, Insn) == (13, 0), name
