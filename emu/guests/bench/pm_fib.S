; bench (32-bit protected mode): naive recursive Fibonacci, fib(SCALE) in
; EAX; every call saves ESI on the stack; prints fib(SCALE).
.include "flat32.inc"
.set SCALE, 29                  ; n
main32:
    mov ecx, SCALE
    call fib
    jmp pm_done

; fib(ECX) -> EAX; keeps ECX, ESI
fib:
    cmp ecx, 2
    jae recurse
    mov eax, ecx
    ret
recurse:
    push esi
    dec ecx
    call fib
    mov esi, eax
    dec ecx
    call fib
    add eax, esi
    add ecx, 2
    pop esi
    ret

.include "pm_out.inc"
