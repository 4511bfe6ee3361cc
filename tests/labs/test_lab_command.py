"""``emu lab``: list, show, check and hint over tutorials/NN-name.

The answer keys pass every exercise, wrong submissions fail with the
grader's reasons and a pointer to the hint, ``show`` never prints
anything from ``answers/``, and bad input is one line with status 2."""

import glob
import os
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


def test_wrong_submission_fails_with_the_reason_and_the_hint():
    status, out, err = emu("check", "0", rel(os.path.join(WRONG, "00")))
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert lines[:7] == [
        "exercise 2: Exit with the status in BL",
        "exit: tests/labs/wrong/00/exit.S",
        "  test             points  outcome",
        "  status 3            1/1  pass",
        "  status 42           1/1  pass",
        "  nothing printed     0/1  fail     output differs from the expected output",
        "  score 2/3",
    ]
    assert lines[-4:] == [
        "lab 0: Getting started: the machine a guest sees",
        "  1. name.S       0/3  not handed in",
        "  2. exit.S       2/3  2 of 3 tests pass",
        "next: exercise 2, 'nothing printed': output differs from the expected output; "
        "a hint: emu lab hint 0 2",
    ]


def test_instruction_bound_fails_a_slow_loop():
    status, out, err = emu("check", "2", rel(os.path.join(WRONG, "02", "sum.S")))
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert "  at most 3 instructions a pass      0/2  fail     ran 20002 instructions; expected at most 15010" \
        in lines
    assert lines[-3:] == [
        "  1. sum.S        2/4  2 of 3 tests pass",
        "  2. alphabet.S   0/3  not handed in",
        "next: exercise 1, 'at most 3 instructions a pass': ran 20002 instructions; expected at most "
        "15010; a hint: emu lab hint 2 1",
    ]


def test_trap_and_emulate_must_not_skip_and_ports_must_not_all_open():
    """Lab 4's plausible wrong answers: a #GP handler that skips every
    faulting instruction, and an I/O bitmap that opens every port."""
    status, out, err = emu("check", "4", rel(os.path.join(WRONG, "04")))
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
    status, out, err = emu("check", "10", rel(os.path.join(WRONG, "10", "exit.S")))
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert "  status 42                              0/1  fail     exit code: expected 42, got 1" \
        in lines
    assert "    0x40010008  svc #0x123456                exit.S:8: svc 0x123456" in lines
    assert lines[-3:] == [
        "  1. puts.S       0/4  not handed in",
        "  2. exit.S       0/3  0 of 3 tests pass",
        "next: exercise 2, 'status 3': exit code: expected 3, got 1; a hint: emu lab hint 10 2",
    ]
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
