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

from tests.differential.test_tcg import EXIT, asm, same

#: left translated code at most this often per 1000 instructions: the
#: interpreter's share before code gets hot, and the bails that teach the
#: dispatcher a speculation fails (a cliff is one leave per ~10)
LEAVES_PER_1000 = 5


def leaves_per_1000(m, r) -> float:
    """How often the run left translated code: bails, and the instructions
    the interpreter ran (cold code, bails, helpers), per 1000 retired."""
    s = m.accel.stats()
    return 1000 * (s["bails"] + s["interp_insns"]) / r.icount


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
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
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
    n = 20
    mt, rt = same(fib_bp(ss, sp, n, wide), tier="tiered", ram=0x40000)
    assert mt.serial_output() == fib(n).to_bytes(2, "little")
    assert leaves_per_1000(mt, rt) <= LEAVES_PER_1000, mt.accel.stats()


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


@pytest.mark.parametrize("sp", [0x7C00, 0x7BFF], ids=["boot-sector", "odd"])
def test_tiny_model_stays_in_translated_code(sp):
    mt, rt = same(asm(TINY.format(sp=sp, passes=4000)), tier="tiered")
    assert mt.serial_output() == tiny_total(4000).to_bytes(2, "little")
    assert leaves_per_1000(mt, rt) <= LEAVES_PER_1000, mt.accel.stats()
