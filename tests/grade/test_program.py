"""emu grade on Python programs (``arch = "python"``): each test runs the
submitted file with its arguments and standard input, in the spec's folder
with kasou importable, and judges its output and exit status."""

import pytest

from emu.grade.spec import SpecError

SPEC = """\
[assignment]
name = "upper"
arch = "python"

[build]
source = "upper.py"

[limits]
seconds = 20

[[test]]
name = "upper-cases stdin"
points = 2
setup.stdin = "abc\\n"
expect.output = "ABC\\n"
expect.exit_code = 0

[[test]]
name = "reads the instructor's file"
points = 1
args = ["data.txt", "3"]
expect.output_regex = "^xyz$"

[[test]]
name = "imports kasou"
points = 1
args = ["--kasou"]
expect.output = "True\\n"
"""

GOOD = """\
import sys
if sys.argv[1:2] == ["--kasou"]:
    from emu.boards import BOARDS
    print("pc" in BOARDS)
elif len(sys.argv) > 1:
    print(open(sys.argv[1]).read()[:int(sys.argv[2])], end="")
else:
    print(sys.stdin.read().upper(), end="")
"""


def _run(assignment, source, spec=SPEC):
    return assignment(spec, {"upper.py": source}, instructor={"data.txt": "xyzzy"})


def test_a_correct_program_passes(assignment):
    r = _run(assignment, GOOD)
    assert [(t.name, t.outcome) for t in r.tests] == [
        ("upper-cases stdin", "pass"), ("reads the instructor's file", "pass"), ("imports kasou", "pass")]
    assert r.score == 4


def test_wrong_output_and_status_are_failures_with_stderr_shown(assignment):
    bad = GOOD.replace(".upper()", ".lower()") + "print('careful', file=sys.stderr)\nsys.exit(3)\n"
    t = _run(assignment, bad).tests[0]
    assert t.outcome == "fail" and t.score == 0
    assert "exit status: expected 0, got 3" in t.output
    assert "-ABC\n+abc" in t.output
    assert "standard error:\ncareful" in t.output


def test_an_exception_is_a_fault_naming_the_line(assignment):
    t = _run(assignment, "import sys\n\nx = {}\nprint(x['missing'])\n").tests[0]
    assert t.outcome == "fault"
    assert t.output.startswith("the program failed: KeyError: 'missing' (File \"upper.py\", line 4")


def test_a_program_that_never_ends_times_out(assignment):
    spec = SPEC.replace("seconds = 20", "seconds = 1")
    t = _run(assignment, "while True:\n    pass\n", spec).tests[0]
    assert (t.outcome, t.output) == ("timeout", "time-out: still running after 1 s")


def test_a_syntax_error_is_a_build_error_with_its_line(assignment):
    r = _run(assignment, "print('a')\nif True\n    print('b')\n")
    assert r.build_error == "upper.py:2: expected ':'"
    assert {t.outcome for t in r.tests} == {"build-error"}


def test_a_missing_file_is_a_build_error(assignment):
    r = assignment(SPEC, {"other.py": GOOD}, instructor={"data.txt": "x"})
    assert r.build_error.startswith("no file upper.py in ")


@pytest.mark.parametrize("edit, message", [
    (('source = "upper.py"', 'source = "upper.S"'), "build.source: 'upper.S'; expected one Python file name"),
    (('args = ["data.txt", "3"]', 'args = ["data.txt", 3]'), "test[1].args: expected an array of strings"),
    (("setup.stdin", "setup.uart_input"), "test[0].setup.uart_input: unknown key; expected one of: stdin"),
    (("expect.exit_code = 0", "expect.registers = {}"), "test[0].expect.registers: unknown key"),
])
def test_spec_errors(assignment, edit, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _run(assignment, GOOD, SPEC.replace(*edit))


def test_stepping_options_are_refused_for_a_program(tmp_path):
    import subprocess
    import sys
    (tmp_path / "spec.toml").write_text(SPEC)
    (tmp_path / "sub").mkdir()
    for opt in (["--replay", str(tmp_path / "r")], ["--debug-test", "imports kasou"]):
        r = subprocess.run([sys.executable, "-m", "emu", "grade", str(tmp_path / "spec.toml"),
                            str(tmp_path / "sub"), *opt], capture_output=True, text=True)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr == (f"emu grade: {opt[0]} steps a guest; spec.toml grades a Python program "
                            f"(arch = \"python\"); expected an assembly assignment\n")
