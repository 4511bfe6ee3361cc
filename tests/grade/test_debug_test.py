"""emu grade --debug-test: the debugger opens where the graded test went
wrong, and can step back through the test."""

import os

from emu.cli import main

LAB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tutorials", "grading-x86")
SPEC = os.path.join(LAB, "strlen.toml")


def _debug(tmp_path, capsys, submission, test, script):
    path = tmp_path / "s.gdb"
    path.write_text(script)
    status = main(["grade", SPEC, os.path.join(LAB, "submissions", submission),
                   "--debug-test", test, "-x", str(path)])
    return status, capsys.readouterr()


def test_at_the_faulting_instruction(tmp_path, capsys):
    status, out = _debug(tmp_path, capsys, "faults", "empty string", "print $ecx\n")
    assert status == 0
    assert out.out.splitlines()[:4] == [
        "empty string: fault after 7 instructions (#DE divide error at 0x7c73 (div ecx), "
        "strlen.S:14: div ecx)",
        "=> 0x7c73 <done+9>: div ecx    (strlen.S:14: div ecx)",
        "(emu) print $ecx",
        "$1 = 0 (0x0)"]


def test_at_the_return_and_back(tmp_path, capsys):
    status, out = _debug(tmp_path, capsys, "wrong", "empty string", "reverse-stepi\nprint $eax\n")
    lines = out.out.splitlines()
    assert lines[1] == "=> 0x0500: hlt"                     # the return trampoline
    assert "=> 0x7c68 <next+7>: ret    (strlen.S:9: ret)" in lines
    assert lines[lines.index("(emu) print $eax") + 1] == "$1 = 1 (0x1)"


def test_at_the_loop(tmp_path, capsys):
    status, out = _debug(tmp_path, capsys, "loops", "hello, world", "")
    assert out.out.splitlines()[0].startswith("hello, world: loop after ")
    assert "(strlen.S:" in out.out.splitlines()[1]


def test_unknown_test(tmp_path, capsys):
    status, out = _debug(tmp_path, capsys, "wrong", "nope", "")
    assert status == 2
    assert out.err.startswith("emu grade: --debug-test: no test named 'nope'; expected one of: ")
