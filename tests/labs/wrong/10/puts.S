@ Lab 10, exercise 1, wrong: writes UARTDR without reading UARTFR first.
@ Lab 10, exercise 1 (answer key): uart_puts(const char *s) -> r0, the
@ number of bytes written to the PL011, each after UARTFR.TXFF is clear.
    .global uart_puts
uart_puts:
    ldr r2, =0x09000000     @ the PL011
    mov r3, r0              @ where the string starts
next:
    ldrb r1, [r0]
    cmp r1, #0
    beq done
    strb r1, [r2]           @ UARTDR
    add r0, r0, #1
    b next
done:
    sub r0, r0, r3          @ the bytes written
    bx lr
