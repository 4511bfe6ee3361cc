; chain.S -- lab 8, exercise 1: one message in two buffers, a descriptor chain.
;
; post2(first, first_len, second, second_len): 16-bit cdecl (arguments at
; [bp+4], [bp+6], [bp+8], [bp+10] after push bp / mov bp, sp; preserve BX,
; SI, DI and BP).  first and second are offsets in segment 0 (DS = 0), so
; also their physical addresses.  On entry ES = 0x1000, the queue's
; segment (the layout is at the top of exercises/virtio.inc).
;
; Describe the two buffers in two descriptors, the first with flag NEXT
; (1) and `next` naming the second; put the first's index (the chain's
; head) in the available ring at avail_idx % 128; increment avail_idx (the
; driver's copy, a word at the label avail_idx) and store it in avail.idx;
; then notify the device (queue 1 to QueueNotify, port 0xC010).  Chains
; must not overlap while in use: chain k may use descriptors 2k and 2k+1.

post2:
    ret
