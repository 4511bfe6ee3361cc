"""Stores through a 64 KiB segment that holds no translated code.

A region whose real-mode segment held no translated code when it was
translated checks that again at its entry (code is translated between runs
of a region, never during one) and its stores into that segment skip the
per-store check for code.  When code appears there later -- the guest runs
what it wrote -- the check fails at the next entry, the region is translated
again with the per-store checks, and a store into that code reaches the
interpreter, which drops the stale translation (SDM Vol. 3A §11.6): each
pass runs the routine it has just written, as on the interpreter."""

import re

from tests.differential.translated import machine, tcg_regions

GUEST = """
    cld
    xor ax, ax
    mov ds, ax
    mov ax, 0x1000
    mov es, ax
    mov word ptr [0x5040], 0x11b0   ; the routine: mov al, 0x11
    mov byte ptr [0x5042], 0xcb     ; retf
    mov dx, 24                  ; passes: the routine gets hot, translated
again:
    mov si, 0x5000
    xor di, di
    mov cx, 80
fill:                           ; ES:0x40 = the routine (and what follows it)
    lodsb
    add al, 0
    stosb
    loop fill
    inc byte ptr [0x5041]       ; the next pass writes another immediate
    call far 0x1000:0x0040      ; runs what this pass wrote, four times:
    call far 0x1000:0x0040      ; it is translated long before the code
    call far 0x1000:0x0040      ; after the loop is
    call far 0x1000:0x0040
    mov bx, dx
    mov [0x600 + bx], al
    dec dx
    jnz again
    hlt
"""


def run(accel, log=None):
    with machine(GUEST, accel, 1 << 20, log) as m:
        r = m.run(icount_limit=100_000)
        return (r.reason, tuple(m.cpu.regs[:8]), m.ram.read_bytes(0x600, 32)), m.accel.stats()


def test_code_written_then_run_each_pass_is_the_interpreters():
    want, _ = run("interp")
    assert want[0] == "halt" and want[2][1:25] == bytes(range(0x11 + 23, 0x10, -1))
    got, stats = run("tcg")
    assert got == want
    assert stats["guard_fails"] >= 1


def test_stores_into_a_code_free_segment_skip_the_code_check():
    regions = tcg_regions(run)
    first = regions[0]
    assert "CP.find(" in first.split("return 0")[0]         # the guard
    assert re.search(r"MM\[B0 \+ r7\] = ", first) and "CP[" not in first
