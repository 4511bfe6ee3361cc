"""Runs of stack accesses tested once: POP, POP, RET read upwards from SP
(SDM Vol. 2B "POP", "RET"), and the translator tests once that the whole
run lies in the segment below its 16-bit wrap (or RAM's end).  After that
test SP needs no wrap correction until the run's last step -- the one that
may reach 0x10000 and wrap to 0 -- and the code makes none; in 32-bit
code, where the test keeps the run below RAM's end, not even RET imm16's
step after it needs a mask.  Runs whose
stack reaches the very top of the segment match the interpreter wherever
a budget stops them."""

import io
import re

import pytest

from emu import loader
from tests.differential.pm32 import guest
from tests.differential.translated import stopped_at, tcg_regions
from tests.unit.ir.test_codegen_calls import assert_matches_interpreter, region_paths, run

#: the end of the real-mode guests: BX out on the serial port, then the
#: debug exit
RM_OUT = """
    mov dx, 0x3f8
    mov ax, bx
    out dx, al
    mov al, ah
    out dx, al
    mov al, 0
    out 0xf4, al
"""


def rm_calls(sp: str, between: str = "") -> str:
    """A loop calling a function that saves SI and DI, with SP = ``sp``
    (``between``: code of the function between its pushes and its pops)."""
    return f"""
    xor ax, ax
    mov ss, ax
    mov sp, {sp}
    mov cx, 400
again:
    call f
    add bx, ax
    dec cx
    jnz again
    {RM_OUT}
f:
    push si
    push di
    mov si, cx
    lea di, [si+3]
    mov ax, si
    xor ax, di
    {between}
    pop di
    pop si
    ret
"""


#: SP 0: the pushes wrap below 0x10000 and the RET's pop ends at 0x10000
#: (SP wraps to 0 on its last step); 0x7000: the common case; 0xFFFE and
#: 0x0002: the run of three pops crosses the wrap (tested, then left to the
#: interpreter)
SPS = ("0", "0x7000", "0xfffe", "0x0002")


@pytest.mark.parametrize("sp", SPS)
def test_a_pop_run_at_every_sp_matches_the_interpreter(sp):
    image = loader.assemble(rm_calls(sp), "<test>", 0x7C00)
    assert_matches_interpreter(image, (None, 1001, 1998, 2003))


def rm_calls_code(sp: str, between: str = "") -> str:
    """The code of the regions of :func:`rm_calls` (at SP = ``sp``, with
    ``between`` between its pushes and pops) on its paths."""
    image = loader.assemble(rm_calls(sp, between), "<test>", 0x7C00)
    log = io.StringIO()
    m, r = run("tcg", image, log=log)
    m.close()
    assert r.reason == "debug-exit"
    return "\n".join(region_paths(log.getvalue()))


def test_sp_steps_of_a_tested_pop_run_need_no_wrap_but_the_last():
    # a store between the pushes and the pops: POP DI is not the value
    # PUSH DI stored (optimize.reuse_loads) but a load, the first of the run
    code = rm_calls_code("0x7000", "mov [0x600], ax")
    runs = re.findall(r"ix\d+ = p\d+ >> 1", code)
    assert runs
    # POP DI, POP SI, RET: three steps of SP, one correction (the last)
    steps = re.findall(r"r4 = (?:r4|t\d+) \+ 2\n(\s*if r4 > 65535: r4 -= 65536\n)?", code + "\n")
    assert len(steps) == 3 * len(runs)
    assert len([s for s in steps if s]) == len(runs)



#: 32-bit: POP, POP, RET 8 (the callee pops its two arguments)
PM_CALLS = guest("""
    mov ecx, 500
again:
    push ecx
    push 7
    call f
    add [0x500], eax
    dec ecx
    jnz again
    hlt
f:
    push ebx
    push esi
    mov ebx, [esp+12]
    mov esi, [esp+16]
    lea eax, [ebx+esi]
    pop esi
    pop ebx
    ret 8
""")


