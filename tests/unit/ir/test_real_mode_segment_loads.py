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


# A loop that reloads ES on each pass and walks ES:DI in an inner loop; on
# some passes ES names the segment that holds the code itself, and the store
# there rewrites the immediate of an instruction of the loop (``patch``), so
# the segment a region keeps on its fast path must still check its stores
# for code after a reload.
RELOADED = """
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    xor si, si
    mov bp, 40
outer:
    mov ax, 0x3000
    test bp, 7
    jnz far_seg
    xor ax, ax                  ; every eighth pass: ES = 0, the code's segment
far_seg:
    mov es, ax
    mov di, 0x600
    mov cx, 50
inner:
    add si, es:[di]
    mov es:[di], si
    add di, 2
    loop inner
    test bp, 7
    jnz next
    mov byte ptr es:[patch + 2], 3   ; ES = 0 here: rewrite the ADD's immediate
next:
patch:
    add si, 1
    dec bp
    jnz outer
    mov bx, es
""" + print_words("si", "bx")


def test_a_reloaded_segment_stays_fast_and_checks_its_stores_for_code():
    want, _ = run_guest(RELOADED, "interp", 400_000)
    log = io.StringIO()
    got, stats = run_guest(RELOADED, "tcg", 400_000, log=log)
    assert got == want
    assert stats["invalidations"] >= 1              # the patch dropped the code
    code = log.getvalue()
    # the reload tests its new base (MemoryAccess.before_call) instead of
    # every access through ES testing the segment's limit
    assert "<< 4" in code and "nb" in code, code[-3000:]


# DS reloaded, in a hot loop, with a segment whose 64 KiB reach past the end
# of a 1 MiB RAM (FFFF:xxxx): the region leaves before the load and the
# interpreter goes on, the accesses reaching unassigned memory as it says.
PAST_RAM = """
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    xor si, si
    mov cx, 300
again:
    mov ax, 0x0100
    test cx, 63
    jnz near_seg
    mov ax, 0xffff
near_seg:
    mov ds, ax
    add si, [0x20]
    mov [0x10], si
    loop again
    xor ax, ax
    mov ds, ax
""" + print_words("si")


def test_a_reload_past_the_end_of_ram_leaves_the_region():
    from emu import loader
    from emu.machine import Machine
    outs = []
    for accel in ("interp", "tcg"):
        m = Machine(accel=accel, memory=1 << 20)
        try:
            m.load_image(loader.assemble(PAST_RAM, "<test>", 0x7C00).data)
            r = m.run(icount_limit=100_000)
            assert (r.reason, r.status) == ("debug-exit", 1), r.message
            outs.append((m.serial_output(), dict(m.stats.by_reason)))
        finally:
            m.close()
    assert outs[0] == outs[1]
    assert outs[0][1].get("MMIO", 0) > 0
