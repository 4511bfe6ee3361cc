"""The A32 interpreter's decoded instructions carry their semantics bound to
their fields (emu.isa.arm.semantics.BINDERS): running one of the common
forms costs at most a few Python calls -- the bound function, and a memory
access where there is one -- and computes what the ARM ARM says (the values
are worked out here by hand).  Programs are assembled by keystone."""

import sys

import pytest
from keystone import KS_ARCH_ARM, KS_MODE_ARM, Ks

from emu.machine import Machine

CODE = 0x40010000
DATA = 0x40020000
N, Z, C, V = 1 << 31, 1 << 30, 1 << 29, 1 << 28

# (instruction, registers before, flags before, registers after (checked), flags after
# (None: unchanged), Python calls at most besides the RAM accesses)
CASES = [
    ("add r0, r1, #4", {1: 10}, 0, {0: 14}, None, 1),
    ("sub r0, r1, r2", {1: 3, 2: 5}, 0, {0: 0xFFFFFFFE}, None, 1),
    ("rsb r0, r1, #0", {1: 1}, 0, {0: 0xFFFFFFFF}, None, 1),
    ("mov r0, r1", {1: 0x1234}, 0, {0: 0x1234}, None, 1),
    ("orr r0, r1, r2", {1: 0xF0, 2: 0x0F}, 0, {0: 0xFF}, None, 1),
    ("add r1, r1, r0, lsr #16", {0: 0x30000, 1: 1}, 0, {1: 4}, None, 3),
    ("adds r0, r1, #1", {1: 0xFFFFFFFF}, 0, {0: 0}, Z | C, 1),
    ("cmp r0, #1", {0: 0}, 0, {}, N, 1),
    ("cmp r0, r1", {0: 0x80000000, 1: 1}, 0, {}, C | V, 1),
    ("adc r1, r1, #0", {1: 7}, C, {1: 8}, C, 1),
    ("movs r0, r0, lsl #1", {0: 0x80000001}, 0, {0: 2}, C, 2),
    ("tst r0, #0x80000000", {0: 0x80000000}, Z, {}, N | C, 1),
    ("moveq r0, #5", {0: 1}, Z, {0: 5}, Z, 2),
    ("movne r0, #5", {0: 1}, Z, {0: 1}, Z, 2),
    # RRX shifts the C flag in even where the result alone is written
    ("sub r9, r11, r12, rrx", {11: 0x40010FE0, 12: 1}, C, {9: 0xC0010FE0}, None, 3),
    ("add r0, r1, r2, rrx", {1: 1, 2: 4}, 0, {0: 3}, None, 3),
    ("mov r0, r1, rrx", {1: 3}, C, {0: 0x80000001}, None, 3),
    ("mul r0, r1, r2", {1: 0x10001, 2: 0x10001}, 0, {0: 0x20001}, None, 1),
    ("mla r0, r1, r2, r3", {1: 3, 2: 4, 3: 5}, 0, {0: 17}, None, 1),
    ("ldr r0, [r1, #4]", {1: DATA}, 0, {0: 0x48474645}, None, 1),
    ("ldrb r0, [r1], #1", {1: DATA + 4}, 0, {0: 0x45, 1: DATA + 5}, None, 1),
    ("ldrb r0, [r1, r2]", {1: DATA, 2: 5}, 0, {0: 0x46}, None, 1),
    ("str r0, [r1, #-4]!", {0: 7, 1: DATA + 16}, 0, {1: DATA + 12}, None, 1),
    # the halfword and signed loads (DATA + 8 holds 0x80 0xFF)
    ("ldrh r0, [r1, #2]", {1: DATA}, 0, {0: 0x4443}, None, 1),
    ("ldrh r0, [r1, -r2]", {1: DATA + 8, 2: 2}, 0, {0: 0x4847}, None, 1),
    ("ldrsh r0, [r1, r2]", {1: DATA, 2: 8}, 0, {0: 0xFFFFFF80}, None, 1),
    ("ldrsh r0, [r1, #6]", {1: DATA}, 0, {0: 0x4847}, None, 1),
    ("ldrsb r0, [r1, #-1]", {1: DATA + 9}, 0, {0: 0xFFFFFF80}, None, 1),
    ("ldrsb r0, [r1, r2]", {1: DATA, 2: 9}, 0, {0: 0xFFFFFFFF}, None, 1),
    ("strh r0, [r1, #2]", {0: 0x12345678, 1: DATA}, 0, {0: 0x12345678}, None, 1),
    ("ldrh r0, [r1], #2", {1: DATA}, 0, {0: 0x4241, 1: DATA + 2}, None, 1),
    ("ldrsb r0, [r1, #-1]!", {1: DATA + 9}, 0, {0: 0xFFFFFF80, 1: DATA + 8}, None, 1),
    ("strh r0, [r1, #-2]!", {0: 5, 1: DATA + 16}, 0, {1: DATA + 14}, None, 1),
    ("ldrd r2, r3, [r1, #8]", {1: DATA}, 0, {2: 0xFF80, 3: 0}, None, 3),
    ("rsbs r0, r1, #0", {1: 1}, 0, {0: 0xFFFFFFFF}, N, 1),
    ("subs r0, r1, r2", {1: 5, 2: 5}, N, {0: 0}, Z | C, 1),
    ("ands r0, r1, #0xf0000000", {1: 0x80000001}, V, {0: 0x80000000}, N | C | V, 1),
    ("bics r0, r1, r2", {1: 3, 2: 1}, C | V, {0: 2}, C | V, 2),
    ("b #0x40010100", {}, 0, {15: 0x40010100}, None, 1),
    ("bl #0x40010100", {}, 0, {14: CODE + 4, 15: 0x40010100}, None, 1),
    ("bne #0x40010100", {}, 0, {15: 0x40010100}, None, 1),
    ("bne #0x40010100", {}, Z, {}, None, 1),
    ("blo #0x40010100", {}, C, {}, None, 1),
    ("push {r4, lr}", {4: 1, 13: DATA + 0x100, 14: 2}, 0, {13: DATA + 0xF8}, None, 1),
    ("pop {r4, r5}", {13: DATA}, 0, {4: 0x44434241, 5: 0x48474645, 13: DATA + 8}, None, 2),
]


