; bench (32-bit protected mode): the polled UART output of rm_uart.S in
; 32-bit code: each line the LCG 64 steps on (16-bit MUL/ADC pairs, as in
; pm_lcg.S), its decimal digits by 32-bit DIV, each byte after polling
; COM1's line status register (0x3FD, THRE), until SCALE KiB are out; then
; the Fletcher-16 pair s2:s1 in hex.
.include "flat32.inc"
.set SCALE, 100                 ; KiB printed
main32:
    mov eax, 1                  ; x
    xor ebp, ebp                ; bytes printed
    xor edi, edi                ; s2:s1
line:
    push edi
    mov si, ax                  ; x, low half
    shr eax, 16
    mov di, ax                  ; x, high half
    mov ecx, 64
step:
.include "lcg_step.inc"
    loop step
    pop edi
    shl edx, 16
    movzx eax, ax
    or eax, edx
    push eax
    mov ebx, 10
    xor ecx, ecx
digits:
    xor edx, edx
    div ebx
    push edx
    inc ecx
    test eax, eax
    jnz digits
print:
    pop eax
    add al, 0x30
    call putc
    loop print
    mov al, 10
    call putc
    pop eax
    cmp ebp, SCALE * 1024
    jb line
    mov eax, edi
    jmp pm_done

; putc: AL out on COM1 once the transmitter is empty; counted (EBP) and
; summed (EDI = s2:s1)
putc:
    push edx
    push eax
    mov dx, 0x3fd
poll:
    in al, dx
    test al, 0x20
    jz poll
    pop eax
    mov dx, 0x3f8
    out dx, al
    movzx edx, al
    add dx, di                  ; s1 += byte
    mov di, dx
    rol edi, 16
    add di, dx                  ; s2 += s1
    rol edi, 16
    inc ebp
    pop edx
    ret

.include "pm_out.inc"

a_lo:
    dw 0x4e6d
a_hi:
    dw 0x41c6
