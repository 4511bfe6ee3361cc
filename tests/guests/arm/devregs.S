@ devregs: the virt board's device registers as a guest reads them after
@ reset -- for each address of the table: the address, then the word read
@ there, each as 8 hex digits on a line of its own (PL011, GIC distributor,
@ GIC CPU interface).  Not a bench guest: it pins the device models to what
@ QEMU's virt returns.
        .text
        .global _start
_start:
        ldr     sp, =0x40200000
        adr     r6, table
next:
        ldr     r7, [r6], #4
        cmp     r7, #0
        beq     done
        mov     r0, r7
        bl      hex_line
        ldr     r0, [r7]
        bl      hex_line
        b       next
done:
        mov     r0, #0
        b       exit

hex_line:
        push    {lr}
        mov     r1, #8
        bl      puthex
        pop     {pc}

table:
        @ PL011: FR, IBRD, FBRD, LCR_H, CR, IFLS, IMSC, RIS, MIS, DMACR, the IDs
        .word   0x09000018, 0x09000024, 0x09000028, 0x0900002c, 0x09000030, 0x09000034
        .word   0x09000038, 0x0900003c, 0x09000040, 0x09000048
        .word   0x09000fe0, 0x09000fe4, 0x09000fe8, 0x09000fec
        .word   0x09000ff0, 0x09000ff4, 0x09000ff8, 0x09000ffc
        @ GIC distributor: CTLR, TYPER, IIDR, IGROUPR0, ISENABLER0/1, ISPENDR1,
        @ ISACTIVER1, IPRIORITYR0/8, ITARGETSR0/8, ICFGR0/1/2, ICPIDR2
        .word   0x08000000, 0x08000004, 0x08000008, 0x08000080, 0x08000100, 0x08000104
        .word   0x08000204, 0x08000304, 0x08000400, 0x08000420, 0x08000800, 0x08000820
        .word   0x08000c00, 0x08000c04, 0x08000c08, 0x08000fe8
        @ GIC CPU interface: CTLR, PMR, BPR, IAR, RPR, HPPIR, IIDR
        .word   0x08010000, 0x08010004, 0x08010008, 0x0801000c, 0x08010014, 0x08010018
        .word   0x080100fc
        .word   0

        .include "lib.S"
