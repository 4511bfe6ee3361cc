"""Indirect jumps in a region: a call through a register, RET to a caller
the region did not inline, a jump through a table.

An indirect jump whose target is a section of the region (a dispatch point,
or an entry the dispatcher may use) continues there inside the region
function instead of returning to the dispatcher; the target's budget is
looked up with it.  Every run is compared with the interpreter at budgets
that stop it at every kind of place."""

import pytest

from emu import bench
from emu.asm import assemble_file
from emu.machine import Machine
from tests.unit.ir.test_codegen_calls import assert_matches_interpreter

# fib(n) with the callee's address in EDI (CALL EDI) and a jump table for
# its two cases (JMP [table + EAX*4])
PM_CALL_REG = """
.include "flat32.inc"
main32:
    mov edi, fib
    mov ecx, {n}
    call edi
    jmp pm_done
fib:
    xor eax, eax
    cmp ecx, 2
    setae al
    jmp [cases + eax*4]
leaf:
    mov eax, ecx
    ret
recurse:
    push esi
    dec ecx
    call edi
    mov esi, eax
    dec ecx
    call edi
    add eax, esi
    add ecx, 2
    pop esi
    ret
.align 4
cases:
    .long leaf, recurse
.include "pm_out.inc"
"""

# the same in real mode, the argument on the stack of a BP frame, RET 2
RM_CALL_REG = """
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov di, fib
    push {n}
    call di
    mov dx, 0x3f8
    out dx, al
    mov al, bh
    out dx, al
    mov al, 0
    out 0xf4, al
fib:
    push bp
    mov bp, sp
    push ax
    mov ax, [bp+4]
    cmp ax, 2
    jl small
    dec ax
    push ax
    call fib
    push bx
    dec ax
    push ax
    call di
    pop ax
    add bx, ax
    pop ax
    mov sp, bp
    pop bp
    ret 2
small:
    mov bx, ax
    pop ax
    pop bp
    ret 2
"""

GUESTS = {"pm": lambda n: assemble_file(PM_CALL_REG.format(n=n), bench.guest_path("pm_fib")),
          "rm": lambda n: assemble_file(RM_CALL_REG.format(n=n), bench.guest_path("rm_fib"))}


def run(accel, image, limit=None):
    m = Machine(accel=accel)
    m.load_image(image.data, image.name, image.entry)
    return m, m.run(icount_limit=limit)


@pytest.mark.parametrize("guest", GUESTS)
def test_calls_through_a_register_stay_in_the_region(guest):
    """fib(14): 1219 calls through a register (and, in protected mode, as
    many jumps through a table), all to sections of one region: the
    dispatcher runs it a few times, not once per call."""
    m, r = run("tcg", GUESTS[guest](14))
    try:
        assert r.reason == "debug-exit"
        st = m.accel.stats()
        assert st["regions_translated"] >= 1
        assert st["blocks_executed"] < 100, st
    finally:
        m.close()


@pytest.mark.parametrize("guest", GUESTS)
def test_indirect_jumps_match_the_interpreter_at_every_kind_of_stop(guest):
    image = GUESTS[guest](11)
    m, r = run("interp", image)
    m.close()
    assert r.reason == "debug-exit"
    assert_matches_interpreter(image, (None, 997, 1498, 2001, 2999, 3335))
