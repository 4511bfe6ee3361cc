; irq_beyond_ivt.S -- a timer interrupt whose IVT entry lies beyond the IDTR
; limit (real mode, SDM Vol. 3A §20.1.4): LIDT with limit 0, then the PIT's
; IRQ 0 (vector 8) with interrupts on.  Delivering it raises #GP, whose
; vector is beyond the limit too: a double fault, then a triple fault (a
; shutdown, SDM Vol. 3A §6.15).  An engine must end the run so, not crash.
; (This host's KVM ignores the real-mode IVT limit: see emu kvm-probe.)

    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lidt [idt0]
    mov al, 0x34               ; PIT counter 0, mode 2
    out 0x43, al
    mov al, 0x00
    out 0x40, al
    out 0x40, al
    mov al, 0x11               ; 8259: ICW1..4, only IRQ 0
    out 0x20, al
    mov al, 0x08
    out 0x21, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x01
    out 0x21, al
    mov al, 0xfe
    out 0x21, al
    sti
spin:
    jmp spin
idt0: dw 0
      dd 0
