@ Lab 10: the same program on the ARM virt board.  Count from 1 to 3 over
@ the PL011 UART, then end the run through Arm semihosting.
    .global _start
_start:
    ldr r4, =0x09000000     @ the PL011: UARTDR, its data register, at offset 0
    adr r5, text
next:
    ldrb r0, [r5], #1       @ the next byte of the text
    cmp r0, #0
    beq done
wait:
    ldr r1, [r4, #0x18]     @ UARTFR, the flag register
    tst r1, #0x20           @ TXFF: the transmit FIFO is full
    bne wait
    strb r0, [r4]           @ UARTDR: the byte goes to the terminal
    b next
done:
    mov r0, #0x20           @ SYS_EXIT_EXTENDED, with r1 -> [reason, status]
    adr r1, block
    svc 0x123456            @ the semihosting trap (A32)
block:
    .word 0x20026, 0        @ ADP_Stopped_ApplicationExit, status 0
text:
    .asciz "counting: 1 2 3\n"
