"""emu grade SPEC --gradescope-bundle -o autograder.zip: the zip, unpacked
where Gradescope puts it, grades a submission laid out as Gradescope lays
it out.  setup.sh's install step (apt-get, a venv, pip from the package
index) is replaced here by a fresh venv that gets the bundled wheel with
--no-deps and finds kasou's dependencies in this test's environment."""

import json
import os
import site
import stat
import subprocess
import sys
import zipfile

import pytest

from emu.cli import main
from emu.grade.bundle import instructor_files
from emu.grade.spec import load

LAB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tutorials", "grading-x86")
SPEC = os.path.join(LAB, "strlen.toml")


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """/autograder as Gradescope lays it out: the zip in source/, kasou
    installed from the bundled wheel (and nothing else of this tree)."""
    base = tmp_path_factory.mktemp("autograder")
    zpath = base / "autograder.zip"
    assert main(["grade", SPEC, "--gradescope-bundle", "-o", str(zpath)]) == 0
    with zipfile.ZipFile(zpath) as z:
        z.extractall(base / "source")
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    for name, mode in modes.items():
        os.chmod(base / "source" / name, stat.S_IMODE(mode))
    venv = base / "kasou-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    wheel = next((base / "source" / "wheels").iterdir())
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(purelib, "test-deps.pth"), "w") as f:
        f.write("\n".join(site.getsitepackages()) + "\n")      # numpy, unicorn, ... from here
    return base, sorted(modes), py


def _grade(autograder, files):
    base, _, py = autograder
    sub = base / "submission"
    if sub.exists():
        for f in sub.iterdir():
            f.unlink()
    sub.mkdir(exist_ok=True)
    for name, text in files.items():
        (sub / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(KASOU_AUTOGRADER=str(base), KASOU_PYTHON=str(py))
    r = subprocess.run([str(base / "source" / "run_autograder")], env=env, cwd="/",
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads((base / "results" / "results.json").read_text())


def test_the_bundle_holds_what_gradescope_runs(autograder):
    base, names, py = autograder
    assert names[:2] == ["run_autograder", "setup.sh"]
    assert [n for n in names if n.startswith("spec/")] == ["spec/data.S", "spec/harness.S",
                                                           "spec/strlen.toml"]
    assert len([n for n in names if n.startswith("wheels/kasou-")]) == 1
    assert os.access(base / "source" / "run_autograder", os.X_OK)
    # kasou runs from the wheel, not from this source tree
    where = subprocess.run([str(py), "-c", "import emu; print(emu.__file__)"], cwd="/",
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert where.stdout.startswith(str(base / "kasou-venv"))


@pytest.mark.parametrize("submission, score", [("correct", 10), ("wrong", 8), ("syntax", 0)])
def test_run_autograder_writes_results_json(autograder, submission, score):
    folder = os.path.join(LAB, "submissions", submission)
    files = {f: open(os.path.join(folder, f)).read() for f in os.listdir(folder)}
    doc = _grade(autograder, files)
    assert doc["score"] == score
    assert [t["name"] for t in doc["tests"]] == [t.name for t in load(SPEC).tests]


def test_a_grading_failure_still_writes_results_json(autograder):
    base = autograder[0]
    spec = base / "source" / "spec" / "strlen.toml"
    text = spec.read_text()
    spec.write_text(text.replace("bits = 32", "bits = 33"))
    try:
        doc = _grade(autograder, {"strlen.S": "strlen:\n ret\n"})
    finally:
        spec.write_text(text)
    assert doc["score"] == 0 and doc["tests"] == []
    assert doc["output"].startswith("The autograder could not grade this submission: "
                                    "emu grade: strlen.toml:5: assignment.bits: 33")


def test_included_instructor_files_are_bundled(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "more.inc").write_text("more: db 1\n")
    (tmp_path / "h.S").write_text('%include "inc/more.inc"\nhlt\n')
    text = open(SPEC).read().replace('harness = "harness.S"', 'harness = "h.S"')
    text = text.replace('after = "data.S"', "").replace('args = ["empty"]', 'args = [{asciz = ""}]')
    text = text.replace('args = ["greeting"]', 'args = [{asciz = "hello, world"}]')
    (tmp_path / "s.toml").write_text(text)
    assert instructor_files(load(str(tmp_path / "s.toml"))) == ["s.toml", "h.S", "inc/more.inc"]


def test_bundle_needs_an_output_and_no_submissions(capsys):
    assert main(["grade", SPEC, "--gradescope-bundle"]) == 2
    assert capsys.readouterr().err == ("emu grade: --gradescope-bundle: expected SPEC -o FILE.zip "
                                       "and no submission folders\n")


def test_setup_sh_installs_the_assemblers_of_the_architecture():
    from emu.grade.bundle import setup_sh
    root = os.path.dirname(LAB)
    arm = load(os.path.join(root, "grading-arm", "sum.toml"))
    installs = [line for line in setup_sh(arm).splitlines() if line.startswith("apt-get install")]
    assert installs == ["apt-get install -y python3 python3-venv python3-pip binutils-arm-none-eabi"]
    x86 = [line for line in setup_sh(load(SPEC)).splitlines() if line.startswith("apt-get install")]
    assert x86 == ["apt-get install -y python3 python3-venv python3-pip nasm"]
