"""emu grade --replay DIR and emu debug --replay FILE: a self-contained
replay file per failed visible test, opened at the failure with reverse
steps through the test."""

import json
import os
import re

import pytest

from emu.cli import main
from emu.grade.runner import grade
from emu.grade.spec import load

LAB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tutorials", "grading-x86")
SPEC = os.path.join(LAB, "strlen.toml")
SUBS = os.path.join(LAB, "submissions")


def _script(tmp_path, text):
    path = tmp_path / "s.gdb"
    path.write_text(text)
    return str(path)


def _replays(tmp_path, capsys, submission):
    out = tmp_path / "replays"
    assert main(["grade", SPEC, os.path.join(SUBS, submission), "--replay", str(out)]) == 0
    capsys.readouterr()
    return out / submission


def _open(tmp_path, capsys, path, script):
    status = main(["debug", "--replay", str(path), "-x", _script(tmp_path, script)])
    return status, capsys.readouterr()


def test_opens_at_the_faulting_instruction_with_the_graders_registers(tmp_path, capsys):
    folder = _replays(tmp_path, capsys, "faults")
    # the failed visible test has a replay; the hidden one ("no multiply or
    # divide", also failed) and the passed ones have none
    assert sorted(os.listdir(folder)) == ["empty-string.replay.json"]
    graded = {t.name: t for t in grade(load(SPEC), os.path.join(SUBS, "faults")).tests}
    failed = graded["empty string"]
    pc = int(re.search(r" at 0x([0-9a-f]+) ", failed.output).group(1), 16)
    status, out = _open(tmp_path, capsys, folder / "empty-string.replay.json", "info registers\n")
    assert status == 0
    lines = out.out.splitlines()
    assert lines[0].startswith(f"empty string: fault after {failed.icount} instructions ")
    assert lines[1].startswith(f"=> 0x{pc:04x} ")
    regs = {ln.split()[0]: int(ln.split()[1], 16) for ln in lines[3:]
            if ln.split() and ln.split()[0] in failed.state}
    assert regs == {k: v for k, v in failed.state.items() if k != "pc"}
    # the same registers as the debugger opened from the spec and submission
    assert main(["grade", SPEC, os.path.join(SUBS, "faults"), "--debug-test", "empty string",
                 "-x", _script(tmp_path, "info registers\n")]) == 0
    assert capsys.readouterr().out.splitlines()[3:] == lines[3:]


def test_reverse_stepi_goes_back_through_the_test(tmp_path, capsys):
    folder = _replays(tmp_path, capsys, "wrong")
    graded = {t.name: t for t in grade(load(SPEC), os.path.join(SUBS, "wrong")).tests}
    trace = graded["empty string"].output.split("instructions executed:\n")[1].splitlines()
    ret_pc = int(trace[-1].split()[0], 16)                    # the function's RET
    status, out = _open(tmp_path, capsys, folder / "empty-string.replay.json",
                        "reverse-stepi\nprint $eax\nreverse-stepi 3\nstepi 4\n")
    assert status == 0
    lines = out.out.splitlines()
    assert lines[1] == "=> 0x0500: hlt"                        # returned to the trampoline
    back = lines.index("(emu) reverse-stepi") + 3
    assert lines[back].startswith(f"=> 0x{ret_pc:04x} ")
    assert lines[lines.index("(emu) print $eax") + 1] == "$1 = 1 (0x1)"
    assert lines[-2] == "=> 0x0500: hlt"                      # and forward again


def test_batch_writes_replays_per_submission(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["grade", SPEC, os.path.join(SUBS, "correct"), os.path.join(SUBS, "loops"),
                 "--out-dir", str(tmp_path / "o"), "--replay", str(out)]) == 0
    capsys.readouterr()
    assert os.listdir(out) == ["loops"]
    doc = json.loads((out / "loops" / "hello-world.replay.json").read_text())
    assert doc["outcome"] == "loop" and "expect" not in json.dumps(doc)


def _edit(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("spoil, err", [
    (lambda p: p.write_text(p.read_text()[:200]), "not a replay file (not JSON: "),
    (lambda p: p.write_text("[1, 2]"), "not a replay file of this kasou (format None)"),
    (lambda p: _edit(p, lambda d: d.update(image=d["image"][:-8] + "AAAAAAA=")),
     "the image does not match its SHA-256"),
    (lambda p: _edit(p, lambda d: d["state"].update(pc=0x7c71)),
     "the replay does not reach the graded state (pc is 0x7c73, the grader saw 0x7c71)"),
    (lambda p: _edit(p, lambda d: d.update(instructions="7")), "'instructions' is missing"),
    (lambda p: _edit(p, lambda d: d.update(engine="kvm")), "engine 'kvm'; expected one of"),
    (lambda p: _edit(p, lambda d: d["start"].update(call="nowhere")),
     "the call 'nowhere' is not a label of the image"),
])
def test_a_spoiled_replay_is_a_one_line_error(tmp_path, capsys, spoil, err):
    path = _replays(tmp_path, capsys, "faults") / "empty-string.replay.json"
    spoil(path)
    status, out = _open(tmp_path, capsys, path, "info registers\n")
    assert status == 1 and out.out == ""
    assert out.err.startswith(f"emu debug: --replay {path}: {err}")
    assert out.err.count("\n") == 1


def test_a_guest_or_a_replay(capsys):
    assert main(["debug"]) == 1
    assert capsys.readouterr().err == "emu debug: expected a guest or --replay FILE (one of them)\n"
