; chain.S -- lab 8, exercise 1 (the answer key): one message in two buffers.
;
; Chain k = avail_idx % 64 uses descriptors 2k and 2k+1 (32 bytes at
; es:32k): 64 chains of two fill the 128-entry table.

post2:
    push bp
    mov bp, sp
    push bx
    push si
    mov ax, [avail_idx]
    and ax, 63                  ; k = avail_idx mod 64
    shl ax, 1
    mov si, ax                  ; the chain's head: 2k
    mov bx, ax
    shl bx, 4                   ; es:bx = descriptor 2k
    mov ax, [bp + 4]
    mov cx, [bp + 6]
    mov dx, si
    inc dx
    mov dh, dl                  ; next = 2k + 1
    mov dl, 1                   ; flags = NEXT
    call describe
    mov ax, [bp + 8]
    mov cx, [bp + 10]
    xor dx, dx                  ; flags = 0: the end of the chain
    call describe
    mov bx, [avail_idx]
    and bx, 127
    shl bx, 1
    mov es:[bx + 0x804], si     ; avail.ring[avail_idx % 128] = the head
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

; describe: descriptor at es:bx = {addr AX, len CX, flags DL, next DH};
; BX moves on to the next descriptor
describe:
    mov es:[bx], ax
    xor ax, ax
    mov es:[bx + 2], ax         ; the address's upper 48 bits
    mov es:[bx + 4], ax
    mov es:[bx + 6], ax
    mov es:[bx + 8], cx
    mov es:[bx + 10], ax
    mov al, dl
    mov es:[bx + 12], ax
    mov al, dh
    mov es:[bx + 14], ax
    add bx, 16
    ret
