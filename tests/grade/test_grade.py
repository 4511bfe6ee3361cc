"""emu grade: the worked strlen assignment (tutorials/grading-x86), its
reports, malformed specs and hostile submissions."""

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from emu.cli import main
from emu.grade import report
from emu.grade.runner import grade
from emu.grade.spec import SpecError, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "tutorials", "grading-x86")
SPEC = os.path.join(LAB, "strlen.toml")
SUBS = os.path.join(LAB, "submissions")

# (score, outcome of each test in spec order), worked out from each
# submission's bug: see the comment at the top of each strlen.S
EXPECTED = {
    "correct": (10, ["pass"] * 5),
    "wrong": (8, ["fail", "pass", "pass", "pass", "pass"]),
    "loops": (2, ["pass", "loop", "loop", "loop", "loop"]),
    "faults": (7, ["fault", "pass", "pass", "pass", "fail"]),
    "clobbers": (0, ["fail"] * 5),
    "unbalanced": (0, ["fault"] * 5),
    "syntax": (0, ["build-error"] * 5),
}


@pytest.fixture(scope="module")
def spec():
    return load(SPEC)


@pytest.mark.parametrize("accel", ["interp", "tcg"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scores_and_outcomes(spec, name, accel):
    r = grade(spec, os.path.join(SUBS, name), name, accel)
    score, outcomes = EXPECTED[name]
    assert r.score == score
    assert [t.outcome for t in r.tests] == outcomes


def _results(spec, name):
    return grade(spec, os.path.join(SUBS, name), name)


def test_failure_output_says_where(spec):
    wrong = _results(spec, "wrong").tests[0].output
    assert "return value (EAX): expected 0, got 1" in wrong
    assert "strlen.S:6: inc eax" in wrong            # the trace has source lines
    loops = _results(spec, "loops").tests[1].output
    assert loops.startswith("does not terminate: loop at 0x")
    faults = _results(spec, "faults")
    assert "#DE divide error" in faults.tests[0].output
    assert "(div ecx), strlen.S:14: div ecx" in faults.tests[0].output
    assert "uses DIV at" in faults.tests[4].output
    assert "callee-saved register EBX not preserved" in _results(spec, "clobbers").tests[0].output
    unb = _results(spec, "unbalanced").tests[0].output
    assert "more pushed than popped" in unb and "strlen.S:12: ret" in unb
    syn = _results(spec, "syntax").tests[0].output
    assert syn == "build error: strlen.S:8: invalid operand: 'inc eaxx'"


def test_reports_are_the_same_on_interp_and_tcg(spec):
    for name in EXPECTED:
        a = grade(spec, os.path.join(SUBS, name), name, "interp")
        b = grade(spec, os.path.join(SUBS, name), name, "tcg")
        assert [(t.outcome, t.output, t.icount) for t in a.tests] == \
            [(t.outcome, t.output, t.icount) for t in b.tests]


def test_gradescope_results_json(spec, tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["grade", SPEC, os.path.join(SUBS, "wrong"), "--format", "gradescope",
                 "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["score"] == 8
    assert isinstance(doc["execution_time"], float)
    for key in ("output", "visibility", "stdout_visibility"):
        assert isinstance(doc[key], str)
    assert [t["status"] for t in doc["tests"]] == ["failed"] + ["passed"] * 4
    assert [t["visibility"] for t in doc["tests"]] == \
        ["visible", "visible", "visible", "after_due_date", "hidden"]
    for t in doc["tests"]:
        assert set(t) == {"name", "score", "max_score", "status", "output", "visibility", "tags"}
    assert doc["tests"][1]["tags"] == ["basic"]
    assert doc["tests"][0]["max_score"] == 2 and doc["tests"][0]["score"] == 0
    assert ROOT not in out.read_text()                    # no host paths


def test_junit(spec):
    xml = report.junit(spec, _results(spec, "faults"))
    suite = ET.fromstring(xml)
    assert suite.get("tests") == "5" and suite.get("failures") == "2"
    cases = suite.findall("testcase")
    assert cases[0].find("failure").get("type") == "fault"
    assert cases[1].find("failure") is None


def test_text_report_through_the_cli(capsys):
    assert main(["grade", SPEC, os.path.join(SUBS, "loops")]) == 0
    out = capsys.readouterr().out
    assert "score 2/10" in out and "does not terminate: loop at 0x" in out


def test_batch(tmp_path, capsys):
    subs = [os.path.join(SUBS, n) for n in sorted(EXPECTED)]
    assert main(["grade", SPEC, *subs, "--out-dir", str(tmp_path), "--jobs", "2"]) == 0
    rows = (tmp_path / "summary.csv").read_text().splitlines()
    assert rows[0] == "submission,score,max_score,instructions"
    got = {r.split(",")[0]: float(r.split(",")[1]) for r in rows[1:]}
    assert got == {n: v[0] for n, v in EXPECTED.items()}
    assert json.loads((tmp_path / "wrong.json").read_text())["score"] == 8
    assert "7 submissions" in capsys.readouterr().out


# -- hostile submissions --------------------------------------------------------------

def _submission(tmp_path, text):
    d = tmp_path / "sub"
    d.mkdir()
    p = d / "strlen.S"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return str(d)


@pytest.mark.parametrize("include", ['.include "/etc/passwd"', '%include "../../etc/passwd"',
                                     '.incbin "/etc/passwd"', 'incbin "/etc/passwd", 0, 64',
                                     '.include "../strlen.toml"'])
def test_includes_outside_the_submission_are_build_errors(spec, tmp_path, include):
    r = grade(spec, _submission(tmp_path, include + "\nstrlen:\n    ret\n"))
    assert [t.outcome for t in r.tests] == ["build-error"] * 5
    assert "cannot include" in r.build_error and "root:" not in r.build_error
    assert "/etc" not in r.tests[0].output or "passwd" in include


@pytest.mark.parametrize("data, why", [(b"\x7fELF\x00\x01garbage", "binary data"),
                                       (b"\xff\xfe strlen", "not UTF-8"),
                                       (b"nop\n" * 300000, "bytes; expected a source of at most")])
def test_garbage_submissions_are_build_errors(spec, tmp_path, data, why):
    r = grade(spec, _submission(tmp_path, data))
    assert why in r.build_error
    assert r.score == 0


def test_missing_function_is_a_build_error(spec, tmp_path):
    r = grade(spec, _submission(tmp_path, "my_strlen:\n    ret\n"))
    assert r.build_error.startswith("no label 'strlen'")


def test_include_inside_the_submission_works(spec, tmp_path):
    d = _submission(tmp_path, '.include "impl.inc"\n')
    shutil.copy(os.path.join(SUBS, "correct", "strlen.S"), os.path.join(d, "impl.inc"))
    assert grade(spec, d).score == 10


# -- malformed specs ------------------------------------------------------------------

GOOD = open(SPEC).read()


def _edited_spec(tmp_path, old, new) -> str:
    """The lab's spec with one edit, next to copies of its harness and data."""
    assert old in GOOD
    bad = tmp_path / "strlen.toml"
    bad.write_text(GOOD.replace(old, new, 1))
    for f in ("harness.S", "data.S"):
        shutil.copy(os.path.join(LAB, f), tmp_path / f)
    return str(bad)


@pytest.mark.parametrize("edit, where", [
    (("points = 3\ntags", "pointz = 3\ntags"), "strlen.toml:33: test[1].pointz: unknown key"),
    (("points = 3\ntags", "tags"), "strlen.toml:31: test[1]: missing key 'points'"),
    (('bits = 32', 'bits = "32"'), "strlen.toml:5: assignment.bits: str '32'; expected an integer"),
    (('args = ["greeting"]\nexpect.return = 12',
      'args = ["greting"]\nexpect.return = 12'),
     "strlen.toml:35: test[1].args: label 'greting' is defined nowhere"),
    (('arch = "x86"', 'arch = "arm"'),
     "strlen.toml:57: test[4].expect.forbid: 'imul' is not an instruction the decoder names "
     "(did you mean mul, umull, smull?); expected mnemonics such as mul, udiv, ldm"),
    (('arch = "x86"', 'arch = "mips"'), "strlen.toml:4: assignment.arch: 'mips'; expected one of: x86, arm, python"),
    (('visibility = "hidden"', 'visibility = "secret"'), "strlen.toml:54: test[4].visibility: 'secret'"),
    (('instructions = 20000', 'instructions = 2e4'), "strlen.toml:13: limits.instructions: float"),
    (('"imul", "div"', '"mull", "div"'),
     "strlen.toml:57: test[4].expect.forbid: 'mull' is not an instruction the decoder names "
     "(did you mean mul"),
    (('expect.forbid = ["mul"', 'expect.allow = ["mov", "ret", "jnz"]\nexpect.forbid = ["mul"'),
     "strlen.toml:57: test[4].expect.allow: 'jnz' is not an instruction the decoder names"),
])
def test_malformed_spec(tmp_path, capsys, edit, where):
    bad = _edited_spec(tmp_path, *edit)
    with pytest.raises(SpecError) as e:
        load(bad)
    assert str(e.value).startswith(where)
    assert main(["grade", bad, os.path.join(SUBS, "correct")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emu grade: " + where) and err.count("\n") == 1


def test_not_toml(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text("[assignment\n")
    with pytest.raises(SpecError, match=r"^s.toml:1: not valid TOML"):
        load(str(bad))


def test_a_link_out_of_the_submission_is_a_build_error(spec, tmp_path):
    d = tmp_path / "sub"
    d.mkdir()
    os.symlink("/etc/passwd", d / "strlen.S")
    r = grade(spec, str(d))
    assert "link out of the submission" in r.build_error and "root" not in r.build_error


def test_the_guest_library_may_be_included(spec, tmp_path):
    text = open(os.path.join(SUBS, "correct", "strlen.S")).read()
    d = _submission(tmp_path, text + '.include "serial32.inc"\n')
    assert grade(spec, d).score == 10


@pytest.mark.slow
def test_batch_of_500(tmp_path, capsys):
    """500 submissions (the seven, repeated) with --jobs 2: every one is
    graded in its own process and scored as when graded alone."""
    names = sorted(EXPECTED)
    subs = []
    for i in range(500):
        name = names[i % len(names)]
        d = tmp_path / "in" / f"s{i:03d}_{name}"
        shutil.copytree(os.path.join(SUBS, name), d)
        subs.append(str(d))
    out = tmp_path / "out"
    assert main(["grade", SPEC, *subs, "--out-dir", str(out), "--jobs", "2"]) == 0
    rows = (out / "summary.csv").read_text().splitlines()[1:]
    assert len(rows) == 500
    for row in rows:
        sub, score = row.split(",")[:2]
        assert float(score) == EXPECTED[sub.split("_", 1)[1]][0]
    assert "500 submissions" in capsys.readouterr().out


@pytest.mark.parametrize("edit, where", [
    (("no_code_writes = true", "no_code_write = true"),
     "strlen.toml:23: defaults.expect.no_code_write: unknown key"),
    (("preserves = true", "preserves = 1"),
     "strlen.toml:21: defaults.expect.preserves: int 1; expected true or false"),
    (('call = "strlen"', "call = true"), "strlen.toml:19: defaults.call: bool True; expected a string"),
])
def test_malformed_defaults(tmp_path, edit, where):
    with pytest.raises(SpecError) as e:
        load(_edited_spec(tmp_path, *edit))
    assert str(e.value).startswith(where)


def test_leaderboard_and_build_error_in_results_json(tmp_path):
    spec = load(_edited_spec(tmp_path, "trace = 8", "trace = 8\nleaderboard = true"))
    doc = report.gradescope(spec, _results(spec, "correct"))
    assert doc["leaderboard"] == [{"name": "instructions executed",
                                   "value": _results(spec, "correct").icount, "order": "asc"}]
    assert sum(t.icount for t in _results(spec, "correct").tests) == doc["leaderboard"][0]["value"]
    doc = report.gradescope(spec, _results(spec, "syntax"))
    assert doc["score"] == 0 and doc["output"] == "build error: strlen.S:8: invalid operand: 'inc eaxx'"
    assert [t["status"] for t in doc["tests"]] == ["failed"] * 5


def test_histogram_png(tmp_path, capsys):
    png = tmp_path / "h.png"
    subs = [os.path.join(SUBS, n) for n in ("correct", "wrong")]
    status = main(["grade", SPEC, *subs, "--out-dir", str(tmp_path), "--histogram-png", str(png)])
    try:
        import matplotlib  # noqa: F401  (the optional 'plot' extra)
    except ImportError:
        assert status == 2
        assert capsys.readouterr().err == ("emu grade: --histogram-png needs matplotlib (the 'plot' "
                                           "extra: pip install -e .[plot])\n")
        assert not png.exists()
    else:
        assert status == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_grading_process_that_dies_is_one_failed_row(tmp_path, capsys, monkeypatch):
    """A child whose address space is too small to grade fails alone: its
    row is 0 and says why, the other submissions are unaffected."""
    from emu.grade import command
    subs = [os.path.join(SUBS, n) for n in ("correct", "wrong")]
    monkeypatch.setattr(command, "CHILD_MEMORY", 1 << 20)
    assert main(["grade", SPEC, *subs, "--out-dir", str(tmp_path / "a")]) == 0
    rows = (tmp_path / "a" / "summary.csv").read_text().splitlines()
    assert rows[1:] == ["correct,0,10,0", "wrong,0,10,0"]
    doc = json.loads((tmp_path / "a" / "correct.json").read_text())
    assert doc["output"] == "grading failed: exit status 1"
    monkeypatch.setattr(command, "CHILD_MEMORY", 1 << 30)
    assert main(["grade", SPEC, *subs, "--out-dir", str(tmp_path / "b")]) == 0
    rows = (tmp_path / "b" / "summary.csv").read_text().splitlines()
    assert [r.split(",")[:2] for r in rows[1:]] == [["correct", "10"], ["wrong", "8"]]


@pytest.mark.parametrize("edit, where", [
    (('args = ["greeting"]\nexpect.return = 12',
      'args = ["greeting"]\nsetup.memory = [{ at = 0xFFFFF, asciz = "ab" }]\nexpect.return = 12'),
     "strlen.toml:36: test[1].setup.memory[0].at: 0xfffff: 3 bytes there are outside RAM; "
     "expected an address from 0x0 to 0xffffd"),
    (('harness = "harness.S"', '# no harness'),
     "strlen.toml:19: test[0].call: a call into 32-bit code needs build.harness"),
    (("bits = 32 ", "interrupts = true\nbits = 32 "),
     "strlen.toml:5: assignment.interrupts: the harness sets up interrupts"),
])
def test_spec_errors_found_before_running(tmp_path, edit, where):
    with pytest.raises(SpecError) as e:
        load(_edited_spec(tmp_path, *edit))
    assert str(e.value).startswith(where)


@pytest.mark.parametrize("argv, err", [
    (["nope.toml", SUBS], "emu grade: nope.toml: cannot read the spec (No such file or directory)\n"),
    ([SPEC, "no-such-folder"], "emu grade: no-such-folder: not a folder; expected a submission folder\n"),
    ([SPEC, SUBS, "--jobs", "0"], "emu grade: --jobs 0: expected 1 or more\n"),
    ([SPEC], "emu grade: expected one or more submission folders after the spec\n"),
])
def test_bad_command_lines(capsys, argv, err):
    assert main(["grade", *argv]) == 2
    assert capsys.readouterr().err == err


def test_a_missing_include_names_no_host_path(spec, tmp_path):
    r = grade(spec, _submission(tmp_path, '.include "missing.inc"\n'))
    assert r.build_error == ("strlen.S:1: cannot include 'missing.inc': no such file "
                             "(looked next to strlen.S and in kasou's guest library)")
