"""emu grade --replay DIR, emu debug --replay FILE and --debug-test on ARM:
the worked sum assignment's failures opened where they went wrong (A32),
with reverse steps back to the call, and Thumb functions by their names."""

import json
import os
import re

from emu.cli import main
from emu.grade.runner import grade
from emu.grade.spec import load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "tutorials", "grading-arm")
SPEC = os.path.join(LAB, "sum.toml")
SUBS = os.path.join(LAB, "submissions")


def _script(tmp_path, text):
    path = tmp_path / "s.gdb"
    path.write_text(text)
    return str(path)


def _replays(tmp_path, capsys, spec, submission):
    out = tmp_path / "replays"
    assert main(["grade", spec, submission, "--replay", str(out)]) == 0
    capsys.readouterr()
    return out / os.path.basename(submission)


def _open(tmp_path, capsys, path, script):
    status = main(["debug", "--replay", str(path), "-x", _script(tmp_path, script)])
    out = capsys.readouterr()
    assert status == 0, out.err
    return out.out.splitlines()


def _graded(name):
    return {t.name: t for t in grade(load(SPEC), os.path.join(SUBS, name)).tests}


def _trace(output):
    """[(address, source 'file:line: text')] of a failure's last instructions."""
    rows = output.split("instructions executed:\n")[1].splitlines()
    return [(int(r.split()[0], 16), r[r.index("sum.S:"):]) for r in rows if r.strip()]


def _after(lines, command, k=1):
    return lines[lines.index(f"(emu) {command}") + k]


def test_a_fault_opens_at_the_faulting_instruction_with_the_graders_registers(tmp_path, capsys):
    folder = _replays(tmp_path, capsys, SPEC, os.path.join(SUBS, "faults"))
    # the visible tests that failed; not the after_due_date and hidden ones
    assert sorted(os.listdir(folder)) == ["empty-array.replay.json",
                                          "negative-numbers.replay.json",
                                          "three-numbers.replay.json"]
    failed = _graded("faults")["three numbers"]
    pc, where = _trace(failed.output)[-1]
    assert f"at 0x{pc:x} " in failed.output.splitlines()[0]       # the faulting instruction
    lines = _open(tmp_path, capsys, folder / "three-numbers.replay.json", "info registers\n")
    assert lines[0].startswith(f"three numbers: fault after {failed.icount} instructions "
                               f"(data abort: load of 4 bytes from 0x3")
    assert lines[1] == f"=> 0x{pc:08x} <next+8>: ldr r3, [r1], #4    ({where})"
    regs = {ln.split()[0]: int(ln.split()[1], 16) for ln in lines[3:-1]}
    assert {k: regs[k] for k in failed.state} == failed.state
    assert regs["r1"] == 3                                          # the address it loads from
    # --debug-test opens the same test from the spec and the submission, in the same state
    assert main(["grade", SPEC, os.path.join(SUBS, "faults"), "--debug-test", "three numbers",
                 "-x", _script(tmp_path, "info registers\n")]) == 0
    assert capsys.readouterr().out.splitlines() == lines


def test_reverse_stepi_goes_back_to_the_call(tmp_path, capsys):
    folder = _replays(tmp_path, capsys, SPEC, os.path.join(SUBS, "wrong"))
    failed = _graded("wrong")["empty array"]
    trace = _trace(failed.output)
    assert len(trace) == failed.icount                 # the whole run: the call to the return
    doc = json.loads((folder / "empty-array.replay.json").read_text())
    n = failed.icount
    lines = _open(tmp_path, capsys, folder / "empty-array.replay.json",
                  f"reverse-stepi\nprint $r0\nreverse-stepi {n - 1}\nreverse-stepi\nstepi\n")
    assert lines[1] == "=> 0x40000100: wfi"              # returned to the harness's trap
    ret_pc, ret_where = trace[-1]
    assert _after(lines, "reverse-stepi", 3) == \
        f"=> 0x{ret_pc:08x} <next+20>: bx lr    ({ret_where})"
    assert _after(lines, "print $r0") == "$1 = 1 (0x1)"             # the wrong sum
    # back at the call: the function's first instruction, and no history before it
    entry_pc, entry_where = trace[0]
    assert entry_pc == doc["symbols"]["sum"]
    back = lines.index(f"(emu) reverse-stepi {n - 1}")
    assert f"=> 0x{entry_pc:08x} <sum>: mov r2, #0    ({entry_where})" in lines[back:]
    again = lines.index("(emu) reverse-stepi", back)
    assert lines[again + 1] == "No more reverse-execution history."
    assert lines[-2] == f"=> 0x{trace[1][0]:08x} <next>: ldr r3, [r0], #4    ({trace[1][1]})"


