; strlen(const char *s) -> EAX, cdecl
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
    pop ebx
    ret
