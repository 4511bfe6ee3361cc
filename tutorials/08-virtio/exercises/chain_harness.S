; chain_harness.S -- the instructor's side of lab 8, exercise 1.
;
; Sets the device up (virtio.inc, assembled after the submission), then
; moves the ring on by 191 empty buffers (descriptor 0: length 0), which
; the device uses at once, and halts; each test then calls the student's
; post2 (16-bit cdecl) with the prefix "[virtio] " and the line "hello\n".
; Index 191 is slot 63 of the available ring (191 mod 128), and chain 63
; (191 mod 64): descriptors 126 and 127, the last two of the table.

start:
    cli
    call virtio_setup
    mov cx, 191
skip:
    mov bx, [avail_idx]
    and bx, 127
    shl bx, 1
    mov word ptr es:[bx + AVAIL + 4], 0     ; avail.ring[slot] = descriptor 0
    inc word ptr [avail_idx]
    mov ax, [avail_idx]
    mov es:[AVAIL + 2], ax
    call kick                   ; at most 128 may be pending: one at a time
    loop skip
    hlt

prefix: db "[virtio] "
hello:  db "hello", 10
