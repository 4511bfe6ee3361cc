"""The 32-bit protected-mode frame of the translator's segment tests: from
0000:7C00 (real mode) to flat 32-bit code (SDM Vol. 3A §9.9.1) with DS = ES
= SS = a flat data segment and ESP = 0x90000, then the test's code.  The GDT
(0x08 code32 flat, 0x10 data32 flat) also holds 0x18: data32, base 0,
limit 0xFFF in bytes, for a test that needs a segment limit to break."""

ENTRY = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdt_desc]
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
    mov esp, 0x90000
"""

GDT = """
gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00       ; 0x08 code32, flat
    dd 0x0000ffff, 0x00cf9300       ; 0x10 data32, flat
    dd 0x00000fff, 0x00409300       ; 0x18 data32, base 0, limit 0xFFF (bytes)
gdt_desc:
    dw 4 * 8 - 1
    dd gdt
"""


def guest(code: str) -> str:
    """The test's 32-bit ``code`` in the frame (it must not fall through)."""
    return ENTRY + code + GDT
