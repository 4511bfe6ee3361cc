"""``emu bench`` as a user meets it: the table, the terminal chart, --json
(its documented schema), --plot, unicorn's mode and bare unicorn, and bad
input as one line."""

import json
import os
import subprocess
import sys

import pytest

from emu.cli import accel_available

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = {"guest", "mode", "engine", "instructions", "instructions_by", "seconds", "runs", "mips",
          "ratio", "exits", "unicorn_mode", "output_ok", "stop", "status"}
pytestmark = pytest.mark.skipif(not accel_available("unicorn")[0], reason="unicorn is not installed")


def emu(*args):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "emu", *args], capture_output=True, cwd=REPO,
                          env=env, timeout=300)


def one_line_error(r):
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.fixture(scope="module")
def fib_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "fib.json"
    r = emu("bench", "--guests", "fib", "--repeat", "2", "-accel", "interp,unicorn,unicorn-bare",
            "--json", str(out))
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode(), json.loads(out.read_text())


def test_json_rows_follow_the_schema(fib_bench):
    _, doc = fib_bench
    rows = {r["engine"]: r for r in doc["results"]}
    assert doc["repeat"] == 2 and list(rows) == ["interp", "unicorn", "unicorn-bare"]
    for r in rows.values():
        assert set(r) == SCHEMA
        assert (r["guest"], r["mode"], r["stop"], r["status"], r["output_ok"]) == \
            ("fib", "real", "debug-exit", 1, True)
        assert len(r["runs"]) == 2 and r["seconds"] in r["runs"]
        assert r["instructions"] == rows["interp"]["instructions"] > 0
        assert r["mips"] == pytest.approx(r["instructions"] / r["seconds"] / 1e6)
        assert r["ratio"] == pytest.approx(r["mips"] / rows["interp"]["mips"])
    assert rows["interp"]["instructions_by"] == "interp" and rows["interp"]["unicorn_mode"] is None
    assert (rows["unicorn"]["unicorn_mode"], rows["unicorn"]["instructions_by"]) == ("free", "interp")
    assert (rows["unicorn-bare"]["unicorn_mode"], rows["unicorn-bare"]["exits"]) == ("bare", {})
    assert rows["unicorn"]["exits"] == rows["interp"]["exits"] == {"IO": 6}


def test_the_table_says_how_unicorn_ran_and_draws_a_chart(fib_bench):
    text, _ = fib_bench
    assert "~ unicorn: unicorn ran free (count=free: no block hook, no count)" in text
    assert "the count is interp's for the same guest" in text
    assert "Each figure is the median of 2 runs." in text
    assert "MIPS (log scale: 0.1 to 10000 over 40 columns)" in text
    bars = [line for line in text.splitlines() if line.startswith("fib ") and "|#" in line]
    assert [b.split()[1] for b in bars] == ["interp", "unicorn", "unicorn-bare"]


def test_plot_writes_a_png_instead_of_the_terminal_chart_and_unicorn_can_count(tmp_path):
    png, out = tmp_path / "mips.png", tmp_path / "b.json"
    r = emu("bench", "--guests", "fib", "--repeat", "1", "-accel", "unicorn", "--unicorn-count", "exact",
            "--plot", str(png), "--json", str(out))
    assert r.returncode == 0, r.stderr.decode()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"chart: {png}" in r.stdout.decode() and "log scale" not in r.stdout.decode()
    (row,) = json.loads(out.read_text())["results"]
    assert (row["unicorn_mode"], row["instructions_by"], row["instructions"]) == ("exact", "unicorn", 66935)


@pytest.mark.parametrize("args, expect", [
    (("--suite", "nosuch"), "invalid choice: 'nosuch'"),
    (("--repeat", "0"), "must be positive"),
    (("--guests", "rm_fib,nosuch"), "emu bench: unknown bench guest 'nosuch'"),
    (("--guests", "fib", "--repeat", "1", "-accel", "unicorn-bare", "--plot", "/nonexistent/dir/x.png"),
     "emu bench: --plot /nonexistent/dir/x.png: cannot write it"),
])
def test_bad_input_is_one_line(args, expect):
    assert expect in one_line_error(emu("bench", *args))


