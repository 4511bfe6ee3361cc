"""Short REPE/REPNE SCASB and CMPSB runs stepping up, as strlen and memcmp
loops run them (``string_fast._compare_bytes_up``: one slice and one search
per run): rCX, rSI, rDI, AX and the flags after each, and the sums the loop
keeps, are the interpreter's -- a string ending at once, inside the first
window, at its last byte, past it (a run longer than the window), with the
count running out first, and a run reaching the segment's limit (the element
there is the interpreter's); also with budgets ending inside the runs."""

import pytest

from tests.differential.translated import stopped_at

GUEST = """
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ax, 0x2000
    mov ds, ax
    mov es, ax
    cld
    xor di, di                  ; 48 strings of 0..94 bytes of 0x61 + k, in 128-byte slots
    xor bx, bx
fill:
    mov cx, bx
    shl cx, 1
    mov al, bl
    add al, 0x61
    rep stosb
    xor al, al
    stosb
    inc bx
    mov di, bx
    shl di, 7
    cmp bx, 48
    jb fill
    mov byte ptr [0xfffe], 0x61 ; a string running into the segment's limit
    mov byte ptr [0xffff], 0x62
    xor bp, bp
    xor dx, dx
    xor bx, bx
scan:
    mov di, bx
    shl di, 7
    mov cx, 0xffff              ; strlen
    xor al, al
    repne scasb
    add bp, cx
    mov di, bx
    shl di, 7
    mov cx, bx                  ; REPE SCASB: the run of its letter, or the count
    and cx, 31
    mov al, bl
    add al, 0x61
    repe scasb
    pushf
    pop ax
    add dx, ax
    add dx, cx
    mov si, bx                  ; memcmp of this string and the next, 3 * k bytes
    shl si, 7
    lea di, [si + 128]
    mov cx, bx
    add cx, bx
    add cx, bx
    repe cmpsb
    adc dx, cx
    add dx, si
    mov si, bx                  ; REPNE CMPSB: the first equal pair
    shl si, 7
    lea di, [si + 256]
    mov cx, 70
    repne cmpsb
    adc bp, cx
    add bp, di
    inc bx
    cmp bx, 46
    jb scan
    mov di, 0xfffe              ; to the limit: the run leaves the block there
    mov cx, 8
    mov al, 0x61
    repe scasb
    mov [0x7000], bp
    mov [0x7002], dx
    hlt
"""


@pytest.mark.parametrize("limit", [3000, 7000, 7001, 7013, 7100, 7400, 8200, 100_000])
def test_short_compares_leave_what_the_interpreters_leave(limit):
    want = stopped_at(GUEST, "interp", 1 << 20, limit, (0x27000, 4))
    assert stopped_at(GUEST, "tcg", 1 << 20, limit, (0x27000, 4)) == want


def test_they_run_to_the_end():
    r = stopped_at(GUEST, "interp", 1 << 20, 100_000, (0x27000, 4))
    assert r[0] == "halt"
