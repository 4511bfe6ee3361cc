"""Stack frames in translated code: ENTER (every nesting level a constant
of the instruction, SDM Vol. 2A "ENTER"), LEAVE, PUSHA/POPA and RET imm16
are inlined in a region like PUSH and POP -- a frame costs no trip through
the interpreter -- and leave what the interpreter leaves, register for
register and byte for byte, wherever a budget stops them."""

import io
import re

import pytest

from emu import loader
from tests.unit.ir.test_codegen_calls import assert_matches_interpreter, run

#: f(n): a frame with ENTER 4, 0 (or a nested one, ENTER 2, 2), locals
#: through BP, PUSHA/POPA around a callee that clobbers every register,
#: LEAVE and RET 2 (the callee pops its argument)
RM = """
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov bp, 0x6ff0
    xor di, di
    mov bx, 300
again:
    push bx
    call f
    add di, ax
    push bx
    call g
    add di, ax
    dec bx
    jnz again
    mov dx, 0x3f8
    mov ax, di
    out dx, al
    mov al, ah
    out dx, al
    mov al, 0
    out 0xf4, al
f:
    enter 4, 0
    mov ax, [bp+4]
    mov [bp-2], ax
    pusha
    call clobber
    popa
    mov ax, [bp-2]
    add ax, ax
    leave
    ret 2
g:
    enter 2, 2
    mov ax, [bp+4]
    xor ax, [bp-2]
    add ax, [bp-4]
    leave
    ret 2
clobber:
    mov ax, 1
    mov cx, 2
    mov dx, 3
    mov bx, 4
    mov bp, 5
    mov si, 6
    mov di, 7
    ret
"""

#: the same in 32-bit protected mode: ENTER 8, 0 and ENTER 4, 3, PUSHAD/POPAD
PM = """
.include "flat32.inc"
main32:
    lea ebp, [esp-64]
    xor edi, edi
    mov ebx, 300
again:
    push ebx
    call f
    add edi, eax
    push ebx
    call g
    add edi, eax
    dec ebx
    jnz again
    mov eax, edi
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
    mov al, 0
    out 0xf4, al
f:
    enter 8, 0
    mov eax, [ebp+8]
    mov [ebp-4], eax
    pushad
    call clobber
    popad
    mov eax, [ebp-4]
    add eax, eax
    leave
    ret 4
g:
    enter 4, 3
    mov eax, [ebp+8]
    xor eax, [ebp-4]
    add eax, [ebp-8]
    leave
    ret 4
clobber:
    mov eax, 1
    mov ecx, 2
    mov edx, 3
    mov ebx, 4
    mov ebp, 5
    mov esi, 6
    mov edi, 7
    ret
"""

GUESTS = {"rm": RM, "pm": PM}


def image(guest):
    return loader.assemble(GUESTS[guest], "<test>", 0x7C00)


@pytest.mark.parametrize("guest", GUESTS)
def test_frames_are_translated_not_helpers(guest):
    m, r = run("tcg", image(guest))
    try:
        assert r.reason == "debug-exit"
        stats = m.accel.stats()
        assert stats["helper_calls"] == 0
        # the loop runs in the region: the interpreter only for start-up
        # (its first HOT_THRESHOLD passes)
        assert stats["interp_insns"] < r.icount // 5
    finally:
        m.close()


@pytest.mark.parametrize("guest", GUESTS)
def test_frames_match_the_interpreter_at_every_kind_of_stop(guest):
    assert_matches_interpreter(image(guest), (None, 1000, 1501, 2002, 3337, 4441))


# -- runs of stack loads: POP, POP ... RET test their bounds once ---------------------------

#: POP DI, POP SI, POP BX, RET after a call: a run of four loads; SP at the
#: top of the segment (``mov sp, 0``), a run across the wrap (``mov sp,
#: 4``: its test fails, the interpreter makes those loads) and an odd SP;
#: a store between the PUSHes and the POPs keeps the POPs loads (with none,
#: each POP would read back the value its PUSH stored in the same block)
RUN = """
    xor ax, ax
    mov ss, ax
    mov sp, {sp}
    xor si, si
    mov cx, 500
again:
    call f
    add si, ax
    loop again
    mov dx, 0x3f8
    mov ax, si
    out dx, al
    mov al, ah
    out dx, al
    mov al, 0
    out 0xf4, al
f:
    push bx
    push si
    push di
    mov bx, cx
    mov si, 3
    mov di, 5
    lea ax, [bx+si]
    add ax, di
    mov [0x600], ax
    pop di
    pop si
    pop bx
    ret
"""

RUNS = {"low": "0x7000", "top": "0", "wrap": "4", "odd": "0x7001"}


def run_image(sp):
    return loader.assemble(RUN.format(sp=RUNS[sp]), "<test>", 0x7C00)


def test_a_run_of_stack_loads_is_tested_once():
    log = io.StringIO()
    m, r = run("tcg", run_image("low"), log=log)
    m.close()
    assert r.reason == "debug-exit"
    code = log.getvalue()
    # the four loads read at offsets from one word index, tested once
    tests = [ln for ln in code.splitlines() if "> 65528" in ln]
    assert tests and all(" & 1 or " in ln for ln in tests)
    for k in (1, 2, 3):
        assert re.search(rf"= W2\[ix\d+ \+ {k}\]", code)


@pytest.mark.parametrize("sp", RUNS)
def test_runs_of_stack_loads_match_the_interpreter(sp):
    assert_matches_interpreter(run_image(sp), (None, 1000, 1501, 2002, 3337, 4441))


#: 32-bit: three POPs from ESP = ``top`` (16 MiB of RAM): at 0xFFFFF0 the
#: run ends in RAM; at 0xFFFFF8 it would read past the end of RAM (its test
#: fails and the interpreter makes those loads, reading what is there)
PM_RUN = """
.include "flat32.inc"
main32:
    xor edi, edi
    mov ebp, 400
again:
    mov esi, esp
    mov esp, {top}
    pop eax
    pop ebx
    pop ecx
    mov esp, esi
    add edi, eax
    add edi, ebx
    add edi, ecx
    dec ebp
    jnz again
    mov eax, edi
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
    mov al, 0
    out 0xf4, al
"""


@pytest.mark.parametrize("top", ["0xFFFFF0", "0xFFFFF8"])
def test_a_32_bit_run_of_stack_loads_at_the_end_of_ram_matches_the_interpreter(top):
    image = loader.assemble(PM_RUN.format(top=top), "<test>", 0x7C00)
    assert_matches_interpreter(image, (None, 1000, 1501, 2002))
