/* ack_gcc_o2.S -- Ackermann's function as gcc -O2 -m32 compiles it: the
 * recursion unrolled into a nest of loops over stack slots (GCC's output,
 * kept as it was written, for a translator test: tests/unit/ir/
 * test_loop_locals.py).  The C source:
 *
 *     static u32 ack(u32 m, u32 n)
 *     {
 *         if (m == 0) return n + 1;
 *         if (n == 0) return ack(m - 1, 1);
 *         return ack(m - 1, ack(m, n - 1));
 *     }
 *     u32 guest_main(void)
 *     {
 *         u32 h = 0;
 *         for (u32 n = 1; n < 7; n++) h += ack(2, n) + ack(3, n);
 *         return h;
 *     }
 *
 * built with gcc -O2 -S -m32 -fno-pic -ffreestanding; the start code is
 * emu/guests/c/x86_start.S's (flat 32-bit protected mode, the result
 * printed in hex on COM1, isa-debug-exit). */
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
	.text
	.p2align 4
ack:
	pushl	%ebp
	pushl	%edi
	pushl	%esi
	pushl	%ebx
	subl	$44, %esp
	movl	%eax, 24(%esp)
	testl	%eax, %eax
	je	.L2
	testl	%edx, %edx
	jne	.L170
	movl	24(%esp), %eax
	movl	$1, %edx
	subl	$1, %eax
	movl	%eax, 28(%esp)
	movl	28(%esp), %eax
	testl	%eax, %eax
	je	.L2
.L180:
	testl	%edx, %edx
	jne	.L58
	subl	$2, 24(%esp)
	movl	$1, %edx
	je	.L2
.L170:
	subl	$1, %edx
	testl	%edx, %edx
	jne	.L172
	movl	24(%esp), %eax
	subl	$1, %eax
	movl	%eax, 28(%esp)
	movl	%eax, %ebx
	movl	$1, %eax
	je	.L7
.L8:
	movl	%ebx, 20(%esp)
	cmpl	$1, %eax
	jne	.L173
.L10:
	movl	$1, %eax
	subl	$1, %ebx
	je	.L14
	.p2align 4,,10
	.p2align 3
.L15:
	movl	%ebx, 16(%esp)
	cmpl	$1, %eax
	jne	.L174
.L17:
	movl	$1, %eax
	subl	$1, %ebx
	je	.L21
	.p2align 4,,10
	.p2align 3
.L22:
	movl	%ebx, 12(%esp)
	cmpl	$1, %eax
	jne	.L175
.L24:
	movl	$1, %eax
	subl	$1, %ebx
	je	.L28
	.p2align 4,,10
	.p2align 3
.L29:
	movl	%ebx, 8(%esp)
	cmpl	$1, %eax
	jne	.L176
.L31:
	movl	$1, %eax
	subl	$1, %ebx
	je	.L35
	.p2align 4,,10
	.p2align 3
.L36:
	movl	%ebx, %edi
	cmpl	$1, %eax
	jne	.L177
.L38:
	movl	$1, %eax
	subl	$1, %ebx
	je	.L42
.L76:
	movl	%ebx, %ebp
.L45:
	movl	$1, %eax
	subl	$1, %ebx
	je	.L49
.L168:
	subl	$1, %eax
.L52:
	movl	%ebx, %esi
.L54:
	movl	%esi, %ecx
	subl	$1, %esi
	testl	%eax, %eax
	jne	.L178
	movl	$1, %eax
.L56:
	testl	%esi, %esi
	jne	.L54
	movl	%ebx, %ecx
	addl	$1, %eax
	subl	$1, %ecx
	je	.L49
	testl	%eax, %eax
	jne	.L179
	movl	$1, %eax
	subl	$2, %ebx
	jne	.L168
.L49:
	movl	%ebp, %ebx
	addl	$1, %eax
	subl	$1, %ebx
	je	.L42
	testl	%eax, %eax
	jne	.L43
	movl	%ebp, %ebx
	movl	$1, %eax
	subl	$2, %ebx
	je	.L42
.L43:
	cmpl	$1, %eax
	je	.L76
	subl	$2, %eax
	movl	%ebx, %ebp
	jmp	.L52
	.p2align 4,,10
	.p2align 3
.L42:
	movl	%edi, %ebx
	addl	$1, %eax
	subl	$1, %ebx
	je	.L35
	testl	%eax, %eax
	jne	.L36
	subl	$2, %edi
	movl	$1, %eax
	movl	%edi, %ebx
	jne	.L36
.L35:
	movl	8(%esp), %ebx
	addl	$1, %eax
	subl	$1, %ebx
	je	.L28
	testl	%eax, %eax
	jne	.L29
	movl	8(%esp), %ebx
	movl	$1, %eax
	subl	$2, %ebx
	jne	.L29
