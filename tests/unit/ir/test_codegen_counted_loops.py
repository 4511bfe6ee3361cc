"""A region's self-looping section counted by ``for left in range(...)``.

The budget of a pass along the loop's counted path back is the range's
step, so that path neither charges nor tests it; the loop's ``else:`` is
the budget exit that path would have made.  Another path back around an
outer loop inlined into the section charges and tests the budget and
starts the count again; a loop whose paths back alternate (the two arms of
a JNC) is not counted.  Stopped by the instruction budget
anywhere -- on either path, in the inner or the outer loop -- the run
stops at the interpreter's instruction with the interpreter's state
(flags included: DEC's record is stored only at the exits)."""

import re

import pytest

from emu.ir.codegen import REPEEL
from tests.differential.translated import stopped_at, tcg_regions

GUEST = """
    xor ax, ax
    mov ds, ax
    mov dx, 0x1234
    mov bp, 20
pass:
    mov cx, 300
again:
    add ax, cx                  ; the inner loop: 5 instructions a pass
    xor bx, ax
    inc bx
    dec cx
    jnz again
    mov si, 40
bits:
    shr dx, 1                   ; two paths back: 4 or 5 instructions
    jnc no_xor
    xor dx, 0xa001
no_xor:
    dec si
    jnz bits
    dec bp
    jnz pass
    mov [0x500], ax
    mov [0x502], bx
    mov [0x504], dx
    hlt
"""


def runner(src: str, length: int, hot_threshold=None):
    """run(accel, limit, log=None): ``src`` stopped after ``limit``
    instructions (:func:`stopped_at`), ``length`` bytes at 0x500 dumped."""
    def run(accel, limit, log=None):
        return stopped_at(src, accel, 1 << 20, limit, (0x500, length), log, hot_threshold)
    return run


# (its outer loop runs a few dozen times: at this threshold the nest gets hot
# as a whole after its inner loops did, the sequence test_the_loops_are_counted
# describes)
run = runner(GUEST, 6, hot_threshold=16)


