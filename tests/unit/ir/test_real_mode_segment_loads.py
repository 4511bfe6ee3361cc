"""Real-mode segment loads in translated code (``X86IRBuilder.load_seg``,
``ConcreteOps.load_seg_real``, ``X86Memory.after_call``): MOV, POP, LES and
LDS of ES/DS are compiled into the block, which goes on with the new base,
exactly as the interpreter computes -- a segment read before the load
(``mov ax, es``) keeps its old value, and accesses after it use the new base
in a hot region that changes the segment it entered with."""

import io

from tests.unit.ir.x86_guests import print_words, run_guest

LOOP = 600          # iterations: the loop's region is hot long before the end

SOURCE = f"""
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word ptr [0x500], 0x40
    mov word ptr [0x502], 0x2000
    mov ax, 0x1000
    mov es, ax
    xor si, si
    xor di, di
    mov cx, {LOOP}
again:
    mov ax, es                  ; read before the load: 0x1000
    cmp ax, 0x1000              ; flags of the old ES, read after the load
    mov ax, 0x2000              ; (the flags are all that read it)
    mov es, ax
    jne wrong
    mov ax, 0x1000
    mov bx, es
    mov es:[0x10], cx           ; 0x2000:0x10
    push es
    mov es, ax
    mov dx, es:[0x10]           ; 0x1000:0x10, never written: 0
    add si, dx
    add di, ax
    pop ds                      ; DS = 0x2000
    add si, [0x10]
    xor bx, bx
    mov ds, bx
    les bx, [0x500]             ; ES:BX = 0x2000:0x40
    add si, es:[bx - 0x30]      ; 0x2000:0x10 again
    lds bx, [0x500]             ; DS = 0x2000
    mov [bx], si
    xor ax, ax
    mov ds, ax
    mov ax, 0x1000
    mov es, ax
    loop again
    mov ax, 0x2000
    mov ds, ax
    mov bp, [0x40]
    xor ax, ax
    mov ds, ax
    mov bx, es
    jmp done
wrong:
    mov si, 0xdead
done:
""" + print_words("si", "di", "bp", "bx")


def test_segment_loads_compute_what_the_interpreter_computes():
    want, _ = run_guest(SOURCE, "interp", 200_000)
    log = io.StringIO()
    got, stats = run_guest(SOURCE, "tcg", 200_000, log=log)
    assert got == want
    # compiled in: the interpreter ran none of the 7 * LOOP loads
    assert stats["helper_calls"] < 20, stats
    assert "load_seg_real" in log.getvalue()