def test_arm_guests_run_on_the_engines_that_run_arm(tmp_path):
    """``--suite arm``: the Arm guests on the virt board; an engine that
    cannot run Arm (kvm) gets no row, unicorn runs them free (counted by
    interp, as the x86 guests) and Arm's bare unicorn runs them too, the
    output the same on every engine."""
    out = tmp_path / "arm.json"
    r = emu("bench", "--guests", "arm_intloop", "--repeat", "1", "-accel",
            "interp,tcg,unicorn,unicorn-bare", "--json", str(out))
    assert r.returncode == 0, r.stderr.decode()
    rows = {row["engine"]: row for row in json.loads(out.read_text())["results"]}
    assert list(rows) == ["interp", "tcg", "unicorn", "unicorn-bare"]
    for e, row in rows.items():
        assert (row["guest"], row["mode"], row["stop"], row["output_ok"]) == \
            ("arm_intloop", "a32", "debug-exit", True)
        assert row["instructions_by"] == (e if e in ("interp", "tcg") else "interp")
        assert row["instructions"] == rows["interp"]["instructions"] > 200_000
    assert (rows["unicorn"]["unicorn_mode"], rows["unicorn-bare"]["unicorn_mode"]) == ("free", "bare")
    assert rows["interp"]["exits"] == rows["tcg"]["exits"] == rows["unicorn"]["exits"]
    assert "unicorn engine: free runs on arm_intloop" in r.stdout.decode()


def test_the_plan_comes_first_then_each_row_as_it_is_measured():
    """Before anything runs, the bench says what it will run; each row is
    printed on its own line when measured, before the summary table."""
    r = emu("bench", "--guests", "fib", "--repeat", "1", "-accel", "interp,unicorn")
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert lines[:5] == ["emu bench: 1 guest(s) x 2 engine(s), 1 run", "  guests:  fib",
                         "  engines: interp, unicorn", "  scale:   fixed size (no SCALE): fib",
                         lines[4]]
    assert lines[4].startswith("  unicorn: free runs (count=free")
    live = lines.index("measured so far (guest, engine, instructions, seconds, MIPS, how it "
                       "ended, exits):")
    interp, unicorn = lines[live + 1].split(), lines[live + 2].split()
    assert interp[:3] == ["fib", "interp", "66935"] and interp[-3:] == ["debug-exit", "IO", "6"]
    assert unicorn[:4] == ["fib", "unicorn", "[free]", "~66935"]
    assert lines.index("unicorn engine: free runs on fib") > live + 2


def test_the_plan_gives_the_size_of_every_guest_that_has_one():
    """The new guests of both architectures are assembled at their SCALE
    and the plan says which; a classic guest has a fixed size."""
    from emu import bench
    plan = bench.plan_lines(["rm_fib", "a32_fib", "fib"], ["interp"], 1, "free")
    sizes = f"rm_fib {bench.default_scale('rm_fib')}, a32_fib {bench.default_scale('a32_fib')}"
    assert f"  scale:   SCALE of each source ({sizes})" in plan
    assert "  scale:   fixed size (no SCALE): fib" in plan


def test_ctrl_c_prints_the_rows_measured_so_far_and_one_line():
    """SIGINT while the second guest runs (on interp: seconds): the first guest's rows as a
    table, then 'emu: interrupted' alone on stderr, status 130."""
    import signal
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-m", "emu", "bench", "--guests", "fib,rm_lcg",
                          "--repeat", "1", "-accel", "interp,tcg"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=REPO, env=env)
    seen = []
    for line in p.stdout:
        seen.append(line.decode())
        if line.split()[:2] == [b"fib", b"tcg"]:
            break
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    text = "".join(seen) + out.decode()
    assert p.returncode == 130 and err.decode() == "emu: interrupted\n", err
    table = text[text.index("interrupted: the "):]
    assert table.startswith("interrupted: the 2 row(s) measured so far")
    rows = [line.split() for line in table.splitlines() if line.startswith("fib ")]
    assert [r[1] for r in rows] == ["interp", "tcg"] and all(r[2] == "66935" for r in rows)
    assert "rm_lcg" not in table