def _run_one(asm, before, flags):
    m = Machine(board="virt", accel="interp")
    try:
        word = bytes(Ks(KS_ARCH_ARM, KS_MODE_ARM).asm(asm, CODE)[0])
        m.load_image(word, "t", CODE, CODE)
        m.ram.load(DATA, b"ABCDEFGH" + bytes([0x80, 0xFF]) + bytes(246))
        s = m.cpu
        for k, v in before.items():
            s.r[k] = v
        s.cpsr = (s.cpsr & 0x0FFFFFFF) | flags
        core = m.accel.core
        core.state_changed()
        w = core.decode_at(CODE, CODE)
        s.pc = w.next_ip                  # as the generic loop does
        calls = []

        def profile(frame, event, arg):
            if event == "call" and frame.f_code.co_name not in ("load", "store"):
                calls.append(frame.f_code.co_name)
        sys.setprofile(profile)
        try:
            w.handler(core.ops, w)
        finally:
            sys.setprofile(None)
        return list(s.r), s.cpsr, calls, m.ram.read_bytes(DATA, 32)
    finally:
        m.close()


@pytest.mark.parametrize("asm,before,flags,after,flags_after,most", CASES,
                         ids=[f"{c[0]} ({c[2] >> 28:04b})" for c in CASES])
def test_a_common_instruction_runs_bound_and_right(asm, before, flags, after, flags_after, most):
    regs, cpsr, calls, _ = _run_one(asm, before, flags)
    for k, v in after.items():
        assert regs[k] == v, f"{asm}: r{k} = {regs[k]:#x}, expected {v:#x}"
    if 15 not in after:
        assert regs[15] == CODE + 4
    want = flags if flags_after is None else flags_after
    assert cpsr & 0xF0000000 == want, f"{asm}: NZCV {cpsr >> 28:04b}, expected {want >> 28:04b}"
    assert len(calls) <= most, f"{asm}: {len(calls)} Python calls ({', '.join(calls)})"


def test_stores_land_in_ram():
    _, _, _, data = _run_one("str r0, [r1, #-4]!", {0: 0x11223344, 1: DATA + 16}, 0)
    assert data[12:16] == bytes([0x44, 0x33, 0x22, 0x11])
    _, _, _, data = _run_one("strh r0, [r1, r2]", {0: 0x11223344, 1: DATA + 4, 2: 2}, 0)
    assert data[4:8] == b"EF" + bytes([0x44, 0x33])
    _, _, _, data = _run_one("push {r4, lr}", {4: 5, 13: DATA + 0x10, 14: 6}, 0)
    assert data[8:16] == bytes([5, 0, 0, 0, 6, 0, 0, 0])


def test_the_loop_reaches_the_pc_without_the_property():
    """ArmState.pc is a property over r[15]; the core names r[15] as the
    loop's PC slot (emu.isa.core), so stepping an add/branch loop calls it
    never."""
    m = Machine(board="virt", accel="interp")
    try:
        code = bytes(Ks(KS_ARCH_ARM, KS_MODE_ARM).asm("add r0, r0, #1; b #0x40010000", CODE)[0])
        m.load_image(code, "t", CODE, CODE)
        calls = []

        def profile(frame, event, arg):
            if event == "call" and frame.f_code.co_name == "pc":
                calls.append(frame.f_code.co_filename)
        sys.setprofile(profile)
        try:
            ex = m.accel.run(20)
        finally:
            sys.setprofile(None)
        assert ex.reason == "BUDGET"
        assert m.cpu.r[0] == 10 and m.cpu.r[15] == CODE
        assert calls == []
    finally:
        m.close()
