"""emu grade on 16-bit programs without a harness: tests started at the
entry (UART output, exit codes), cdecl calls in real mode, setup and
checks of registers and memory, instruction rules, time-outs and faults."""

import os
import textwrap

import pytest


PROGRAM = """\
; prints what it reads from COM1 (up to a NUL) after "got: ", exits with 3
start:
    mov dx, 0x3f8
    mov si, prefix
print:
    lodsb
    test al, al
    jz echo
    out dx, al
    jmp print
echo:
    mov dx, 0x3fd
wait:
    in al, dx
    test al, 1
    jz wait
    mov dx, 0x3f8
    in al, dx
    test al, al
    jz done
    out dx, al
    jmp echo
done:
    mov al, 0x0a
    out dx, al
    mov al, [code]
    out 0xf4, al
    hlt
twice:
    push bp
    mov bp, sp
    mov ax, [bp+4]
    add ax, ax
    mov [result], ax
    pop bp
    ret
divide:
    mov ax, 100
    xor dx, dx
    div word ptr [bp+4]
    ret
spin:
    inc ax
    jmp spin
patch:
    mov byte ptr [twice], 0x90
    ret
prefix: .asciz "got: "
code:   db 3
result: dw 0
"""

SPEC = """\
[assignment]
name = "features"
arch = "x86"
bits = 16

[build]
source = "*.S"
provides = ["result", "code", "twice"]

[limits]
instructions = 5000

[[test]]
name = "echo"
points = 1
setup.uart_input = "abc\\u0000"
expect.output = "got: abc   \\n\\n"
expect.normalise = "trailing-whitespace"
expect.exit_code = 3

[[test]]
name = "echo regex"
points = 1
setup.uart_input = "xyz\\u0000"
expect.output_regex = "^got: x.z$"
expect.normalise = "trailing-whitespace"

[[test]]
name = "exit code from memory"
points = 1
setup.uart_input = "\\u0000"
setup.memory = [{ at = "code", bytes = [7] }]
expect.exit_code = 7

[[test]]
name = "twice"
points = 2
call = "twice"
args = [21]
setup.registers = { bx = 0x1234 }
expect.return = 42
expect.registers = { bx = 0x1234 }
expect.memory = [{ at = "result", words = [42], size = 2 }]
expect.allow = ["push", "mov", "add", "pop", "ret"]
expect.max_instructions = 7
"""


@pytest.fixture
def _grade(assignment):
    def run(spec_extra="", source=PROGRAM, accel="interp"):
        return assignment(SPEC + textwrap.dedent(spec_extra), {"prog.S": source}, accel=accel)
    return run


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_entry_and_call_tests_pass(_grade, accel):
    r = _grade(accel=accel)
    assert [(t.name, t.outcome) for t in r.tests] == [
        ("echo", "pass"), ("echo regex", "pass"), ("exit code from memory", "pass"),
        ("twice", "pass")]
    assert r.score == 5


def test_output_diff_and_exit_code(_grade):
    r = _grade(source=PROGRAM.replace('"got: "', '"Got: "').replace("db 3", "db 4"))
    echo = r.tests[0]
    assert echo.outcome == "fail"
    assert "exit code: expected 3, got 4" in echo.output
    assert "-got: abc\n+Got: abc" in echo.output
    assert "does not match '^got: x.z$' (a regular expression)" in r.tests[1].output


def test_instruction_rules(_grade):
    r = _grade(source=PROGRAM.replace("add ax, ax", "shl ax, 1"))
    twice = r.tests[3].output
    assert r.tests[3].outcome == "fail"
    assert twice.startswith("uses SHL at 0x")
    assert "prog.S:" in twice and "shl ax, 1" in twice


def test_too_many_instructions(_grade):
    r = _grade(source=PROGRAM.replace("add ax, ax", "add ax, 0\n    add ax, [bp+4]\n    add ax, [bp+4]"))
    assert "ran 9 instructions; expected at most 7" in r.tests[3].output


EXTRA = """
[[test]]
name = "{name}"
points = 1
call = "{call}"
args = [0]
expect.no_code_writes = true
"""


