"""``emu lab``: list, show, check and hint over tutorials/NN-name.

The answer keys pass every exercise, wrong submissions fail with the
grader's reasons and a pointer to the hint, ``show`` never prints
anything from ``answers/``, and bad input is one line with status 2."""

import functools
import glob
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTORIALS = os.path.join(REPO, "tutorials")
LABS = sorted(p for p in glob.glob(os.path.join(TUTORIALS, "[0-9][0-9]-*")) if os.path.isdir(p))
WRONG = os.path.join(REPO, "tests", "labs", "wrong")


def emu(*args):
    r = subprocess.run([sys.executable, "-m", "emu", "lab", *args], cwd=REPO, capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=REPO), timeout=300)
    return r.returncode, r.stdout, r.stderr


def rel(path):
    return os.path.relpath(path, REPO)


def exercises(lab):
    """(file handed in, points) per exercise, read from the lab's TOML files."""
    with open(os.path.join(lab, "lab.toml"), "rb") as f:
        meta = tomllib.load(f)
    out = []
    for ex in meta["exercise"]:
        with open(os.path.join(lab, ex["spec"]), "rb") as f:
            spec = tomllib.load(f)
        out.append((spec["build"]["source"], sum(t["points"] for t in spec["test"])))
    return out


def test_list_shows_every_lab_folder():
    status, out, err = emu("list")
    assert status == 0 and err == ""
    rows = out.splitlines()[:-1]
    assert [r.split()[:2] for r in rows] == [[str(int(os.path.basename(p)[:2])), os.path.basename(p)]
                                             for p in LABS]
    assert [os.path.basename(p) for p in LABS] == ["00-start", "01-exits", "02-translator", "03-debugging",
                                                 "04-rings", "05-kvm", "06-kvm-api", "07-interrupts", "08-virtio",
                                                 "09-monitor", "10-arm", "11-testing", "12-containers"]
    assert rows[0] == " 0  00-start         Getting started: the machine a guest sees (45 minutes, 2 exercises)"


@pytest.mark.parametrize("lab", LABS, ids=os.path.basename)
def test_answer_key_passes(lab):
    n = int(os.path.basename(lab)[:2])
    status, out, err = emu("check", str(n), rel(os.path.join(lab, "answers")))
    assert (status, err) == (0, ""), out + err
    lines = out.splitlines()
    exs = exercises(lab)
    summary = lines[-1 - len(exs):-1]
    assert summary == [f"  {k}. {name:<12} {pts}/{pts}  passed" for k, (name, pts) in enumerate(exs, 1)]
    assert lines[-1] == ("the exercise passes" if len(exs) == 1 else f"all {len(exs)} exercises pass")


@functools.lru_cache(maxsize=None)
def check_wrong(n):
    """``emu lab check N tests/labs/wrong/NN``: every exercise's wrong
    submission in one run per lab, shared by the tests that read it."""
    return emu("check", str(n), rel(os.path.join(WRONG, f"{n:02d}")))


def number(lab):
    return int(os.path.basename(lab)[:2])


