"""Expand-down data segments (SDM Vol. 3A §3.4.5.1, §5.3 "Limit Checking")
on every engine: in an expand-down data segment (type bit 2 of a data
descriptor) the valid offsets are those ABOVE the limit, up to 0xFFFFFFFF
when the B flag is set, 0xFFFF when clear; an access with any byte at or
below the limit -- or beyond that upper bound -- raises #GP(0), or #SS(0)
through SS.

Each guest enters 32-bit protected mode (tests/differential/pm32.py's frame),
loads a segment register with an expand-down descriptor and makes valid
accesses in a loop (so the translator translates them, regions included),
then a last probe that either is valid too (the guest exits through port
0xF4) or must fault (with an IDT of limit 0, every delivery is #GP and the
fault a triple fault, SDM Vol. 3A §6.15, with nothing pushed).
What each probe must do is written here from the SDM, by hand; the markers
the valid accesses store are checked at their linear addresses.  KVM is the
judge: its outcome, CPU state and RAM must match the interpreter's, and the
translator's must match both.  QEMU's TCG, so unicorn, checks no data
segment limit in protected mode: its faulting probes are expected failures.
"""

import os

import pytest

from emu import loader
from emu.machine import Machine

from tests.differential.pm32 import ENTRY


def _desc(base, limit, access, flags):
    lo = ((base & 0xFFFF) << 16) | (limit & 0xFFFF)
    hi = ((base >> 16) & 0xFF) | (access << 8) | ((limit >> 16) << 16) | (flags << 20) | ((base >> 24) << 24)
    return f"    dd 0x{lo:08x}, 0x{hi:08x}\n"


# 0x18: expand-down, B=1, base 0x10000, limit 0x8FFF: offsets 0x9000..0xFFFFFFFF
# 0x20: expand-down, B=0, base 0x20000, limit 0x8FFF: offsets 0x9000..0xFFFF
# 0x28: as 0x18 for a stack: base 0x30000, limit 0x7FFF (ESP, 32-bit pushes)
# 0x30: as 0x20 for a stack: base 0x40000, limit 0x7FFF (SP, 16-bit)
# 0x38: expand-down, B=1, G=1, base 0x50000, limit 0 (scaled: 0xFFF): offsets 0x1000..
# (access 0x97: present, DPL 0, read/write expand-down data, accessed)
GDT = ("gdt:\n    dd 0, 0\n    dd 0x0000ffff, 0x00cf9b00\n    dd 0x0000ffff, 0x00cf9300\n"
       + _desc(0x10000, 0x8FFF, 0x97, 4) + _desc(0x20000, 0x8FFF, 0x97, 0)
       + _desc(0x30000, 0x7FFF, 0x97, 4) + _desc(0x40000, 0x7FFF, 0x97, 0)
       + _desc(0x50000, 0, 0x97, 0xC)
       + "gdt_desc:\n    dw 8 * 8 - 1\n    dd gdt\n"
       + "idt_desc:\n    dw 0\n    dd 0\n")

LOOP = """
    mov ecx, 200
again:
{body}
    dec ecx
    jnz again
{probe}
    mov al, 0
    out 0xf4, al
    hlt
"""

