"""emu grade in 64-bit mode: System V AMD64 calls (register and stack
arguments, RSP alignment, RBX RBP R12-R15 preserved) from a harness that
enters long mode (SDM Vol. 3A §10.8.5)."""

import pytest


HARNESS = """\
    cli
    xor ax, ax
    mov ds, ax
    lgdt [gdt_desc]
    lidt [idt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp far 0x08:pm32
.code32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov edi, 0x20000
    mov ecx, 3 * 0x400
    xor eax, eax
    cld
    rep stosd
    mov dword ptr [0x20000], 0x21003
    mov dword ptr [0x21000], 0x22003
    mov dword ptr [0x22000], 0x00000083
    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp far 0x18:lm64
.code64
lm64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, 0x90000
    hlt
gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00
    dd 0x0000ffff, 0x00cf9300
    dd 0x0000ffff, 0x00af9b00
gdt_desc:
    dw 4 * 8 - 1
    dd gdt
idt_desc:
    dw 0
    dd 0
"""

SOURCE = """\
sum7:
    lea rax, [rdi + rsi]
    add rax, rdx
    add rax, rcx
    add rax, r8
    add rax, r9
    add rax, [rsp + 8]
    ret
alignment:
    mov rax, rsp
    and rax, 15
    ret
clobber:
    mov r12, rdi
    ret
"""

SPEC = """\
[assignment]
name = "sysv"
arch = "x86"
bits = 64

[build]
source = "f.S"
harness = "harness.S"

[[test]]
name = "seven arguments"
points = 1
call = "sum7"
args = [1, 2, 3, 4, 5, 6, 0x100000000]
expect.return = 0x100000015

[[test]]
name = "rsp + 8 is 16-byte aligned at entry"
points = 1
call = "alignment"
expect.return = 8

[[test]]
name = "r12 is preserved"
points = 1
call = "clobber"
args = [7]
"""


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_sysv_calls(assignment, accel):
    r = assignment(SPEC, {"f.S": SOURCE}, {"harness.S": HARNESS}, accel)
    assert [t.outcome for t in r.tests] == ["pass", "pass", "fail"], r.tests[0].output
    assert r.tests[2].output.startswith("callee-saved register R12 not preserved: ")
    assert ", 7 after" in r.tests[2].output.split("\n")[0]
