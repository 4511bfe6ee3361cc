; bench (real mode): naive recursive Fibonacci, fib(SCALE), 32 bits in
; DX:AX with ADD/ADC; every call saves SI and DI on the stack (CALL/RET and
; stack traffic); prints fib(SCALE).
.set SCALE, 28                  ; n
.include "rm_entry.inc"
    mov cx, SCALE
    call fib
    jmp rm_done

; fib(CX) -> DX:AX; keeps CX, SI, DI
fib:
    cmp cx, 2
    jae recurse
    mov ax, cx
    xor dx, dx
    ret
recurse:
    push si
    push di
    dec cx
    call fib
    mov si, ax
    mov di, dx
    dec cx
    call fib
    add ax, si
    adc dx, di
    add cx, 2
    pop di
    pop si
    ret

.include "rm_out.inc"
