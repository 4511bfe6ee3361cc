; measurement guest (32-bit protected mode): SETcc, CMOVcc, CDQ, XCHG,
; ENTER/LEAVE frames, SS: and ES: loads, 8-bit MUL/DIV, LOOP; prints EAX.
.include "flat32.inc"
.set SCALE, 3000
main32:
    xor esi, esi
    xor edi, edi
    mov ebp, SCALE
    mov dword ptr [0x9000], 0x01020304
outer:
    mov ecx, 40
inner:
    push ecx
    call frame_fn
    pop ecx
    mov eax, ecx
    mov bl, 3
    mul bl
    mov bl, 7
    div bl
    movzx edx, ah
    cmp eax, edx
    setb dl
    add esi, edx
    cmovb edi, esi
    mov eax, esi
    cdq
    xor edi, edx
    xchg esi, edi
    xchg edi, esi
    add esi, ss:[0x9000]
    add edi, es:[0x9000]
    neg eax
    sbb esi, 0
    loop inner
    dec ebp
    jnz outer
    mov eax, esi
    xor eax, edi
    jmp pm_done

frame_fn:
    enter 8, 0
    mov eax, [ebp+8]
    mov [ebp-4], eax
    add edi, [ebp-4]
    leave
    ret
.include "pm_out.inc"
