; measurement guest (32-bit protected mode): the critical sections of a
; 32-bit kernel -- PUSHFD/CLI ... POPFD around a queue update -- and the
; CPUID-detection idiom (PUSHFD, POP, toggle ID, PUSH, POPFD, PUSHFD);
; prints a checksum (the queue head at 0x9000).
.include "flat32.inc"
.set SCALE, 20000
main32:
    xor esi, esi
    xor edi, edi
    mov ebp, SCALE
    mov dword ptr [0x9000], 0
outer:
    mov ecx, 8
inner:
    pushfd
    cli
    mov ebx, [0x9000]
    add ebx, ecx
    and ebx, 31
    mov [0x9000], ebx
    add esi, ebx
    popfd
    pushfd
    pop eax
    mov edx, eax
    xor eax, 0x200000
    push eax
    popfd
    pushfd
    pop eax
    xor eax, edx
    shr eax, 21
    add edi, eax
    push edx
    popfd
    rol esi, 1
    adc edi, ecx
    loop inner
    dec ebp
    jnz outer
    mov eax, esi
    xor eax, edi
    jmp pm_done

.include "pm_out.inc"