def report_block(out, k):
    """The lines of exercise ``k``'s report in ``emu lab check``'s output."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"exercise {k}: "))
    end = next(i for i, line in enumerate(lines[start + 1:], start + 1)
               if line.startswith(("exercise ", "lab ")) and not line.startswith("  "))
    return lines[start:end]


TEST_ROW = re.compile(r"^  \S.*\s\d+(?:\.\d+)?/\d+(?:\.\d+)?  (\w+) *(.*)$")
SUMMARY_ROW = re.compile(r"^  (\d+)\. (\S+) +(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)  (\d+) of (\d+) tests pass$")

# Each wrong submission's mistake, as its report must show it (the failing
# test's reason, or the lines of the output diff right under it).
WRONG_REASONS = {
    (0, 1): "got 'name: A. Student'",                       # no newline after the name
    (0, 2): "  +\x07",                                      # BL (7) written to the debug console
    (1, 1): "instructions; expected at most 80",            # polls an LSR the console lacks
    (1, 2): "exit code: expected 3, got 4",                 # the newline counted
    (2, 1): "ran 20002 instructions; expected at most 15010",
    (2, 2): "  +ABCDEFGHIJKLMNOPQRSTUVWXY",                 # stops before Z
    (3, 1): "memory at len: expected 04, got 34",           # '4' still written over len
    (3, 2): "does not terminate: loop at 0x7c14 (stack.S:11: cmp byte ptr [count], 5)",
    (4, 1): "exit code: expected 13, got 0",
    (4, 2): "got 'ring 3 on COM1\\nring 3 on the debug console\\n'",   # 0xF4 opened too
    (5, 1): "IO exits: expected 29, got 30",                # the NUL sent too
    (5, 2): "VM exits; expected at most 37",                # an LSR poll per byte
    (6, 1): "vmm: unhandled exit: port read: IN 1 byte(s) from port 0x12",
    (6, 2): "  +exits: IO 17",                              # the HLT not counted
    (7, 1): "the program ended with halt",                  # IRQ 4 never delivered again
    (7, 2): "HLT exits: expected 5, got 2",
    (8, 1): "memory at 0x11002: expected c0 00, got bf 00",  # the device used nothing
    (8, 2): "memory at 0x11002: expected 64 00, got 60 00",  # 96 of 100: no last kick
    (9, 1): "memory at counter: expected 00 40, got 00 04",
    (9, 2): "  -event: SHUTDOWN host-qmp-quit",
    (10, 1): "MMIO exits: expected 32, got 16",             # UARTFR never read
    (10, 2): "exit code: expected 3, got 1",
    (11, 1): "the CPU gives",                               # AF read from bit 3
    (11, 2): "  all checks pass",                             # bug B taken for correct: AF = 1 never tried
    (12, 1): "  +forked 10 of 10",                          # no pids.max written
    (12, 2): "TypeError: 'NoneType' object is not iterable",
}

# What the summary's last line says about each lab's first exercise.
WRONG_NEXT = {
    0: "'prints a name line': output does not match",
    1: "'no polling: at most 80 instructions': ran ",
    2: "'at most 3 instructions a pass': ran 20002 instructions; expected at most 15010",
    3: "'prints 0123': output line 1: expected '0123', got '01234'",
    4: "'what is not emulated is not skipped': exit code: expected 13, got 0; "
       "output line 1: expected '#GP: cannot emulate', got 'vIF=1'",
    5: "'prints the message': output line 2: expected '', got '\\x00'",
    6: "standard error: 'vmm: unhandled exit: port read: IN 1 byte(s) from port 0x12",
    7: "output line 1: expected 'HELLO, IRQ', got 'H'",
    8: "'one message in two buffers': output line 1: expected '[virtio] hello', got no line",
    9: "'prints a dot every 4096 steps': output line 1: expected '....', got ''",
    10: "'polls UARTFR before each byte': MMIO exits: expected 32, got 16",
    11: "'accepts the correct adc8 (alu.py)': exit status: expected 0, got 1; output: \"FAIL adc8(",
    12: "'--pids 4: the container starts three children': output line 1: "
        "expected 'forked 3 of 10', got 'forked 10 of 10'",
}


def test_every_exercise_has_a_wrong_submission():
    """A lab (or an exercise) added without a wrong submission fails here."""
    for lab in LABS:
        n = number(lab)
        for k, (name, _) in enumerate(exercises(lab), 1):
            assert os.path.isfile(os.path.join(WRONG, f"{n:02d}", name)), f"lab {n} exercise {k}: no wrong {name}"
            assert (n, k) in WRONG_REASONS, f"lab {n} exercise {k}: no reason to look for"
        assert n in WRONG_NEXT


@pytest.mark.parametrize("lab, k", [(lab, k) for lab in LABS for k in range(1, len(exercises(lab)) + 1)],
                         ids=lambda v: os.path.basename(v) if isinstance(v, str) else str(v))
def test_a_wrong_submission_fails_saying_what_differs(lab, k):
    n = number(lab)
    if n == 6 and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("/dev/kvm is absent or not usable here: lab 6's VMM needs it")
    status, out, err = check_wrong(n)
    assert (status, err) == (1, ""), out + err
    block = report_block(out, k)
    rows = [m.groups() for m in map(TEST_ROW.match, block) if m and m.group(1) != "pass"]
    assert rows and all(why for _, why in rows), block     # a test failed, and says why
    assert any(WRONG_REASONS[n, k] in line for line in block), "\n".join(block)
    name, pts = exercises(lab)[k - 1]
    summary = [m.groups() for m in map(SUMMARY_ROW.match, out.splitlines()) if m and m.group(1) == str(k)]
    assert [(s[1], int(s[4]) < int(s[5]), float(s[2]) < pts, float(s[3]) == pts) for s in summary] \
        == [(name, True, True, True)], summary
    last = out.splitlines()[-1]
    assert last.startswith("next: exercise 1, '") and last.endswith(f"; a hint: emu lab hint {n} 1"), last
    assert WRONG_NEXT[n] in last, last


def test_wrong_submission_fails_with_the_reason_and_the_hint():
    status, out, err = check_wrong(0)
    assert (status, err) == (1, "")
    assert report_block(out, 2)[:7] == [
        "exercise 2: Exit with the status in BL",
        "exit: tests/labs/wrong/00/exit.S",
        "  test             points  outcome",
        "  status 3            1/1  pass",
        "  status 42           1/1  pass",
        "  nothing printed     0/1  fail     output differs from the expected output",
        "  score 2/3",
    ]
    assert out.splitlines()[-3:-1] == [
        "  1. name.S       1/3  1 of 2 tests pass",
        "  2. exit.S       2/3  2 of 3 tests pass",
    ]
    status, out, err = emu("check", "0", rel(os.path.join(WRONG, "00", "exit.S")))
    assert out.splitlines()[-1] == "next: exercise 2, 'nothing printed': output line 1: expected '', got '\\x07'; " \
                                   "a hint: emu lab hint 0 2"


def test_instruction_bound_fails_a_slow_loop():
    status, out, err = check_wrong(2)
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert "  at most 3 instructions a pass      0/2  fail     ran 20002 instructions; expected at most 15010" \
        in lines
    assert lines[-3:] == [
        "  1. sum.S        2/4  2 of 3 tests pass",
        "  2. alphabet.S   0/3  0 of 2 tests pass",
        "next: exercise 1, 'at most 3 instructions a pass': ran 20002 instructions; expected at most "
        "15010; a hint: emu lab hint 2 1",
    ]


def test_trap_and_emulate_must_not_skip_and_ports_must_not_all_open():
    """Lab 4's plausible wrong answers: a #GP handler that skips every
    faulting instruction, and an I/O bitmap that opens every port."""
    status, out, err = check_wrong(4)
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert "  what is not emulated is not skipped     0/1  fail     exit code: expected 13, got 0" in lines
    assert "  ring 3 prints on COM1 and the debug console                          2/2  pass" in lines
    assert lines[-3:-1] == ["  1. emulate.S    3/4  2 of 3 tests pass", "  2. ports.S      2/4  1 of 2 tests pass"]


def test_a_chain_beyond_the_table_and_a_doorbell_per_message_fail():
    """Lab 8's plausible wrong answers: descriptors numbered without the
    modulo (beyond the table: the device uses nothing), and the handed-out
    burst.S, which kicks after every message."""
    status, out, err = emu("check", "8", rel(os.path.join(WRONG, "08", "chain.S")),
                           "tutorials/08-virtio/burst.S")
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert "  one message in two buffers                          0/2  fail     output differs from " \
           "the expected output" in lines
    assert "  at most 20 exits                    0/2  fail     110 VM exits; expected at most 20" in lines
    assert lines[-3:-1] == ["  1. chain.S      0/4  0 of 3 tests pass", "  2. burst.S      2/4  2 of 3 tests pass"]


def test_arm_exit_through_sys_exit_fails_with_the_status_it_got():
    """Lab 10's plausible wrong answer: SYS_EXIT with the status as the
    reason (AArch32 SYS_EXIT has no status: any reason but ApplicationExit
    is status 1); the hint names SYS_EXIT_EXTENDED."""
    status, out, err = check_wrong(10)
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert "  status 42                              0/1  fail     exit code: expected 42, got 1" \
        in lines
    assert "    0x40010008  svc #0x123456                exit.S:8: svc 0x123456" in lines
    assert lines[-2] == "  2. exit.S       0/3  0 of 3 tests pass"
    status, out, err = emu("hint", "10", "2")
    assert "Use SYS_EXIT_EXTENDED (0x20)" in out


def test_planted_bug_is_graded_as_a_loop():
    status, out, _ = emu("check", "3", "tutorials/03-debugging/stack.S")
    assert status == 1
    assert "  prints 01234        0/2  loop     does not terminate: loop at 0x7c14 " \
           "(stack.S:10: cmp byte ptr [count], 5)" in out.splitlines()


def _answer_lines(lab):
    """Lines of the answer key written nowhere else in the lab."""
    others = "".join(open(path, encoding="utf-8").read()
                     for path in glob.glob(os.path.join(lab, "**", "*"), recursive=True)
                     if os.path.isfile(path) and f"{os.sep}answers{os.sep}" not in path
                     and f"{os.sep}build{os.sep}" not in path)      # what make built
    unique = set()
    for path in glob.glob(os.path.join(lab, "answers", "*")):
        unique.update(s.strip() for s in open(path, encoding="utf-8"))
    return {s for s in unique if len(s) > 8 and s not in others}


@pytest.mark.parametrize("lab", LABS, ids=os.path.basename)
def test_show_and_hint_never_print_answers(lab):
    n = str(int(os.path.basename(lab)[:2]))
    secret = _answer_lines(lab)
    assert secret
    for args in (("show", n), ("hint", n), ("list",)):
        status, out, err = emu(*args)
        assert status == 0 and err == ""
        assert "answers" not in out
        assert not [s for s in secret if s in out], args


def _fixture(tmp_path, edit=None):
    root = tmp_path / "labs"
    shutil.copytree(os.path.join(TUTORIALS, "00-start"), root / "00-start")
    (root / "00-start" / "answers" / "secret.S").write_text("; SECRET-ANSWER-LINE\n")
    if edit:
        path = root / "00-start" / "lab.toml"
        path.write_text(edit(path.read_text()))
    return str(root)


def test_show_skips_answers_folder(tmp_path):
    root = _fixture(tmp_path)
    status, out, err = emu("--labs", root, "show", "0")
    assert status == 0 and err == ""
    files = next(line for line in out.splitlines() if line.startswith("files: "))
    assert files == "files: " + ", ".join(
        f"tutorials/00-start/{f}" for f in ("README.md", "att.S", "first.S", "first.asm", "lab.toml",
                                            "reset.gdb", "exercises/exit.toml", "exercises/name.toml"))
    assert "SECRET" not in out and "secret.S" not in out and "answers" not in out


def test_spec_in_answers_is_refused(tmp_path):
    root = _fixture(tmp_path, lambda t: t.replace('"exercises/exit.toml"', '"answers/../answers/x.toml"'))
    status, out, err = emu("--labs", root, "show", "0")
    assert (status, out) == (2, "")
    assert err == "emu lab: labs/00-start/lab.toml:25: exercise[1].spec: inside answers/; " \
                  "expected a spec students may read\n"


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("title = \"Getting", "titel = \"Getting"),
     "labs/00-start/lab.toml:2: lab.titel: unknown key; expected one of: title, time, objectives, prerequisites"),
    (lambda t: t.replace('time = "45 minutes"', "time = 45"),
     "labs/00-start/lab.toml:3: lab.time: int 45; expected a string"),
    (lambda t: t.replace('spec = "exercises/name.toml"', 'spec = "exercises/nosuch.toml"'),
     "labs/00-start/lab.toml:15: exercise[0].spec: no file exercises/nosuch.toml; expected an emu grade spec"),
    (lambda t: t.replace("[lab]", "[lab"),
     "labs/00-start/lab.toml: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 5)"),
    (lambda t: t.replace("hints = [", "hintz = [", 1),
     "labs/00-start/lab.toml:16: exercise[0].hintz: unknown key; expected one of: title, spec, hints"),
])
def test_malformed_lab_toml_is_one_line(tmp_path, edit, message):
    root = _fixture(tmp_path, edit)
    for args in (("show", "0"), ("check", "0"), ("list",)):
        status, out, err = emu("--labs", root, *args)
        assert (status, out, err) == (2, "", f"emu lab: {message}\n"), args


@pytest.mark.parametrize("args, message", [
    (("show", "14"), "emu lab: no lab 14; expected one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"),
    (("check", "13"), "emu lab: no lab 13; expected one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"),
    (("hint", "0", "5"), "emu lab: lab 0 has no exercise 5; expected 1 to 2"),
    (("check", "0", "nosuch/name.S"), "emu lab: nosuch/name.S: no such file; expected one of your files: name.S, exit.S"),
    (("check", "0", "tutorials/00-start/first.S"),
     "emu lab: tutorials/00-start/first.S: not a file of lab 0; expected one of: name.S, exit.S "
     "(or the same name .asm, in NASM syntax)"),
    (("show", "zero"), "emu lab show: argument lab: invalid int value: 'zero' (see 'emu lab show --help')"),
    ((), "emu lab: no subcommand given; expected list, show N, check N [FILES] or hint N"),
])
def test_bad_input_is_one_line(args, message):
    status, out, err = emu(*args)
    assert (status, out, err) == (2, "", message + "\n")


def test_malformed_exercise_spec_is_one_line(tmp_path):
    root = _fixture(tmp_path)
    spec = os.path.join(root, "00-start", "exercises", "exit.toml")
    with open(spec) as f:
        text = f.read()
    with open(spec, "w") as f:
        f.write(text.replace("points = 1\nsetup.registers = { bl = 42 }", "pointz = 1\nsetup.registers = { bl = 42 }"))
    status, out, err = emu("--labs", root, "check", "0")
    assert (status, out) == (2, "")
    assert err.startswith("emu lab: labs/00-start/exercises/exit.toml:21: test[1].pointz: unknown key; expected one of: ")
    assert err.count("\n") == 1


def test_missing_lab_toml(tmp_path):
    root = _fixture(tmp_path)
    os.remove(os.path.join(root, "00-start", "lab.toml"))
    status, out, err = emu("--labs", root, "list")
    assert (status, out) == (2, "")
    assert err == "emu lab: labs/00-start/lab.toml: cannot read (No such file or directory); " \
                  "expected the lab's metadata\n"


@pytest.mark.parametrize("lab", LABS, ids=os.path.basename)
def test_answers_are_left_out_of_git_archive(lab):
    if not os.path.exists(os.path.join(REPO, ".git")):
        pytest.skip("not a git checkout: no attributes to read")
    files = [rel(p) for p in glob.glob(os.path.join(lab, "answers", "*"))] + [rel(os.path.join(lab, "README.md"))]
    r = subprocess.run(["git", "check-attr", "export-ignore", "--", *files], cwd=REPO,
                       capture_output=True, text=True, check=True)
    assert r.stdout.splitlines() == [f"{f}: export-ignore: {'unspecified' if f.endswith('README.md') else 'set'}"
                                     for f in files]


NASM_EXIT = """; lab 0, exercise 2 in NASM syntax: nasm's own macros, not kasou's dialect
%define DEBUG_EXIT 0xf4
%macro exit_with 1
    mov al, %1
    out DEBUG_EXIT, al
