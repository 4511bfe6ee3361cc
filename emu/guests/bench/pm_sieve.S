; bench (32-bit protected mode): the byte sieve of rm_sieve.S with 32-bit
; addressing, the array at 0x100000 (above 1 MiB): ten passes, pass k
; over the numbers below 100 * SCALE - 97 * k; prints the sum of the counts.
.include "flat32.inc"
.set SCALE, 650                 ; hundreds of numbers (at most 655)
.set SIEVE, 0x100000
main32:
    xor edi, edi                ; the sum
    mov ebp, SCALE * 100        ; the size of this pass
    mov ecx, 10
pass:
    push ecx
    xor ebx, ebx
fill:
    mov byte [ebx + SIEVE], 1
    inc ebx
    cmp ebx, ebp
    jb fill
    mov esi, 2
cross_next:
    mov eax, esi
    imul eax, esi
    cmp eax, ebp
    jae crossed
    cmp byte [esi + SIEVE], 0
    je not_prime
    mov ebx, eax
cross:
    mov byte [ebx + SIEVE], 0
    add ebx, esi
    cmp ebx, ebp
    jb cross
not_prime:
    inc esi
    jmp cross_next
crossed:
    mov ebx, 2
    xor eax, eax
count:
    movzx edx, byte [ebx + SIEVE]
    add eax, edx
    inc ebx
    cmp ebx, ebp
    jb count
    add edi, eax
    sub ebp, 97
    pop ecx
    loop pass
    mov eax, edi
    jmp pm_done

.include "pm_out.inc"
