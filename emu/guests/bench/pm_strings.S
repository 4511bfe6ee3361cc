; bench (32-bit protected mode): the string work of rm_strings.S with
; 32-bit addressing, A at 0x100000 and B at 0x110000: SCALE passes of
; REP STOSB, REP MOVSB and a LODSB / ADD / STOSB loop; prints
; h = rol32(h, 5) xor A[i] over A.
.include "flat32.inc"
.set SCALE, 420                 ; passes
.set ARR_A, 0x100000
.set ARR_B, 0x110000
main32:
    cld
    mov edi, ARR_A
    xor al, al
    mov ecx, 4096
init:
    stosb
    add al, 7
    loop init
    xor edx, edx                ; the pass
pass:
    mov edi, ARR_B
    mov al, dl
    mov ecx, 4096
    rep stosb
    mov esi, ARR_A
    mov edi, edx
    and edi, 511
    add edi, ARR_B
    mov ecx, 3584
    rep movsb
    mov esi, ARR_B
    mov edi, ARR_A
    mov ecx, 4096
mix:
    lodsb
    add al, [edi]
    stosb
    loop mix
    inc edx
    cmp edx, SCALE
    jb pass
    mov esi, ARR_A
    xor ebx, ebx
    mov ecx, 4096
hash:
    rol ebx, 5
    lodsb
    xor bl, al
    loop hash
    mov eax, ebx
    jmp pm_done

.include "pm_out.inc"
