"""The ARM7TDMI single-instruction vectors (ARM state, 19 files, 3,800
tests) through the Machine, on every engine that runs ARM guests
(``ArmTarget.engines``) and models the ARM7TDMI: each test is one ``Machine.run`` of one
instruction on the ``arm-none`` board, whose memory is the test's recorded
transactions (``emu/isa/arm/vectors.py``, ``/work/shared/conformance/
README.md`` section 3).

The expected states are the suite's, recorded from an emulator
(NanoBoyAdvance), not from a chip.  Every test must pass except those
``known_failures.json`` lists with a reason (a listed test that starts
passing fails too), and at least 99 % must pass.  The suite is found, every
file's sha256 checked, as the x86 suites are (``emu/vectors.json``).
"""

import copy
import gzip
import json
import os
import subprocess
import sys

import pytest

from emu.accel.base import cpu_engines
from emu.conformance import Runner, explain_difference, pass_rate, run_dir
from emu.isa.arm.target import TARGET
from emu.machine import Machine

CPU = "arm7tdmi"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KNOWN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "known_failures.json")
FILES = ("b_bl bx cdp data_proc_immediate data_proc_immediate_shift data_proc_register_shift "
         "ldm_stm ldr_str_immediate_offset ldrh_strh ldrsb_ldrsh mcr_rc mrs msr_imm msr_reg "
         "mul_mla mull_mlal stc_ldc swi swp").split()


def known() -> dict:
    with open(KNOWN) as f:
        return {name: set(map(int, ids)) for name, ids in json.load(f)[CPU].items()}


def vectors(suite_dir, name) -> list:
    with gzip.open(os.path.join(suite_dir(CPU), name + ".json.gz")) as f:
        return json.load(f)


#: the engines that run ARM guests and model the ARM7TDMI (unicorn has no ARMv4T core)
ENGINES = tuple(a for a in TARGET.engines if a in cpu_engines(CPU))


def test_the_suite_runs_on_the_translator_too():
    assert "interp" in ENGINES and "tcg" in ENGINES


@pytest.mark.parametrize("accel", ENGINES)
def test_suite_on_every_arm_engine(suite_dir, accel):
    details = {}
    r = run_dir(suite_dir(CPU), CPU, accel, details=details)
    assert sorted(r["files"]) == sorted(f + ".json.gz" for f in FILES)
    assert r["total"] == 3800 and r["unsupported"] == 0 and r["skipped"] == 0
    failed = {name: set(fr["failed_ids"]) for name, fr in r["files"].items() if fr["failed_ids"]}
    listed = known()
    new = {name: sorted(ids - listed.get(name, set())) for name, ids in failed.items()}
    new = {name: ids for name, ids in new.items() if ids}
    fixed = {name: sorted(ids - failed.get(name, set())) for name, ids in listed.items()}
    fixed = {name: ids for name, ids in fixed.items() if ids}
    assert not new, "failing but not in known_failures.json: " + "; ".join(
        f"{name} #{vid}: {' / '.join(details[name][vid])}"
        for name, ids in new.items() for vid in ids)
    assert not fixed, f"listed in known_failures.json but passing now: {fixed}"
    assert pass_rate(r) >= 0.99


def test_every_class_is_exercised(suite_dir):
    """Each file holds both passing and failing conditions: the reader runs
    the instruction (some tests change more than R15) and skips it on a
    failed condition (some change only R15)."""
    for name in FILES:
        tests = vectors(suite_dir, name)
        changed = sum(1 for t in tests
                      if t["final"]["R"][:15] != t["initial"]["R"][:15]
                      or t["final"]["CPSR"] != t["initial"]["CPSR"]
                      or any(tr["kind"] == 2 for tr in t["transactions"]))
        assert 0 < changed < len(tests), name


@pytest.fixture(scope="module")
def runner():
    r = Runner(CPU, "interp")
    yield r
    r.close()


def _judge(runner, vec):
    return runner.run_vector(vec, runner.reader.opcode_entry({}, vec)["flags-mask"])


