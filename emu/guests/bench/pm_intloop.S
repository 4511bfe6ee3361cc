; bench (32-bit protected mode): the integer loop of rm_intloop.S on 32-bit
; registers: SCALE passes of ECX = 40000 down to 1, EAX += ECX,
; EBX = (EBX xor EAX) + 1 (mod 2**32); prints EBX.
.include "flat32.inc"
.set SCALE, 50                  ; passes of 40,000 steps
main32:
    xor eax, eax
    xor ebx, ebx
    mov ebp, SCALE
pass:
    mov ecx, 40000
again:
    add eax, ecx
    xor ebx, eax
    inc ebx
    dec ecx
    jnz again
    dec ebp
    jnz pass
    mov eax, ebx
    jmp pm_done

.include "pm_out.inc"