%endmacro
    exit_with bl
"""


@pytest.mark.parametrize("status, line", [
    ("bl", "  2. exit.asm     3/3  passed"),
    ("3", "  2. exit.asm     1/3  1 of 3 tests pass"),
])
def test_a_nasm_submission_is_assembled_by_nasm(tmp_path, status, line):
    (tmp_path / "exit.asm").write_text(NASM_EXIT.replace("exit_with bl", f"exit_with {status}"))
    code, out, err = emu("check", "0", str(tmp_path / "exit.asm"))
    assert (code, err) == (1, "")                       # exercise 1 is not handed in
    assert line in out.splitlines(), out
    if status == "3":
        assert "exit code: expected 42, got 3" in out
        assert "exit.asm:5: out DEBUG_EXIT, al" in out    # nasm's line map: the macro's line


def test_a_nasm_file_of_another_name_is_refused(tmp_path):
    (tmp_path / "quit.asm").write_text(NASM_EXIT)
    code, out, err = emu("check", "0", str(tmp_path / "quit.asm"))
    assert code == 2
    assert err.endswith("not a file of lab 0; expected one of: name.S, exit.S "
                        "(or the same name .asm, in NASM syntax)\n")


def test_a_nasm_file_for_an_exercise_with_instructor_code_is_a_build_error(tmp_path):
    (tmp_path / "chain.asm").write_text("    hlt\n")
    code, out, err = emu("check", "8", str(tmp_path / "chain.asm"))
    assert (code, err) == (1, "")
    assert "  1. chain.asm    0/4  0 of 3 tests pass" in out.splitlines()
    assert "build error: chain.asm: a NASM source is assembled on its own, and this assignment " \
           "adds instructor code (build.harness/after) in kasou's assembler; expected a .S file" in out
