"""No performance cliff on a layout nobody tuned for: translated code whose
speculation keeps failing is translated again without it.

A region tests some of its assumptions once for many accesses -- a run of
stack accesses (PUSH, PUSH, CALL; POP, POP, RET) is tested once for
alignment and bounds.  With an odd stack pointer, or one next to the wrap
of its segment, that test fails on every pass: each failure is a bail, and
the interpreter runs the instruction.  After a few such bails the
instruction must be translated without the speculation, so that the guest
stays in translated code: counted here as the bails and the instructions
the interpreter ran, per thousand retired (not time).  The interpreter is
the judge of the results (``same``: every tier, registers, RAM, exits)."""

from __future__ import annotations

import pytest

from emu.machine import Machine
from tests.differential import pm32
from tests.differential.test_tcg import EXIT, asm, same

#: left translated code at most this often per 1000 instructions once warm
#: (a cliff is one leave per ~10)
LEAVES_PER_1000 = 3
#: instructions run first: code gets hot and is translated, and the bails
#: that teach the dispatcher a speculation fails are taken
WARM = 20_000


def leaves_per_1000(image, **kw) -> float:
    """How often a tcg run of ``image`` left translated code once warm
    (after WARM instructions): its bails, and the instructions the
    interpreter ran (bails, helpers, cold code), per 1000 retired."""
    m = Machine(accel="tcg", **kw)
    try:
        m.load_image(image)
        assert m.run(icount_limit=WARM).reason == "limit"
        before = m.accel.stats()
        r = m.run(icount_limit=5_000_000)
        after = m.accel.stats()
    finally:
        m.close()
    return 1000 * sum(after[k] - before[k] for k in ("bails", "interp_insns")) / r.icount


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


#: a frame-pointer fib (PUSH BP / MOV BP,SP / an argument at [BP+4]) on the
#: stack SS:SP; ``w``: the register width the frames push (16 or 32)
FIB_BP = """
    xor ax, ax
    mov ds, ax
    mov ax, {ss}
    mov ss, ax
    mov sp, {sp}
    push {w} {n}
    call fib
    add sp, {a}
    jmp done
fib:
    push {bp}
    mov bp, sp
    push {bx}
    mov {bx}, [bp+{arg}]
    cmp {bx}, 2
    jb small
    lea {ax}, [{bx}-1]
    push {ax}
    call fib
    add sp, {a}
    push {ax}
    lea {ax}, [{bx}-2]
    push {ax}
    call fib
    add sp, {a}
    pop {cx}
    add {ax}, {cx}
    jmp out
small:
    mov {ax}, {bx}
out:
    pop {bx}
    pop {bp}
    ret
done:
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
""" + EXIT


def fib_bp(ss: int, sp: int, n: int, wide: bool = False) -> bytes:
    regs = dict(w="dword", a=4, ax="eax", bx="ebx", cx="ecx", bp="ebp", arg=6) if wide else \
        dict(w="word", a=2, ax="ax", bx="bx", cx="cx", bp="bp", arg=4)
    return asm(FIB_BP.format(ss=ss, sp=sp, n=n, **regs))


@pytest.mark.parametrize("ss, sp, wide", [
    (0, 0x7001, False),          # odd SP
    (0x1234, 0x8001, False),     # odd SP, SS not 0
    (0x2000, 0xFFFF, False),     # odd SP at the top of the segment: the runs reach its wrap
    (0, 0x7002, True),           # 32-bit pushes, SP 2 mod 4
    (0, 0x7003, True),           # 32-bit pushes, odd SP
], ids=["odd", "odd-ss", "odd-top", "dword-2mod4", "dword-odd"])
def test_a_misaligned_stack_stays_in_translated_code(ss, sp, wide):
    n = 16
    image = fib_bp(ss, sp, n, wide)
    mt, _ = same(image, tier="tiered", ram=0x40000)
    assert mt.serial_output() == fib(n).to_bytes(2, "little")
    assert leaves_per_1000(image) <= LEAVES_PER_1000


#: the tiny model (.COM style, and a boot sector's): every segment the same,
#: the stack right below the code, variables and a table between the
#: instructions of the hot loop, a subroutine that pushes and pops
TINY = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, {sp}
    mov si, {passes}
outer:
    mov di, tab
    mov cx, 8
    mov ax, si
fill:
    stosw
    add ax, 0x3b
    loop fill
    call sum
    add [total], ax
    dec si
    jnz outer
    jmp fin
total: dw 0
sum:
    push cx
    push si
    push bx
    xor bx, bx
    mov si, tab
    mov cx, 8
s1: lodsw
    add bx, ax
    rol bx, 1
    mov [last], ax
    loop s1
    mov ax, bx
    pop bx
    pop si
    pop cx
    ret
last: dw 0
tab: dw 0, 0, 0, 0, 0, 0, 0, 0
fin:
    mov ax, [total]
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
""" + EXIT


def tiny_total(passes: int) -> int:
    total = 0
    for si in range(passes, 0, -1):
        tab = [(si + 0x3B * i) & 0xFFFF for i in range(8)]
        bx = 0
        for v in tab:
            bx = (bx + v) & 0xFFFF
            bx = ((bx << 1) | (bx >> 15)) & 0xFFFF
        total = (total + bx) & 0xFFFF
    return total


# (SP 0x7C00 stayed in translated code before too: the layout's guard)
@pytest.mark.parametrize("sp", [0x7C00, 0x7BFF], ids=["boot-sector", "odd"])
def test_tiny_model_stays_in_translated_code(sp):
    image = asm(TINY.format(sp=sp, passes=1000))
    mt, _ = same(image, tier="tiered")
    assert mt.serial_output() == tiny_total(1000).to_bytes(2, "little")
    assert leaves_per_1000(image) <= LEAVES_PER_1000


#: a loop switching DS between the flat segment and one based at 0x10000
#: (0x18 here): the region takes DS the fast way as it is at its entry, and
#: each reload to the other fails that mode's test
GDT_BASED = """
gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00       ; 0x08 code32, flat
    dd 0x0000ffff, 0x00cf9300       ; 0x10 data32, flat
    dd 0x0000ffff, 0x00cf9301       ; 0x18 data32, base 0x10000, 4 GiB
gdt_desc:
    dw 4 * 8 - 1
    dd gdt
"""
DS_SWITCH = """
    xor edx, edx
    mov esi, {n}
next:
    mov ax, 0x10
    mov ds, ax
    mov [0x8000], esi
    add edx, [0x8000]
    mov ax, 0x18
    mov ds, ax
    mov [0x800], edx
    xor edx, [0x800]
    add edx, esi
    rol edx, 3
    dec esi
    jnz next
    mov ax, 0x10
    mov ds, ax
    mov eax, edx
    mov dx, 0x3f8
    mov ecx, 4
put:
    out dx, al
    shr eax, 8
    loop put
""" + EXIT


def ds_switch(n: int) -> int:
    edx = 0
    for esi in range(n, 0, -1):
        edx = (edx + esi) & 0xFFFFFFFF     # [0x8000] = esi
        edx = 0                            # xor with itself (the store of edx)
        edx = (edx + esi) & 0xFFFFFFFF
        edx = ((edx << 3) | (edx >> 29)) & 0xFFFFFFFF
    return edx


def test_a_segment_reload_the_fast_way_cannot_take_stays_translated():
    n = 4000
    image = asm(pm32.ENTRY + DS_SWITCH.format(n=n) + GDT_BASED)
    mt, _ = same(image, tier="tiered")
    assert mt.serial_output() == ds_switch(n).to_bytes(4, "little")
    assert leaves_per_1000(image) <= LEAVES_PER_1000