@pytest.mark.parametrize("limit", [1700, 1701, 1702, 1703, 3137, 3139, 4413, 4414, 8002,
                                   30001, 30002, 30003, 30004, 31500, 31502, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)


def test_the_loops_are_counted():
    want = run("interp", 100_000)
    assert want[0] == "halt"
    regions = tcg_regions(run, 100_000)
    # the inner loop on its own, the bit loop on its own, then the nest: the
    # inner loop is counted, alone and in the nest (the outer loop's path
    # back restarts the count once a trip); the bit loop's two paths back
    # end with the same jump, each would restart the other's count: not
    # counted
    inner, bits, nest = regions[0], regions[1], regions[-1]
    assert "for left in range(left, 4, -5):" in inner
    assert "for left in range(left, " not in bits
    assert "for left in range(left, " in nest
    assert run("tcg", 100_000) == want


NEST = """
    xor ax, ax
    xor bx, bx
    mov bp, 40
pass:
    mov cx, 50
again:
    add ax, cx
    xor bx, ax
    dec cx
    jnz again
    dec bp                      ; the outer loop's path back: 4 instructions on
    jnz pass
    mov [0x500], ax
    mov [0x502], bx
    hlt
"""


run_nest = runner(NEST, 4)


@pytest.mark.parametrize("limit", [3000, 3001, 3002, 3003, 3004, 5000, 5001, 5002, 5003, 5004,
                                   5005, 5006, 5007, 5008, 100_000])
def test_around_the_outer_loop_the_count_restarts_and_stops_where_the_interpreter_does(limit):
    assert run_nest("tcg", limit) == run_nest("interp", limit)


def test_the_outer_loops_path_back_restarts_the_count():
    code = tcg_regions(run_nest, 100_000)[-1]
    m = re.search(r"while True:\n +for left in range\(left, \d+, -4\):\n(.*?)\n +else:", code, re.S)
    assert m, code
    d = re.search(r"if e >= 0 or pc != (\d+): break", code).group(1)
    # (pc = REPEEL: the loop peeled again, from the stored state)
    assert re.search(rf"pc = ({d}|{REPEEL}); break", m.group(1))


# a loop whose path goes out to another section (the inner loop, a section
# of its own) before its jump back, and comes back from there: every trip
# would restart the count (gcc's gcd loop: the first division inlined, the
# Euclid loop a section) -- not counted; the inner loop is
EXCURSION = """
    xor si, si
    xor bx, bx
    mov bp, 300
outer:
    add si, 0x3a7
    mov ax, si
    and ax, 7
    jz skip                     ; not taken: out to the inner loop's section
inner:
    add bx, ax
    dec ax
    jnz inner
skip:
    dec bp
    jnz outer
    mov [0x500], bx
    mov [0x502], si
    hlt
"""


run_excursion = runner(EXCURSION, 4)


@pytest.mark.parametrize("limit", [500, 501, 502, 503, 504, 505, 1500, 1501, 1502, 1503, 100_000])
def test_a_loop_with_an_excursion_stops_where_the_interpreter_does(limit):
    assert run_excursion("tcg", limit) == run_excursion("interp", limit)


def test_a_loop_that_leaves_for_another_section_on_its_way_back_is_not_counted():
    assert run_excursion("interp", 100_000)[0] == "halt"
    code = tcg_regions(run_excursion, 100_000)[-1]
    assert "for left in range(left, " in code and ", -3):" in code     # the inner loop
    assert not re.search(r"for left in range\(left, \d+, -(?!3\))\d+\):", code), code


# several paths back of the same length, each closing the loop with its own
# jump -- the odd arm falls through into the loop's top after its exit test,
# the even arm jumps back (gcc's shape of a Collatz loop): counted by one
# range, the else: one budget exit for both (their flag record is the same
# CMP's); the outer loop's path back (the odd arm's JE taken, or the even
# arm's JNE not taken) restarts the count once a trip
ARMS = """
    xor ax, ax
    mov ds, ax
    mov si, 1
    xor di, di
    xor bp, bp
next_n:
    mov ax, si
    xor dx, dx
    jmp top
odd:
    mov bx, ax                  ; 3x + 1: eight instructions and the fall-through
    add ax, ax
    add ax, bx
    inc ax
    inc dx
    xor bp, ax
    cmp ax, 1
    je done_n
top:
    test al, 1
    jnz odd
    mov bx, ax                  ; x / 2: eight instructions, the last a JNE back
    shr ax, 1
    inc dx
    xor bp, ax
    add bx, bp
    xor cx, bx
    cmp ax, 1
    jne top
done_n:
    add di, dx
    inc si
    cmp si, 120
    jb next_n
    mov [0x500], di
    mov [0x502], bp
    mov [0x504], cx
    hlt
"""


run_arms = runner(ARMS, 6)


@pytest.mark.parametrize("limit", [2000, 2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009,
                                   2010, 2011, 7777, 7778, 7779, 7780, 7781, 7782, 7783, 7784,
                                   7785, 7786, 7787, 7788, 25000, 25001, 25002, 100_000])
def test_paths_back_of_one_length_stop_where_the_interpreter_does(limit):
    assert run_arms("tcg", limit) == run_arms("interp", limit)


def whole_run_region(run) -> str:
    """The last region translated in a whole run of ``run``'s guest (which
    halts, in the interpreter's state)."""
    want = run("interp", 100_000)
    assert want[0] == "halt"
    assert run("tcg", 100_000) == want
    return tcg_regions(run, 100_000)[-1]


def test_paths_back_of_one_length_are_counted_by_one_range():
    code = whole_run_region(run_arms)
    m = re.search(r"for left in range\(left, \d+, -10\):\n(.*?)\n( +)else:\n\2    left -= 10\n"
                  r"\2    e = (\d+); break", code, re.S)
    assert m, code
    body = m.group(1)
    # the two arms' jumps back continue the range; the outer loop's two paths
    # back (through either arm) charge their 17 instructions and restart it
    assert body.count("continue") == 2, body
    assert body.count("left -= 17") == 2 and body.count("left -= ") == 2, body


# a while loop: its test at the top, closed by an unconditional JMP back to
# it; an outer loop around it (its path back leaves through the test's JE
# taken, and restarts the count once a trip)
WHILE = """
    xor ax, ax
    mov ds, ax
    xor bx, bx
    mov bp, 30
outer:
    mov cx, 97
top:
    test cx, cx
    je out
    add bx, cx
    xor ax, bx
    dec cx
    jmp top
out:
    dec bp
    jnz outer
    mov [0x500], ax
    mov [0x502], bx
    hlt
"""


run_while = runner(WHILE, 4)


@pytest.mark.parametrize("limit", [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 5000,
                                   5001, 5002, 5003, 5004, 5005, 100_000])
def test_a_while_loop_stops_where_the_interpreter_does(limit):
    assert run_while("tcg", limit) == run_while("interp", limit)


def test_a_while_loop_closed_by_a_jmp_is_counted():
    code = whole_run_region(run_while)
    assert re.search(r"for left in range\(left, \d+, -6\):", code), code
