; chain.S -- lab 8, exercise 1 (the answer key): one message in two buffers.
;
; Chain k = avail_idx % 64 uses descriptors 2k and 2k+1 (32 bytes at
; es:32k): 64 chains of two fill the 128-entry table.

post2:
    push bp
    mov bp, sp
    push bx
    push si
    mov bx, [avail_idx]
    and bx, 63
    shl bx, 5                   ; es:bx = descriptor 2k
    mov ax, [bp + 4]
    mov es:[bx], ax             ; desc[2k].addr = first
    mov word ptr es:[bx + 2], 0
    mov word ptr es:[bx + 4], 0
    mov word ptr es:[bx + 6], 0
    mov ax, [bp + 6]
    mov es:[bx + 8], ax         ; .len = first_len
    mov word ptr es:[bx + 10], 0
    mov word ptr es:[bx + 12], 1 ; .flags = NEXT
    mov si, bx
    shr si, 4                   ; si = 2k
    inc si
    mov es:[bx + 14], si        ; .next = 2k + 1
    mov ax, [bp + 8]
    mov es:[bx + 16], ax        ; desc[2k+1].addr = second
    mov word ptr es:[bx + 18], 0
    mov word ptr es:[bx + 20], 0
    mov word ptr es:[bx + 22], 0
    mov ax, [bp + 10]
    mov es:[bx + 24], ax        ; .len = second_len
    mov word ptr es:[bx + 26], 0
    mov word ptr es:[bx + 28], 0 ; .flags: the end of the chain
    mov word ptr es:[bx + 30], 0
    dec si                      ; the head: 2k
    mov bx, [avail_idx]
    and bx, 127
    shl bx, 1
    mov es:[bx + 0x804], si     ; avail.ring[avail_idx % 128] = head
    mov ax, [avail_idx]
    inc ax
    mov [avail_idx], ax
    mov es:[0x802], ax          ; avail.idx, after the ring entry
    mov dx, 0xc010
    mov ax, 1
    out dx, ax                  ; QueueNotify: transmitq
    pop si
    pop bx
    pop bp
    ret
