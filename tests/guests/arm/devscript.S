@ devscript: a script of device register accesses (PL011, GIC) that the
@ guest performs in order -- reads, word writes, byte writes -- keeping what
@ each read returns, then prints those values as 8 hex digits a line.  The
@ test replays the same script (read from this ELF's `script` symbol) on
@ kasou's device models and compares: the installed QEMU is the judge.
@ Entries: op, address, value; op 0 read, 1 write a word, 2 write a byte;
@ op 0xFFFFFFFF ends the script.
        .equ    RESULTS, 0x40100000
        .equ    U, 0x09000000
        .equ    D, 0x08000000
        .equ    C, 0x08010000
        .text
        .global _start
_start:
        ldr     sp, =0x40200000
        ldr     r6, =script
        ldr     r8, =RESULTS
step:
        ldr     r0, [r6], #4
        cmn     r0, #1
        beq     report
        ldr     r1, [r6], #4
        ldr     r2, [r6], #4
        cmp     r0, #1
        streq   r2, [r1]
        beq     step
        cmp     r0, #2
        streqb  r2, [r1]
        beq     step
        ldr     r3, [r1]
        str     r3, [r8], #4
        b       step
report:
        ldr     r7, =RESULTS
1:      cmp     r7, r8
        beq     2f
        ldr     r0, [r7], #4
        mov     r1, #8
        bl      puthex
        b       1b
2:      mov     r0, #0
        b       exit

        .ltorg
        .align  2
        .global script
script:
        @ PL011: raw and masked interrupts around a transmitted byte
        .word   0, U + 0x3C, 0,   0, U + 0x18, 0
        .word   1, U + 0x38, 0x7FF,   0, U + 0x38, 0,   0, U + 0x40, 0
        .word   2, U + 0x00, 'A',   0, U + 0x3C, 0,   0, U + 0x40, 0
        .word   1, U + 0x44, 0x20,   0, U + 0x3C, 0,   0, U + 0x40, 0
        @ FIFO enable, divisors and their widths, line control, IFLS, DMACR
        .word   1, U + 0x2C, 0x70,   0, U + 0x2C, 0,   0, U + 0x18, 0
        .word   1, U + 0x24, 0x1234,   0, U + 0x24, 0,   1, U + 0x28, 0x1F,   0, U + 0x28, 0
        .word   1, U + 0x34, 0x09,   0, U + 0x34, 0
        .word   1, U + 0x38, 0,   0, U + 0x40, 0,   1, U + 0x44, 0x7FF,   0, U + 0x3C, 0
        @ writes to read-only registers are ignored
        .word   1, U + 0x18, 0xFFFF,   0, U + 0x18, 0,   1, U + 0xFE0, 0,   0, U + 0xFE0, 0
        @ GIC: enables, a pending SPI, acknowledge, running priority, end
        .word   1, D + 0x000, 1,   1, C + 0x000, 1,   1, C + 0x004, 0xF0
        .word   0, D + 0x000, 0,   0, C + 0x000, 0,   0, C + 0x004, 0
        .word   2, D + 0x422, 0x40,   0, D + 0x420, 0
        .word   1, D + 0x104, 1 << 2,   0, D + 0x104, 0,   0, C + 0x018, 0
        .word   1, D + 0x204, 1 << 2,   0, D + 0x204, 0,   0, C + 0x018, 0
        .word   0, C + 0x00C, 0,   0, C + 0x014, 0,   0, D + 0x304, 0,   0, D + 0x204, 0
        .word   0, C + 0x00C, 0,   1, C + 0x010, 34,   0, D + 0x304, 0,   0, C + 0x014, 0
        .word   0, C + 0x00C, 0
        @ a priority mask at the interrupt's priority masks it
        .word   1, D + 0x204, 1 << 2,   1, C + 0x004, 0x40,   0, C + 0x00C, 0,   0, C + 0x018, 0
        .word   1, C + 0x004, 0x41,   0, C + 0x00C, 0,   1, C + 0x010, 34
        @ disabling a pending interrupt, clear-pending, priorities, config
        .word   1, D + 0x204, 1 << 2,   1, D + 0x184, 1 << 2,   0, D + 0x104, 0,   0, C + 0x00C, 0
        .word   1, D + 0x284, 1 << 2,   0, D + 0x204, 0
        .word   1, D + 0x420, 0x12345678,   0, D + 0x420, 0
        .word   1, D + 0xC08, 0xFFFFFFFF,   0, D + 0xC08, 0,   0, D + 0xC00, 0
        .word   1, C + 0x008, 0xFF,   0, C + 0x008, 0,   1, C + 0x004, 0xFF,   0, C + 0x004, 0
        .word   0xFFFFFFFF

        .include "lib.S"
