; uses EBX without saving it
strlen:
    mov ebx, [esp+4]
    xor eax, eax
next:
    cmp byte ptr [ebx+eax], 0
    je done
    inc eax
    jmp next
done:
    ret