def test_a_loop_opens_at_the_loop(tmp_path, capsys):
    folder = _replays(tmp_path, capsys, SPEC, os.path.join(SUBS, "loops"))
    failed = _graded("loops")["three numbers"]
    loop = int(re.search(r"loop at 0x([0-9a-f]+) ", failed.output).group(1), 16)
    lines = _open(tmp_path, capsys, folder / "three-numbers.replay.json",
                  "reverse-stepi\nstepi\n")
    assert lines[0].startswith(f"three numbers: loop after {failed.icount} instructions "
                               f"(does not terminate: loop at 0x{loop:x} ")
    assert lines[1].startswith(f"=> 0x{loop:08x} <next+12>: b #0x40010004    (sum.S:9: b next)")
    assert _after(lines, "reverse-stepi", 3) == \
        "=> 0x4001000c <next+8>: ldr r3, [r0]    (sum.S:8: ldr r3, [r0])"
    assert lines[-2] == lines[1]                                    # and forward again


THUMB_SPEC = '''[assignment]
name = "t"
arch = "arm"
[build]
source = "f.S"
[[test]]
name = "thumb fault"
points = 1
call = "f"
args = [5, 0]
expect.return = 5
'''

# f (Thumb) calls h (Thumb) with BL; h loads through r1 = 0, where nothing is
THUMB_SRC = """    .syntax unified
    .thumb
    .global f
    .thumb_func
f:  push {r4, lr}
    movs r4, r0
    bl h
    pop {r4, pc}
    .thumb_func
h:  adds r0, r0, r1
    ldr r2, [r1]
    bx lr
"""


def test_thumb_functions_by_their_names(tmp_path, capsys):
    (tmp_path / "spec.toml").write_text(THUMB_SPEC)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "f.S").write_text(THUMB_SRC)
    folder = _replays(tmp_path, capsys, str(tmp_path / "spec.toml"), str(sub))
    doc = json.loads((folder / "thumb-fault.replay.json").read_text())
    f, h = doc["symbols"]["f"], doc["symbols"]["h"]
    assert f & 1 and h & 1                    # the call enters them in Thumb state, as BLX does
    f, h = f - 1, h - 1
    lines = _open(tmp_path, capsys, folder / "thumb-fault.replay.json",
                  "bt\nreverse-stepi\nreverse-stepi\nreverse-stepi 2\nbreak h\ncontinue\n")
    assert lines[1] == f"=> 0x{h + 2:08x} <h+2>: (t16) ldr r2, [r1]    (f.S:11: ldr r2, [r1])"
    assert lines[3:5] == [f"#0  0x{h + 2:08x} in h+2 ()", f"#1  0x{f + 8:08x} in f+8 ()"]
    assert f"=> 0x{h:08x} <h>: (t16) adds r0, r0, r1    (f.S:10: h:  adds r0, r0, r1)" in lines
    assert f"=> 0x{f + 4:08x} <f+4>: bl #0x{h:x}    (f.S:7: bl h)" in lines
    assert f"=> 0x{f:08x} <f>: (t16) push {{r4, lr}}    (f.S:5: f:  push {{r4, lr}})" in lines
    assert _after(lines, "break h") == f"Breakpoint 1 at 0x{h:08x} <h>: file f.S, line 10."
    assert lines[-2] == f"=> 0x{h:08x} <h>: (t16) adds r0, r0, r1    (f.S:10: h:  adds r0, r0, r1)"
    assert main(["grade", str(tmp_path / "spec.toml"), str(sub), "--debug-test", "thumb fault",
                 "-x", _script(tmp_path, "bt\n")]) == 0
    assert capsys.readouterr().out.splitlines()[:5] == lines[:5]


def test_a_replay_file_from_before_thumb_opens(tmp_path, capsys):
    path = _replays(tmp_path, capsys, SPEC, os.path.join(SUBS, "faults")) / \
        "empty-array.replay.json"
    doc = json.loads(path.read_text())
    assert doc.pop("thumb") == []
    path.write_text(json.dumps(doc))
    lines = _open(tmp_path, capsys, path, "")
    assert lines[1].startswith("=> 0x4001000c <next+8>: ldr r3, [r1], #4")