def test_wrong_results_are_reported(suite_dir, runner):
    """The judge can fail: an altered register, flag, SPSR, write or recorded
    read is reported, in words with -v."""
    t = vectors(suite_dir, "data_proc_immediate")[0]
    assert _judge(runner, t) == ("pass", [])
    bad = copy.deepcopy(t)
    bad["final"]["R"][0] ^= 1
    verdict, diffs = _judge(runner, bad)
    assert verdict == "fail" and diffs[0].startswith("r0 ")
    assert explain_difference(diffs[0], runner.reader).startswith("r0: got ")
    bad = copy.deepcopy(t)
    bad["final"]["CPSR"] ^= 1 << 31
    verdict, diffs = _judge(runner, bad)
    assert verdict == "fail"
    assert "N got " in explain_difference(diffs[0], runner.reader)
    bad = copy.deepcopy(t)
    bad["final"]["SPSR"][1] ^= 4
    assert _judge(runner, bad)[1] and _judge(runner, bad)[1][0].startswith("spsr_svc ")

    store = next(v for v in vectors(suite_dir, "ldr_str_immediate_offset")
                 if any(tr["kind"] == 2 for tr in v["transactions"]))
    assert _judge(runner, store) == ("pass", [])
    bad = copy.deepcopy(store)
    next(tr for tr in bad["transactions"] if tr["kind"] == 2)["data"] ^= 1
    verdict, diffs = _judge(runner, bad)
    assert verdict == "fail" and diffs[-1].startswith("writes: got ")

    load = next(v for v in vectors(suite_dir, "ldr_str_immediate_offset")
                if any(tr["kind"] == 1 for tr in v["transactions"]))
    assert _judge(runner, load) == ("pass", [])
    bad = copy.deepcopy(load)
    bad["transactions"] = [tr for tr in bad["transactions"] if tr["kind"] != 1]
    verdict, diffs = _judge(runner, bad)
    assert verdict == "fail" and any("has no transaction in the recording" in d for d in diffs)


@pytest.mark.parametrize("accel", ENGINES)
def test_every_write_of_an_instruction_is_served_within_its_limit(accel):
    """An STM that writes three words on a bus outside RAM makes three MMIO
    exits; a run of one instruction serves all three before it ends (before,
    the last two waited in the engine for the next run)."""
    m = Machine("arm-none", accel=accel, cpu=CPU, memory=4096)
    try:
        memory = m.devices["memory"]
        stm = 0xE8800007                # stm r0, {r0, r1, r2}
        memory.replay((), {0x1000: stm}, 0)
        s = m.cpu
        s.r[0], s.r[1], s.r[2] = 0x2000, 0x11, 0x22
        s.pc = 0x1000
        m.accel.state_changed()
        r = m.run(icount_limit=1)
        assert r.reason == "limit"
        assert memory.writes == [(0x2000, 4, 0x2000), (0x2004, 4, 0x11), (0x2008, 4, 0x22)]
    finally:
        m.close()


def test_cli_runs_the_pinned_suite_and_explains_failures():
    r = subprocess.run([sys.executable, "-m", "emu", "conformance", "arm7tdmi", "-cpu", CPU,
                        "-accel", "interp", "--files", "mrs", "-v"],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "mrs.json.gz      192/200" in r.stdout
    assert "#8 010ff000 mrseq pc, apsr:" in r.stdout
    assert "r15: got 6000005b, expected 60000057" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("total: 192/200 passed (96.00% of judged)")


def test_cli_takes_the_suites_own_cpu_by_default(suite_dir):
    """Without -cpu, the CPU the suite was recorded for (emu/vectors.json)."""
    r = subprocess.run([sys.executable, "-m", "emu", "conformance", suite_dir(CPU),
                        "--files", "swi"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "cpu=arm7tdmi" in r.stdout and "total: 200/200 passed" in r.stdout


def test_the_arm_none_board_loads_no_program(tmp_path):
    image = tmp_path / "x.bin"
    image.write_bytes(b"\x00" * 4)
    r = subprocess.run([sys.executable, "-m", "emu", "run", "-M", "arm-none", str(image)],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "machine 'arm-none' loads no program" in r.stderr


def test_a_suite_upstream_publishes_only_as_json_bin_is_never_downloaded(tmp_path):
    """The ARM7TDMI files are pinned, found in a local copy, and never
    fetched: upstream has them only as .json.bin, which kasou does not
    convert; fetch says so in one line, without trying the network."""
    from emu import vectors
    lock = {"arm7tdmi": vectors.load_lock()["arm7tdmi"]}
    assert {p["make"] for p in lock["arm7tdmi"]["files"].values()} == {"copy", "json-bin"}
    lock["arm7tdmi"]["files"] = {k: v for k, v in lock["arm7tdmi"]["files"].items()
                                 if v["make"] == "json-bin"}

    def opener(url):
        raise AssertionError(f"downloaded {url}")
    with pytest.raises(vectors.VectorsMissing) as e:
        vectors.fetch(cache=str(tmp_path / "cache"), local=[], opener=opener, lock=lock,
                      log=lambda s: None)
    assert "\n" not in str(e.value)
    assert "publishes it only as v1/b_bl.json.bin" in str(e.value)