@pytest.mark.parametrize("call, outcome, message", [
    ("divide", "fault", "#DE divide error at 0x"),
    ("spin", "timeout", "time-out: instruction limit reached (5000 instructions), still running at"),
    ("patch", "fail", "the program wrote to its own code (first at 0x"),
])
def test_outcomes_in_real_mode(_grade, call, outcome, message):
    r = _grade(EXTRA.format(name=call, call=call))
    t = r.tests[-1]
    assert (t.outcome, t.score) == (outcome, 0)
    assert message in t.output
    assert r.score == 5                                  # the others still pass


def test_software_interrupt_without_a_bios_is_a_fault(_grade):
    source = PROGRAM.replace("spin:\n", "spin:\n    int 0x21\n")
    t = _grade(EXTRA.format(name="int", call="spin"), source).tests[-1]
    assert t.outcome == "fault" and "(int 0x21)" in t.output


BINARY_SPEC = """\
[assignment]
name = "flat"
arch = "x86"
bits = 16

[build]
binary = "*.bin"

[[test]]
name = "exits with 5"
points = 1
expect.exit_code = 5
expect.output = "K"
"""


def test_prebuilt_flat_binary(assignment):
    # mov dx, 0x3f8; mov al, 'K'; out dx, al; mov al, 5; out 0xf4, al; hlt
    code = bytes.fromhex("baf803" "b04b" "ee" "b005" "e6f4" "f4")
    assert [t.outcome for t in assignment(BINARY_SPEC, {"prog.bin": code}).tests] == ["pass"]
    r = assignment(BINARY_SPEC, {"prog.bin": b"\x90" * (1 << 20)})
    assert r.build_error == "prog.bin: 1048576 bytes; expected an image of at most 1016832 bytes"


EXITS = """
[[test]]
name = "exits"
points = 1
setup.uart_input = "abc\\u0000"
expect.exits = {{ IO = {io}, HLT = 0 }}
expect.max_exits = {most}
"""


@pytest.mark.parametrize("io, most, failures", [
    # 'got: ' (5 OUT), per character LSR + data + echo (3 x 3), the NUL (LSR +
    # data), the newline and the exit (2 OUT): 18 port exits, counted by hand
    (18, 18, []),
    (17, 18, ["IO exits: expected 17, got 18"]),
    (18, 17, ["18 VM exits; expected at most 17"]),
])
def test_exit_counts(_grade, io, most, failures):
    t = _grade(EXITS.format(io=io, most=most)).tests[-1]
    assert t.outcome == ("fail" if failures else "pass"), t.output
    for f in failures:
        assert f in t.output


def test_exit_reason_must_be_one_the_guest_causes(assignment):
    from emu.grade.spec import SpecError
    with pytest.raises(SpecError, match="'DEBUG' is not an exit the guest causes; expected one of: IO, MMIO"):
        assignment(SPEC + EXITS.format(io=18, most=18).replace("HLT = 0", "DEBUG = 0"), {"prog.S": PROGRAM})


def test_a_64_bit_result_is_edx_eax_in_32_bit_code(assignment):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "tutorials", "grading-x86", "harness.S")) as f:
        harness = f.read()
    spec = """\
[assignment]
name = "mul64"
arch = "x86"
bits = 32

[build]
source = "f.S"
harness = "harness.S"

[[test]]
name = "a * b"
points = 1
call = "mul64"
args = [0x10000, 0x30000]
expect.return64 = 0x300000000

[[test]]
name = "the high half is checked"
points = 1
call = "mul64"
args = [0x10000, 0x30000]
expect.return64 = 0
"""
    src = "mul64:\n    mov eax, [esp+4]\n    mul dword ptr [esp+8]\n    ret\n"
    r = assignment(spec, {"f.S": src}, {"harness.S": harness})
    assert [t.outcome for t in r.tests] == ["pass", "fail"], r.tests[0].output
    assert r.tests[1].output.startswith(
        "64-bit return value (EDX:EAX): expected 0, got 12884901888 (0x300000000)")
