"""emu grade on ARM: the worked sum assignment (tutorials/grading-arm), the
AAPCS, decoded guest faults and the ARM spec's checks."""

import json
import os
import subprocess

import pytest

from emu.cli import main
from emu.grade.runner import grade
from emu.grade.spec import SpecError, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "tutorials", "grading-arm")
SPEC = os.path.join(LAB, "sum.toml")
SUBS = os.path.join(LAB, "submissions")

# (score, outcome of each test in spec order), worked out from each
# submission's bug: see the comment at the top of each sum.S
EXPECTED = {
    "correct": (10, ["pass"] * 5),
    "wrong": (8, ["fail", "pass", "pass", "pass", "pass"]),
    "loops": (2, ["pass", "loop", "loop", "loop", "loop"]),
    "faults": (0, ["fault"] * 5),
    "clobbers": (0, ["fail"] * 5),
    "unbalanced": (0, ["fail"] * 5),
    "syntax": (0, ["build-error"] * 5),
}


@pytest.fixture(scope="module")
def spec():
    return load(SPEC)


@pytest.fixture(scope="module")
def results(spec):
    return {name: grade(spec, os.path.join(SUBS, name), name) for name in EXPECTED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scores_and_outcomes(results, name):
    score, outcomes = EXPECTED[name]
    assert results[name].score == score
    assert [t.outcome for t in results[name].tests] == outcomes


def test_failure_output_says_where(results):
    wrong = results["wrong"].tests[0].output
    assert wrong.startswith("return value (R0): expected 0, got 1")
    assert "sum.S:7: ldr r3, [r0], #4" in wrong             # the trace has source lines
    assert results["loops"].tests[1].output.startswith(
        "does not terminate: loop at 0x40010010 (sum.S:9: b next)")
    assert results["faults"].tests[1].output.startswith(
        "data abort: load of 4 bytes from 0x3, where the virt board has no memory or device, "
        "at 0x4001000c (ldr r3, [r1], #4), sum.S:9: ldr r3, [r1], #4")
    assert results["clobbers"].tests[1].output.startswith(
        "callee-saved register R4 not preserved: 1592594705 (0x5eed1111) before the call, "
        "6 after")
    assert results["unbalanced"].tests[0].output.startswith(
        "stack not balanced: SP is 1074790396 (0x400ffffc) after the return, "
        "expected 1074790400 (0x40100000)")
    assert results["syntax"].build_error.startswith("sum.S:9: ")
    assert "(arm-none-eabi-as)" in results["syntax"].build_error


def test_gradescope_results_json(tmp_path):
    out = tmp_path / "results.json"
    assert main(["grade", SPEC, os.path.join(SUBS, "wrong"), "--format", "gradescope",
                 "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["score"] == 8
    assert [t["status"] for t in doc["tests"]] == ["failed"] + ["passed"] * 4
    assert [t["visibility"] for t in doc["tests"]] == \
        ["visible", "visible", "visible", "after_due_date", "hidden"]
    for t in doc["tests"]:
        assert set(t) == {"name", "score", "max_score", "status", "output", "visibility", "tags"}
    assert doc["tests"][0]["output"].startswith("return value (R0): expected 0, got 1")
    assert doc["tests"][1]["tags"] == ["basic"]
    assert ROOT not in out.read_text()                    # no host paths


# -- the AAPCS and the checks, on small assignments ----------------------------------------

def _spec(body, arch_lines='arch = "arm"'):
    return f'[assignment]\nname = "t"\n{arch_lines}\n[build]\nsource = "f.S"\n{body}'


CALL6 = _spec('''
[[test]]
name = "six arguments"
points = 1
call = "f"
args = [1, 2, 3, 4, 0x50000, 0x600000]
expect.return = 0x654321
''')


def test_arguments_after_the_fourth_are_on_the_stack(assignment):
    # r0 + 0x10*r1 + 0x100*r2 + 0x1000*r3 + [sp] + [sp+4]: each in its place
    src = """    .global f
f:  add r0, r0, r1, lsl #4
    add r0, r0, r2, lsl #8
    add r0, r0, r3, lsl #12
    ldr r1, [sp]
    add r0, r0, r1
    ldr r1, [sp, #4]
    add r0, r0, r1
    bx lr
"""
    r = assignment(CALL6, {"f.S": src})
    assert [t.outcome for t in r.tests] == ["pass"], r.tests[0].output


def test_the_stack_is_8_byte_aligned_at_the_call(assignment):
    spec = _spec('''
[[test]]
name = "sp % 8"
points = 1
call = "f"
args = [1, 2, 3, 4, 5]
expect.return = 0
''')
    r = assignment(spec, {"f.S": "    .global f\nf:  and r0, sp, #7\n    bx lr\n"})
    assert r.tests[0].outcome == "pass", r.tests[0].output


FAULT = _spec('''
[[test]]
name = "t"
points = 1
call = "f"
''')


@pytest.mark.parametrize("body, message", [
    ("    mov r0, #1\n    udf #7\n",
     "undefined instruction at 0x40010004 (udf #7), f.S:4: udf #7"),
    ("    svc #5\n",
     "supervisor call (SVC) with no handler at 0x40010000 (svc #0x5), f.S:3: svc #5"),
    ("    mov r1, #0x50000000\n    str r0, [r1, #8]\n    bx lr\n",
     "data abort: store of 4 bytes to 0x50000008, where the virt board has no memory or "
     "device, at 0x40010004 (str r0, [r1, #8]), f.S:4: str r0, [r1, #8]"),
])
def test_guest_faults_are_decoded(assignment, body, message):
    r = assignment(FAULT, {"f.S": "    .global f\nf:\n" + body})
    assert r.tests[0].outcome == "fault"
    assert r.tests[0].output.startswith(message), r.tests[0].output


THUMB_ADD = """    .syntax unified
    .thumb
    .global f
    .thumb_func
f:  adds r0, r0, r1
    bx lr
"""
CALL_ADD = _spec('''
[[test]]
name = "t"
points = 1
call = "f"
args = [40, 2]
expect.return = 42
''')


def test_a_thumb_function_is_called_in_thumb_state(assignment):
    r = assignment(CALL_ADD, {"f.S": THUMB_ADD})
    assert r.tests[0].outcome == "pass", r.tests[0].output


PROGRAM = _spec('''
[[test]]
name = "prints and exits"
points = 1
setup.registers = { r5 = 7 }
expect.output = "hi\\n"
expect.exit_code = 7
expect.registers = { r4 = 0x09000000, z = 1, c = 1, n = 0 }
expect.memory = [{ at = 0x40080000, words = [7], size = 4 }]
expect.max_instructions = 30

[[test]]
name = "no multiply"
points = 1
setup.registers = { r5 = 7 }
expect.forbid = ["mul"]
''')

PROGRAM_SRC = """    .global _start
_start:
    ldr r4, =0x09000000        @ the PL011's data register
    mov r0, #'h'
    str r0, [r4]
    mov r0, #'i'
    str r0, [r4]
    mov r0, #10
    str r0, [r4]
    ldr r1, =0x40080000
    mul r2, r5, r5
    str r5, [r1]
    cmp r5, r5                 @ Z and C set
    ldr r1, =block
    str r5, [r1, #4]
    mov r0, #0x20              @ SYS_EXIT_EXTENDED [ApplicationExit, status]
    svc 0x123456
block:
    .word 0x20026, 0
"""


def test_a_program_from_its_entry_uart_registers_flags_memory_exit(assignment):
    r = assignment(PROGRAM, {"f.S": PROGRAM_SRC})
    assert r.tests[0].outcome == "pass", r.tests[0].output
    assert r.tests[1].outcome == "fail"
    assert r.tests[1].output.startswith("uses MUL at 0x40010020, f.S:11: mul r2, r5, r5, which")


def test_a_prebuilt_elf_is_graded(assignment, tmp_path):
    src = tmp_path / "prog.S"
    src.write_text(PROGRAM_SRC)
    subprocess.run(["arm-none-eabi-as", "-o", str(tmp_path / "p.o"), str(src)], check=True)
    subprocess.run(["arm-none-eabi-ld", "-Ttext=0x40010000", "-o", str(tmp_path / "p.elf"),
                    str(tmp_path / "p.o")], check=True)
    spec = PROGRAM.replace('source = "f.S"', 'binary = "prog.elf"')
    r = assignment(spec, {"prog.elf": (tmp_path / "p.elf").read_bytes()})
    assert [t.outcome for t in r.tests] == ["pass", "fail"]
    assert r.tests[1].output.startswith("uses MUL at 0x40010020, which this test forbids")


def test_an_incbin_of_a_host_file_is_a_build_error(assignment):
    r = assignment(FAULT, {"f.S": '    .global f\nf:  bx lr\n    .incbin "/etc/passwd"\n'})
    assert r.tests[0].outcome == "build-error"
    assert r.build_error.startswith("f.S:3: cannot include '/etc/passwd'")


@pytest.mark.parametrize("edit, message", [
    ('arch = "arm"\nbits = 16', "spec.toml:4: assignment.bits: 16; expected 32 for arm"),
    ('arch = "arm"\nboard = "pc"', "spec.toml:4: assignment.board: 'pc'; expected 'virt' for arm"),
    ('arch = "arm"\naccel = "kvm"', "spec.toml:4: assignment.accel: 'kvm'; expected 'interp'"),
])
def test_malformed_arm_assignments(tmp_path, edit, message):
    (tmp_path / "spec.toml").write_text(_spec('[[test]]\nname = "t"\npoints = 1\n', edit))
    with pytest.raises(SpecError) as e:
        load(str(tmp_path / "spec.toml"))
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("test, message", [
    ('setup.registers = { eax = 1 }',
     "spec.toml:9: test[0].setup.registers.eax: not a register name; expected e.g. r0, r4"),
    ('expect.memory = [{ at = 0x7c00, bytes = [1] }]',
     "spec.toml:9: test[0].expect.memory[0].at: 0x7c00: 1 bytes there are outside RAM; "
     "expected an address from 0x40000000 to 0x400fffff"),
    ('expect.forbid = ["imul"]',
     "spec.toml:9: test[0].expect.forbid: 'imul' is not an instruction the decoder names"),
])
def test_malformed_arm_tests(tmp_path, test, message):
    (tmp_path / "spec.toml").write_text(_spec(f"[[test]]\nname = \"t\"\npoints = 1\n{test}\n"))
    with pytest.raises(SpecError) as e:
        load(str(tmp_path / "spec.toml"))
    assert str(e.value).startswith(message), str(e.value)


def test_a_64_bit_result_is_r1_r0(assignment):
    spec = _spec('''
[[test]]
name = "a * b, 64 bits"
points = 1
call = "f"
args = [0x10000, 0x30000]
expect.return64 = 0x300000000

[[test]]
name = "the high word is checked"
points = 1
call = "f"
args = [0x10000, 0x30000]
expect.return64 = 0x3
''')
    r = assignment(spec, {"f.S": "    .global f\nf:  umull r0, r1, r0, r1\n    bx lr\n"})
    assert [t.outcome for t in r.tests] == ["pass", "fail"]
    assert r.tests[1].output.startswith(
        "64-bit return value (R1:R0): expected 3, got 12884901888 (0x300000000)")


def test_a_fault_in_thumb_code_is_decoded_as_thumb(assignment):
    src = """    .syntax unified
    .thumb
    .global f
    .thumb_func
f:  movs r0, #1
    udf #9
"""
    r = assignment(FAULT, {"f.S": src})
    assert r.tests[0].output.startswith(
        "undefined instruction at 0x40010002 (udf #9), f.S:6: udf #9"), r.tests[0].output
    assert "0x40010000  movs r0, #1" in r.tests[0].output


def test_allow_and_a_time_out(assignment):
    spec = _spec('''
[limits]
instructions = 500

[[test]]
name = "only mov, add and bx"
points = 1
call = "f"
args = [3]
expect.allow = ["mov", "add", "bx"]

[[test]]
name = "counts for ever"
points = 1
call = "g"
''')
    src = """    .global f, g
f:  mov r1, #0
    add r0, r0, r1
    sub r0, r0, #1
    bx lr
g:  add r0, r0, #1
    b g
"""
    r = assignment(spec, {"f.S": src})
    assert [t.outcome for t in r.tests] == ["fail", "timeout"]
    assert r.tests[0].output.startswith(
        "uses SUB at 0x40010008, f.S:4: sub r0, r0, #1; allowed: add, bx, mov")
    assert r.tests[1].output.startswith(
        "time-out: instruction limit reached (500 instructions), still running at 0x4001001")


def test_a_harness_runs_to_its_first_wfi_before_the_call(assignment):
    spec = _spec('''harness = "harness.S"

[[test]]
name = "the harness's stack"
points = 1
call = "f"
expect.return = 0x40080000
''')
    harness = """    ldr sp, =0x40080000     @ the harness sets the stack, then waits
    wfi
"""
    r = assignment(spec, {"f.S": "    .global f\nf:  mov r0, sp\n    bx lr\n"},
                   {"harness.S": harness})
    assert r.tests[0].outcome == "pass", r.tests[0].output


def test_a_jump_where_nothing_is_is_a_prefetch_abort(assignment):
    spec = _spec('[[test]]\nname = "t"\npoints = 1\nexpect.exit_code = 0\n')
    r = assignment(spec, {"f.S": "    mov r0, #0x100\n    bx r0\n"})
    assert r.tests[0].outcome == "fault"
    assert r.tests[0].output.startswith(
        "prefetch abort: the program jumped to 0x100, where the virt board has no memory or device")
    assert "0x40010004  bx r0" in r.tests[0].output


def test_a_thumb_function_of_a_prebuilt_elf_is_called_in_thumb_state(assignment, tmp_path):
    (tmp_path / "t.S").write_text(THUMB_ADD)
    subprocess.run(["arm-none-eabi-as", "-o", str(tmp_path / "t.o"), str(tmp_path / "t.S")],
                   check=True)
    subprocess.run(["arm-none-eabi-ld", "-Ttext=0x40010000", "-e", "f", "-o",
                    str(tmp_path / "t.elf"), str(tmp_path / "t.o")], check=True)
    spec = CALL_ADD.replace('source = "f.S"', 'binary = "t.elf"')
    r = assignment(spec, {"t.elf": (tmp_path / "t.elf").read_bytes()})
    assert r.tests[0].outcome == "pass", r.tests[0].output