.L28:
	movl	12(%esp), %ebx
	addl	$1, %eax
	subl	$1, %ebx
	je	.L21
	testl	%eax, %eax
	jne	.L22
	movl	12(%esp), %ebx
	movl	$1, %eax
	subl	$2, %ebx
	jne	.L22
.L21:
	movl	16(%esp), %ebx
	addl	$1, %eax
	subl	$1, %ebx
	je	.L14
	testl	%eax, %eax
	jne	.L15
	movl	16(%esp), %ebx
	movl	$1, %eax
	subl	$2, %ebx
	jne	.L15
.L14:
	movl	20(%esp), %ebx
	addl	$1, %eax
	subl	$1, %ebx
	je	.L7
	testl	%eax, %eax
	jne	.L8
	movl	20(%esp), %ebx
	movl	$1, %eax
	subl	$2, %ebx
	jne	.L8
.L7:
	leal	1(%eax), %edx
	movl	28(%esp), %eax
	testl	%eax, %eax
	jne	.L180
.L2:
	addl	$44, %esp
	leal	1(%edx), %eax
	popl	%ebx
	popl	%esi
	popl	%edi
	popl	%ebp
	ret
	.p2align 4,,10
	.p2align 3
.L178:
	leal	-1(%eax), %edx
	movl	%ecx, %eax
	call	ack
	jmp	.L56
	.p2align 4,,10
	.p2align 3
.L177:
	subl	$2, %eax
.L48:
	movl	%ebx, %ebp
	testl	%eax, %eax
	je	.L45
	jmp	.L168
	.p2align 4,,10
	.p2align 3
.L176:
	subl	$2, %eax
.L41:
	movl	%ebx, %edi
	testl	%eax, %eax
	je	.L38
	subl	$1, %eax
	jmp	.L48
	.p2align 4,,10
	.p2align 3
.L175:
	subl	$2, %eax
.L34:
	movl	%ebx, 8(%esp)
	testl	%eax, %eax
	je	.L31
	subl	$1, %eax
	jmp	.L41
	.p2align 4,,10
	.p2align 3
.L174:
	subl	$2, %eax
.L27:
	movl	%ebx, 12(%esp)
	testl	%eax, %eax
	je	.L24
	subl	$1, %eax
	jmp	.L34
	.p2align 4,,10
	.p2align 3
.L172:
	cmpl	$1, %edx
	jne	.L181
	movl	24(%esp), %eax
	movl	%eax, 20(%esp)
	movl	%eax, %ebx
	subl	$1, %eax
	movl	%eax, 28(%esp)
	jmp	.L10
	.p2align 4,,10
	.p2align 3
.L173:
	subl	$2, %eax
.L20:
	movl	%ebx, 16(%esp)
	testl	%eax, %eax
	je	.L17
	subl	$1, %eax
	jmp	.L27
	.p2align 4,,10
	.p2align 3
.L58:
	movl	28(%esp), %eax
	movl	%eax, 24(%esp)
	jmp	.L170
.L179:
	movl	%ecx, %ebx
	jmp	.L168
.L181:
	leal	-2(%edx), %eax
	movl	24(%esp), %edx
	movl	%edx, 20(%esp)
	movl	%edx, %ebx
	subl	$1, %edx
	movl	%edx, 28(%esp)
	jmp	.L20
	.p2align 4
	.globl	guest_main
guest_main:
	pushl	%ebp
	pushl	%edi
	xorl	%edi, %edi
	pushl	%esi
	pushl	%ebx
	movl	$1, %ebx
	subl	$12, %esp
	.p2align 4,,10
	.p2align 3
.L183:
	leal	-1(%ebx), %edx
	movl	$2, %eax
	movl	$3, %esi
	call	ack
	testl	%eax, %eax
	jne	.L195
.L187:
	movl	%ebx, %eax
	movl	$3, %ebp
.L184:
	testl	%eax, %eax
	jne	.L196
	movl	$1, %eax
.L186:
	subl	$1, %ebp
	jne	.L184
	addl	%esi, %eax
	addl	$1, %ebx
	addl	%eax, %edi
	cmpl	$7, %ebx
	jne	.L183
	addl	$12, %esp
	movl	%edi, %eax
	popl	%ebx
	popl	%esi
	popl	%edi
	popl	%ebp
	ret
	.p2align 4,,10
	.p2align 3
.L196:
	leal	-1(%eax), %edx
	movl	%ebp, %eax
	call	ack
	jmp	.L186
	.p2align 4,,10
	.p2align 3
.L195:
	leal	-1(%eax), %edx
	movl	$1, %eax
	call	ack
	leal	2(%eax), %esi
	jmp	.L187