# name: (setup, loop body (valid accesses), probe, the probe's fault (None: valid),
#        {linear address: bytes the guest leaves there})
CASES = {
    # DS, B=1: just above the limit, the top of the 4 GiB (base + offset wraps)
    "ds32_ok": ("mov ax, 0x18\n    mov ds, ax",
                "mov dword ptr [0x9000], ecx\n    mov dword ptr [0xfffffffc], 0x22222222\n"
                "    mov byte ptr [0xffffffff], 0x33\n    mov eax, [0x9000]\n    mov [0x9004], eax",
                "mov dword ptr [0x9008], 0x44444444",
                None, {0x19000: (1).to_bytes(4, "little") * 2 + b"\x44" * 4, 0xFFFC: b"\x22\x22\x22\x33"}),
    "ds32_at_limit": ("mov ax, 0x18\n    mov ds, ax", "mov dword ptr [0x9000], ecx",
                      "mov byte ptr [0x8fff], 1", 13, {0x19000: b"\1\0\0\0", 0x18FFF: b"\0"}),
    "ds32_straddle": ("mov ax, 0x18\n    mov ds, ax", "mov dword ptr [0x9000], ecx",
                      "mov dword ptr [0x8ffd], 0x55555555", 13, {0x18FFC: b"\0\0\0\0\1"}),
    "ds32_below": ("mov ax, 0x18\n    mov ds, ax", "mov dword ptr [0x9000], ecx",
                   "mov eax, [0x10]\n    mov [0x9004], eax", 13, {0x19000: b"\1\0\0\0\0\0\0\0"}),
    # the loop's reads walk down to the lowest valid offset; the probe reads the limit
    "ds32_read_at_limit": ("mov ax, 0x18\n    mov ds, ax\n    mov ebx, 0x9000 + 199",
                           "mov eax, [ebx]\n    mov [ebx+4], ecx\n    sub ebx, 1",
                           "mov eax, [ebx]", 13, {0x19004: b"\1\0\0\0\0"}),
    # DS, B=0: the upper bound is 0xFFFF
    "ds16_ok": ("mov ax, 0x20\n    mov ds, ax",
                "mov word ptr [0xfffe], cx\n    mov byte ptr [0x9000], cl",
                "mov word ptr [0x9001], 0x6666", None, {0x2FFFE: b"\1\0", 0x29000: b"\1\x66\x66"}),
    "ds16_word_at_top": ("mov ax, 0x20\n    mov ds, ax", "mov word ptr [0xfffe], cx",
                         "mov word ptr [0xffff], 0x7777", 13, {0x2FFFE: b"\1\0\0"}),
    "ds16_beyond_top": ("mov ax, 0x20\n    mov ds, ax", "mov word ptr [0xfffe], cx",
                        "mov byte ptr [0x10000], 1", 13, {0x2FFFE: b"\1\0\0"}),
    # G=1: the limit is scaled (0 -> 0xFFF), offsets from 0x1000 are valid
    "ds_granular": ("mov ax, 0x38\n    mov ds, ax", "mov dword ptr [0x1000], ecx",
                    "mov byte ptr [0xfff], 1", 13, {0x50FFF: b"\0\1"}),
    # SS, B=1: the stack grows down inside the segment, to just above the limit
    "ss32_ok": ("mov ax, 0x28\n    mov ss, ax\n    mov esp, 0x8010",
                "push ecx\n    push 0x11\n    pop eax\n    pop eax\n    mov [esp-4], eax",
                "push 1\n    push 2\n    push 3\n    push 4\n    mov eax, [ss:0x8000]\n    mov [ss:0x8100], eax",
                None, {0x38000: b"\4\0\0\0\3\0\0\0\2\0\0\0\1\0\0\0", 0x38100: b"\4\0\0\0"}),
    "ss32_push_at_limit": ("mov ax, 0x28\n    mov ss, ax\n    mov esp, 0x8008",
                           "push ecx\n    pop eax",
                           "push 1\n    push 2\n    push 3", 12, {0x37FFC: b"\0\0\0\0\2\0\0\0\1\0\0\0"}),
    "ss32_ebp_below": ("mov ax, 0x28\n    mov ss, ax\n    mov esp, 0x9000\n    mov ebp, 0x8004",
                       "mov [ebp], ecx\n    push dword ptr [ebp]\n    pop eax",
                       "mov [ebp-8], eax", 12, {0x37FFC: b"\0\0\0\0\0\0\0\0\1\0\0\0"}),
    # SS, B=0: SP wraps to 0xFFFE inside the segment; a dword there crosses 0xFFFF
    "ss16_ok": ("mov ax, 0x30\n    mov ss, ax\n    mov esp, 0",
                "push cx\n    pop ax",
                "mov ax, 0x1234\n    push ax\n    mov ax, 0x5678\n    push ax", None, {0x4FFFC: b"\x78\x56\x34\x12"}),
    "ss16_dword_at_top": ("mov ax, 0x30\n    mov ss, ax\n    mov esp, 0",
                          "push cx\n    pop ax",
                          "mov esp, 2\n    push eax", 12, {0x4FFFE: b"\1\0"}),
    "ss16_word_at_zero": ("mov ax, 0x30\n    mov ss, ax\n    mov esp, 0",
                          "push cx\n    pop ax",
                          "mov esp, 2\n    mov ax, 0x9999\n    push ax", 12, {0x40000: b"\0\0", 0x4FFFE: b"\1\0"}),
    # DS reloaded in the loop, flat then expand-down: translated code's
    # segment loads and its guards must take the new segment's valid range
    "reload_in_loop": ("",
                       "mov ax, 0x10\n    mov ds, ax\n    mov [0x9000], ecx\n    mov ax, 0x18\n    mov ds, ax\n"
                       "    mov [0x9004], ecx",
                       "mov [0x100], ecx", 13, {0x9000: b"\1\0\0\0", 0x19004: b"\1\0\0\0", 0x10100: b"\0\0\0\0"}),
    "reload_in_loop_flat_probe": ("",
                                  "mov ax, 0x18\n    mov ds, ax\n    mov [0x9004], ecx\n    mov ax, 0x10\n"
                                  "    mov ds, ax\n    mov [0x9000], ecx",
                                  "mov dword ptr [0x100], 0x12345678", None,
                                  {0x9000: b"\1\0\0\0", 0x19004: b"\1\0\0\0", 0x100: bytes.fromhex("78563412")}),
    # REP string operations: up and down through expand-down ES / DS
    "rep_stos_ok": ("mov ax, 0x18\n    mov es, ax\n    cld",
                    "mov edi, 0x9000\n    push ecx\n    mov al, cl\n    mov ecx, 64\n    rep stosb\n    pop ecx",
                    "mov edi, 0xfffffff0\n    mov ecx, 4\n    mov eax, 0xabcdef01\n    rep stosd",
                    None, {0x19000: b"\1" * 64 + b"\0", 0xFFF0: bytes.fromhex("01efcdab") * 4}),
    "rep_stos_down_into_limit": ("mov ax, 0x18\n    mov es, ax",
                                 "std\n    mov edi, 0x9010\n    push ecx\n    mov ecx, 17\n    mov al, 0x5a\n"
                                 "    rep stosb\n    pop ecx\n    cld",
                                 "std\n    mov edi, 0x9010\n    mov ecx, 32\n    mov al, 0xa5\n    rep stosb",
                                 13, {0x18FFF: b"\0" + b"\xa5" * 17 + b"\0"}),
    "rep_movs_from_expand_down": ("mov ax, 0x18\n    mov ds, ax\n    mov ax, 0x10\n    mov es, ax\n    cld\n"
                                  "    mov dword ptr [0x9000], 0x01020304\n    mov dword ptr [0x9004], 0x05060708",
                                  "mov esi, 0x9000\n    mov edi, 0x60000\n    push ecx\n    mov ecx, 8\n"
                                  "    rep movsb\n    pop ecx",
                                  "mov esi, 0x9007\n    mov edi, 0x60017\n    mov ecx, 16\n    std\n    rep movsb",
                                  13, {0x60000: bytes.fromhex("0403020108070605"),
                                       0x6000C: bytes.fromhex("00000000" "04030201" "08070605")}),
}

