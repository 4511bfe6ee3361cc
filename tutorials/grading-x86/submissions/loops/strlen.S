; forgets to advance the pointer: never ends on a non-empty string
strlen:
    mov ecx, [esp+4]
    xor eax, eax
next:
    cmp byte ptr [ecx], 0
    je done
    jmp next
done:
    ret
