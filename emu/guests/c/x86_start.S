/* x86_start.S -- the start of every C bench guest on the pc board (GNU as):
 * entered at 0000:7C00 in real mode, it switches to flat 32-bit protected
 * mode (SDM Vol. 3A 9.9.1 "Switching to Protected Mode": LGDT, CR0.PE,
 * a far jump to a 32-bit code segment), sets the data segments and
 * ESP = 0x90000, calls guest_main, prints its result as eight lower-case
 * hex digits and a newline on COM1 (0x3F8) and ends through isa-debug-exit
 * (port 0xF4) with 0.  GDT: 0x08 code32 ring 0, 0x10 data32 ring 0, both
 * flat. */
    .section .text.start, "ax"
    .code16
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    lgdtl gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $pm32

    .code32
pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov $0x90000, %esp
    call guest_main
    mov %eax, %ebx
    mov $8, %ecx
    mov $0x3f8, %dx
1:  rol $4, %ebx
    mov %bl, %al
    and $0x0f, %al
    cmp $10, %al
    jb 2f
    add $0x27, %al
2:  add $0x30, %al
    out %al, %dx
    loop 1b
    mov $10, %al
    out %al, %dx
    mov $0, %al
    out %al, $0xf4
    hlt

    .align 8
gdt:
    .long 0, 0
    .long 0x0000ffff, 0x00cf9b00
    .long 0x0000ffff, 0x00cf9300
gdt_desc:
    .word 3 * 8 - 1
    .long gdt
