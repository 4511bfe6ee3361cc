; timer.S -- PIT ticks through the 8259 (-M pc, real mode, loaded at 0000:7C00)
;
; Counts timer interrupts and prints them through COM1; the output is the
; same on every engine (interp, tcg, unicorn, kvm) because it depends only on
; how many interrupts were handled, never on how fast the CPU is.
;
;   1. 8259 pair initialised with ICW1-4 (vectors 0x08 / 0x70), only IRQ 0
;      unmasked; IRQ 0's handler at vector 8 counts a tick and sends EOI.
;   2. PIT counter 0 in mode 2 (rate generator), divisor 1193: 1 kHz.  The
;      main loop HLTs until a tick comes and prints "tick 1" .. "tick 10".
;   3. Mode 3 (square wave), divisor 2386 (500 Hz): five ticks arrive while
;      the CPU computes instead of halting (interrupts between instructions).
;   4. Mode 0 (interrupt on terminal count), 2 ms: exactly one interrupt
;      (the 8259 is initialised again first: a tick of mode 3 that it latched
;      while interrupts were off would otherwise be counted; on KVM, in real
;      time, that happens).
;   5. Exit through isa-debug-exit (status 1).
;
; On interp/tcg/unicorn guest time is the instruction count (-icount), so
; every interrupt arrives at the same instruction on all three.

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00

    call pic_init

    ; IVT entry 8 (IRQ 0) -> irq0
    mov word ptr [0x20], irq0
    mov word ptr [0x22], 0

    mov si, banner
    call puts

    ; -- 2. mode 2, 1 kHz, HLT between ticks -----------------------------------
    mov word ptr [ticks], 0
    mov word ptr [printed], 0
    mov al, 0x34            ; counter 0, LSB then MSB, mode 2, binary
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al
    sti
wait_tick:
    hlt                     ; woken by IRQ 0 (the handler ran already)
show_ticks:
    mov ax, [printed]
    cmp ax, [ticks]
    jae wait_tick           ; nothing new yet
    inc ax
    mov [printed], ax
    mov si, s_tick
    call puts
    call putdec
    call newline
    cmp word ptr [printed], 10
    jb show_ticks
    mov ax, [printed]
    call putdec
    mov si, s_counted
    call puts

    ; -- 3. mode 3, 500 Hz, ticks while computing --------------------------------
    cli
    mov word ptr [ticks], 0
    mov al, 0x36            ; counter 0, LSB then MSB, mode 3, binary
    out 0x43, al
    mov ax, 2386
    out 0x40, al
    mov al, ah
    out 0x40, al
    xor bx, bx
    xor cx, cx
    sti
busy:
    add cx, 3               ; some work for the interrupts to cut into
    adc bx, 0
    xor dx, cx
    cmp word ptr [ticks], 5
    jb busy
    cli
    mov si, s_busy
    call puts

    ; -- 4. mode 0, one shot after 2 ms -----------------------------------------------
    mov al, 0x30            ; counter 0, LSB then MSB, mode 0, binary: OUT goes low
    out 0x43, al
    mov ax, 2386
    out 0x40, al
    mov al, ah
    out 0x40, al
    call pic_init           ; ICW1 clears IRR: withdraws a mode 3 tick latched
                            ; while interrupts were off (reprogramming the PIT
                            ; does not), so the next interrupt is the one-shot
    mov word ptr [ticks], 0
    sti                     ; the STI shadow covers the HLT: no lost wake-up
    hlt
    mov cx, 20000           ; a while longer: a one-shot must not fire again
linger:
    loop linger
    cli
    mov si, s_once
    cmp word ptr [ticks], 1
    je oneshot_ok
    mov si, s_not_once
oneshot_ok:
    call puts

    mov si, s_done
    call puts
    xor al, al
    out 0xf4, al            ; isa-debug-exit: status (0 << 1) | 1 = 1
    hlt

; pic_init: 8259 pair: ICW1 (edge, cascade, ICW4 follows), ICW2 vector base,
; ICW3 wiring (slave on IR2 / slave id 2), ICW4 8086 mode, then OCW1 masks
pic_init:
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x08
    out 0x21, al
    mov al, 0x70
    out 0xa1, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x02
    out 0xa1, al
    mov al, 0x01
    out 0x21, al
    out 0xa1, al
    mov al, 0xfe            ; master: only IRQ 0
    out 0x21, al
    mov al, 0xff            ; slave: nothing
    out 0xa1, al
    ret

; IRQ 0 (vector 8): count the tick, EOI to the master 8259
irq0:
    push ax
    inc word ptr [ticks]
    mov al, 0x20            ; OCW2: non-specific EOI
    out 0x20, al
    pop ax
    iret

; puts: print the NUL-terminated string at DS:SI
puts:
    push ax
puts_next:
    lodsb
    test al, al
    jz puts_done
    call putc
    jmp puts_next
puts_done:
    pop ax
    ret

newline:
    push ax
    mov al, 0x0a
    call putc
    pop ax
    ret

; putc: AL -> COM1, waiting for THRE
putc:
    push dx
    push ax
    mov dx, 0x3fd
wait_thre:
    in al, dx
    test al, 0x20
    jz wait_thre
    pop ax
    mov dx, 0x3f8
    out dx, al
    pop dx
    ret

; putdec: AX in decimal
putdec:
    push ax
    push bx
    push cx
    push dx
    mov bx, 10
    xor cx, cx
div_loop:
    xor dx, dx
    div bx
    push dx
    inc cx
    test ax, ax
    jnz div_loop
print_loop:
    pop ax
    add al, 0x30
    call putc
    loop print_loop
    pop dx
    pop cx
    pop bx
    pop ax
    ret

ticks:      .word 0
printed:    .word 0
banner:     .asciz "timer: PIT counter 0 on IRQ 0, vector 8\n"
s_tick:     .asciz "tick "
s_counted:  .asciz " ticks counted (mode 2, HLT between ticks)\n"
s_busy:     .asciz "mode 3: 5 ticks while computing\n"
s_once:     .asciz "mode 0: one-shot fired once\n"
s_not_once: .asciz "mode 0: one-shot count wrong\n"
s_done:     .asciz "done\n"