#: a recursion saving ESI: PUSH ESI, DEC ECX, CALL -- DEC's carry (a pure
#: helper call, kept for the flags) between the two stores
PM_FIB = guest("""
    mov ecx, 14
    call fib
    mov [0x500], eax
    hlt
fib:
    cmp ecx, 2
    jb leaf
    push esi
    dec ecx
    call fib
    lea esi, [eax+1]
    dec ecx
    call fib
    add eax, esi
    inc ecx
    inc ecx
    pop esi
    ret
leaf:
    mov eax, ecx
    ret
""")


def run_pm(accel, limit, log=None, src=PM_CALLS):
    return stopped_at(src, accel, 16 << 20, limit, (0x500, 4), log)


@pytest.mark.parametrize("limit", [300, 2001, 100_000])
@pytest.mark.parametrize("src", [PM_CALLS, PM_FIB], ids=["ret_imm16", "push_dec_call"])
def test_a_pop_run_and_ret_imm16_stopped_anywhere_match_the_interpreter(src, limit):
    assert run_pm("tcg", limit, None, src) == run_pm("interp", limit, None, src)


def test_the_sp_of_a_tested_pop_run_needs_no_mask_through_ret_imm16():
    """The run's test puts ESP below RAM's end: ESP + 4 + 8 needs no mask."""
    assert run_pm("interp", 100_000)[0] == "halt"
    code = "\n".join(tcg_regions(run_pm, 100_000))
    assert re.search(r"ix\d+ = \w+ >> 2", code)
    assert not re.search(r"^\s*r4 = .*& 4294967295", code, re.M)


# -- runs of stack stores: PUSH, PUSH (and CALL's push) written downwards,
# tested once against the bounds of the code-free window

#: the runs of PUSHes at SP near 0 (0x0004: the run ends at 0; 0x0002: its
#: second store wraps to 0xFFFE and the run is left to the interpreter), at
#: the edge of an aligned block (0x7002), and with the stack just above the
#: code's last granule (0x7C42: PUSH SI lands above it, PUSH DI in it --
#: the window's edge, a run straddling code)
PUSH_SPS = ("0x0004", "0x0002", "0x7002", "0x7c42", "0x7c44")


@pytest.mark.parametrize("sp", PUSH_SPS)
def test_a_push_run_at_every_sp_matches_the_interpreter(sp):
    image = loader.assemble(rm_calls(sp), "<test>", 0x7C00)
    assert len(image.data) < 0x40           # the code in one granule, the stack above it
    assert_matches_interpreter(image, (None, 1001, 1998, 2003))


def test_a_call_and_the_callees_pushes_test_the_window_once_and_their_sp_steps_need_no_wrap():
    """CALL f, then f's PUSH SI, PUSH DI (another block, inlined after the
    CALL's): one run of three stores -- one test of them all against the
    window's bounds, the pushes at the CALL's word index less one and two,
    and their SP steps, from SP read again in the callee's block, with no
    wrap correction (the test put the CALL's push at least 4 above 0)."""
    code = rm_calls_code("0x7000")
    runs = re.findall(r"\n(\s*)if \(p(\d+) := B2 \+ (t\d+)\) & 1 or \3 < 4 or not WLO \+ 4 <= p\2 <= WHI - 2:"
                      r"\n.*SWA.*\n.*\n.*\n\1(sx\d+) = p\2 >> 1\n\1W2\[\4\] = \d+\n\1r4 = \3\n"
                      r"\1(t\d+) = r4 - 2\n\1W2\[\4 - 1\] = r6\n"
                      r"\1t\d+ = \5 - 2\n\1W2\[\4 - 2\] = r7\n", code)
    assert runs


@pytest.mark.parametrize("limit", [300, 2001, 100_000])
def test_a_push_run_with_calls_stopped_anywhere_matches_the_interpreter(limit):
    # PUSH ECX, PUSH 7, CALL: a run of three 32-bit stores
    assert run_pm("tcg", limit) == run_pm("interp", limit)


