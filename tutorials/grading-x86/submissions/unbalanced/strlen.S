; pushes EBX and never pops it: RET returns to EBX's value
strlen:
    push ebx
    mov ebx, [esp+8]
    xor eax, eax
next:
    cmp byte ptr [ebx+eax], 0
    je done
    inc eax
    jmp next
done:
    ret