_NAMES = {12: "#SS", 13: "#GP"}


def _image(name):
    setup, body, probe, _, _ = CASES[name]
    return loader.assemble(ENTRY + "    lidt [idt_desc]\n    " + setup + LOOP.format(body="    " + body, probe="    " + probe) + GDT,
                           "<expand-down>", 0x7C00).data


def _run(accel, name):
    m = Machine(accel=accel)
    m.load_image(_image(name))
    return m, m.run(icount_limit=400_000)


def _check_by_hand(name, m, r, vector_named=True):
    fault, marks = CASES[name][3], CASES[name][4]
    if fault is None:
        assert (r.reason, r.status) == ("debug-exit", 1), r.message
    else:
        assert (r.reason, r.status) == ("shutdown", 3), r.message
        if vector_named:
            assert r.message.count(_NAMES[fault]) >= 1 and "triple fault" in r.message, r.message
    for at, want in marks.items():
        assert m.ram.read_bytes(at, len(want)) == want, (hex(at), m.ram.read_bytes(at, len(want)).hex())


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_expand_down_limits_by_hand(name, accel):
    m, r = _run(accel, name)
    try:
        _check_by_hand(name, m, r)
        # the first fault is the one the probe raises: #SS through SS, else #GP
        if CASES[name][3] is not None:
            assert r.message.split("(", 1)[1].startswith(_NAMES[CASES[name][3]]), r.message
    finally:
        m.close()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("accel", ["tcg", "unicorn", "kvm"])
def test_expand_down_agrees_with_the_interpreter(name, accel, request):
    from emu.cli import accel_available
    if accel == "unicorn" and CASES[name][3] is not None:
        request.applymarker(pytest.mark.xfail(
            reason="unicorn (QEMU's TCG) checks no data segment limit in protected mode", strict=True))
    ok, why = accel_available(accel)
    if not ok:
        if accel == "kvm" and not os.path.exists("/dev/kvm"):
            pytest.skip("no /dev/kvm on this machine")
        pytest.fail(f"engine {accel} unavailable: {why}")
    mi, ri = _run("interp", name)
    mx, rx = _run(accel, name)
    try:
        mx.accel.sync_state()
        _check_by_hand(name, mx, rx, vector_named=accel != "kvm")
        assert (rx.reason, rx.status) == (ri.reason, ri.status), (rx.message, ri.message)
        si, sx = mi.cpu.snapshot(), mx.cpu.snapshot()
        if accel == "kvm" and rx.reason == "shutdown":
            # the hardware leaves RF (bit 16) set in the state of a shutdown:
            # the fault that began it sets it, as in a fault's pushed EFLAGS
            sx["rflags"] &= ~0x10000
        assert sx == si, {k: (si[k], sx[k]) for k in si if si[k] != sx[k]}
        assert mx.ram.read_bytes(0, 0x80000) == mi.ram.read_bytes(0, 0x80000)
    finally:
        mi.close()
        mx.close()
