; a typo in a register name
strlen:
    mov ecx, [esp+4]
    xor eax, eax
next:
    cmp byte ptr [ecx+eax], 0
    je done
    inc eaxx
    jmp next
done:
    ret
