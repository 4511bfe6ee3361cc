; divides by the length: a divide error on the empty string
strlen:
    mov ecx, [esp+4]
    xor eax, eax
next:
    cmp byte ptr [ecx+eax], 0
    je done
    inc eax
    jmp next
done:
    mov ecx, eax
    mov eax, 100
    xor edx, edx
    div ecx
    mov eax, ecx
    ret
