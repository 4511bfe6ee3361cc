; measurement guest (32-bit protected mode): segment reloads in a loop --
; the save/load/restore of DS and ES around a kernel entry (PUSH DS, MOV
; DS, AX, POP DS), FS loaded with a per-CPU segment whose base is not 0
; and read through it, and ES loaded from a register; prints a checksum.
.include "flat32.inc"
.set SCALE, 20000
main32:
    ; a GDT with one more entry: 0x18, data32 ring 0, base 0x00009000
    mov dword ptr [0x8000], 0
    mov dword ptr [0x8004], 0
    mov dword ptr [0x8008], 0x0000ffff
    mov dword ptr [0x800c], 0x00cf9b00
    mov dword ptr [0x8010], 0x0000ffff
    mov dword ptr [0x8014], 0x00cf9300
    mov dword ptr [0x8018], 0x9000ffff
    mov dword ptr [0x801c], 0x00cf9300
    mov word ptr [0x8100], 4 * 8 - 1
    mov dword ptr [0x8102], 0x8000
    lgdt [0x8100]
    mov dword ptr [0x9010], 7
    xor esi, esi
    xor edi, edi
    mov ebp, SCALE
outer:
    mov ecx, 8
inner:
    push ds
    push es
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ax, 0x18
    mov fs, ax
    mov ebx, fs:[0x10]
    add ebx, ecx
    mov fs:[0x10], ebx
    add esi, ebx
    pop es
    pop ds
    mov dx, ds
    mov es, dx
    add edi, es:[0x9010]
    rol esi, 1
    xor edi, esi
    loop inner
    dec ebp
    jnz outer
    mov eax, esi
    xor eax, edi
    jmp pm_done

.include "pm_out.inc"