def test_a_32_bit_push_run_and_call_test_the_window_once():
    code = "\n".join(tcg_regions(run_pm, 100_000))
    m = re.search(r"if (\w+) & 3 or not WLO \+ 8 <= \1 <= WHI - 4:", code)
    assert m
    ix = re.search(r"(sx\d+) = " + m.group(1) + r" >> 2", code).group(1)
    assert f"W4[{ix} - 1] = 7" in code and f"W4[{ix} - 2] = " in code



def test_a_push_run_across_a_pure_helper_tests_the_window_once():
    """PUSH ESI, DEC ECX, CALL: DEC's carry helper (pure) does not split
    the run -- one test of the window for both stores, the CALL's push at
    the PUSH's word index less one."""
    assert run_pm("interp", 100_000, None, PM_FIB)[0] == "halt"
    code = "\n".join(tcg_regions(lambda accel, limit, log: run_pm(accel, limit, log, PM_FIB), 100_000))
    m = re.search(r"if (\w+) & 3 or not WLO \+ 4 <= \1 <= WHI - 4:", code)
    assert m
    ix = re.search(r"(sx\d+) = " + m.group(1) + r" >> 2", code).group(1)
    assert re.search(rf"W4\[{ix} - 1\] = \d+", code)


def rm_frames(sp: str) -> str:
    """A loop calling, with an argument on the stack, a function whose frame
    (PUSH BP, MOV BP,SP, SUB SP,4, PUSH SI: a run going on from the CALL's
    push) is written through BP too, and one that moves SP away (MOV SP,BX:
    no run on from the CALL) -- SP = ``sp``."""
    return f"""
    xor ax, ax
    mov ss, ax
    mov sp, {sp}
    mov cx, 300
again:
    push cx
    call g
    add bx, ax
    mov dx, sp
    call h
    dec cx
    jnz again
    {RM_OUT}
g:
    push bp
    mov bp, sp
    sub sp, 4
    push si
    mov si, [bp+4]
    mov [bp-2], si
    mov [bp-4], cx
    mov ax, [bp-2]
    add ax, [bp-4]
    pop si
    mov sp, bp
    pop bp
    ret 2
h:
    mov bx, sp
    mov sp, 0x6000
    push ax
    push bx
    pop bx
    pop ax
    mov sp, bx
    mov bx, dx
    ret
"""


#: SP near 0 and at a wrap (as PUSH_SPS), at an aligned block's edge, and
#: odd (every run misaligned: left to the checked way); the guest's code is
#: too long for PUSH_SPS' stack just above it
FRAME_SPS = ("0x0004", "0x0002", "0x7002", "0x7001")


@pytest.mark.parametrize("sp", FRAME_SPS)
def test_runs_from_a_call_into_its_callees_frame_at_every_sp_match_the_interpreter(sp):
    image = loader.assemble(rm_frames(sp), "<test>", 0x7C00)
    assert_matches_interpreter(image, (None, 700, 1501, 2003))


def rm_pop_then_frame_read() -> str:
    """POP, then a read below SP through BP ([bp-4]: ``add bp, 0xfffc``
    masked -- a displacement down, not an offset of 65532 up), then POP,
    POP (in a block of their own: the pushes' values are loaded)."""
    return f"""
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov cx, 500
again:
    push cx
    push bx
    push ax
    jmp pops
pops:
    pop ax
    mov bp, sp
    mov dx, [bp-4]
    pop bx
    pop si
    add bx, dx
    dec cx
    jnz again
    {RM_OUT}
"""


def test_a_read_below_sp_after_a_pop_is_not_part_of_the_pops_run():
    image = loader.assemble(rm_pop_then_frame_read(), "<test>", 0x7C00)
    log = io.StringIO()
    m, r = run("tcg", image, log=log)
    m.close()
    assert r.reason == "debug-exit"
    code = "\n".join(region_paths(log.getvalue()))
    assert re.search(r"ix\d+ = p\d+ >> 1", code)          # POP, POP, POP: a run
    assert not re.search(r"W2\[ix\d+ \+ \d{3,}\]", code)    # [bp-4] is not in it
    assert_matches_interpreter(image, (None, 1001))
