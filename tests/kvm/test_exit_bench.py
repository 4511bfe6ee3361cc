"""``emu bench --kvm-exit``: the C yardstick (kvm/bench/kvm_exit.c, built
here with gcc) and kasou's kvm engine measured on the same guest, and the
ioeventfd doorbell demonstration.  No timing is asserted -- only that every
figure was measured, and what each run must have done (exits made or
taken by ioeventfd).  Skipped only where /dev/kvm is absent."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import tool
from kvm import exitbench

requires_kvm = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                  reason="/dev/kvm is absent on this host")


@requires_kvm
def test_the_c_program_builds_and_makes_one_io_exit_per_run(tmp_path):
    exe = exitbench.build_c(tool("gcc"), str(tmp_path))
    r = subprocess.run([exe, "200", "3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 4 and lines[-1].startswith("median ")
    assert all(float(x.split()[1]) > 0 for x in lines)


def test_the_c_program_refuses_bad_arguments(tmp_path):
    exe = exitbench.build_c(tool("gcc"), str(tmp_path))
    r = subprocess.run([exe, "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "usage" in r.stderr


@requires_kvm
def test_bench_measures_c_and_the_engine_and_ioeventfd():
    res = exitbench.kvm_exit_bench(exits=200, samples=1, notifications=300)
    assert "c_unavailable" not in res
    for row in ("c", "python_ioctl", "python_vcpu", "engine", "machine", "device"):
        assert res[f"{row}_us"] > 0 and res[f"{row}_cpu_us"] > 0      # wall clock and CPU
    for row in ("python_ioctl", "python_vcpu", "engine", "machine", "device"):
        assert res[f"{row}_over_c"] > 0 and res[f"{row}_cpu_over_c"] > 0
    assert res["machine"]["exits"] == {"IO": 201}           # 200 OUTs and isa-debug-exit
    assert res["machine"]["served_in_engine"] == 0          # port 0x80: no device
    on, off = res["ioeventfd"]["on"], res["ioeventfd"]["off"]
    assert off["exits"] == {"IO": 301} and off["signalled"] == {}
    assert on["exits"] == {"IO": 1}                          # only isa-debug-exit
    assert on["signalled"] == {"IO out 0xc010": 300}
    text = "\n".join(exitbench.format_kvm_exit_bench(res))
    assert "ioeventfd=on" in text and "CPU" in text
    for _, what in exitbench.ROWS:                           # every row says what it measures
        assert what in text


@requires_kvm
def test_the_c_program_reports_wall_clock_and_cpu_time(tmp_path):
    exe = exitbench.build_c(tool("gcc"), str(tmp_path))
    r = subprocess.run([exe, "100", "1"], capture_output=True, text=True, timeout=120)
    words = r.stdout.splitlines()[-1].split()
    assert words[0] == "median" and words[2] == "cpu" and float(words[1]) > 0 and float(words[3]) > 0


@requires_kvm
def test_emu_bench_kvm_exit_prints_and_writes_json(tmp_path):
    out = tmp_path / "kvm.json"
    r = subprocess.run([sys.executable, "-m", "emu", "bench", "--kvm-exit", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "KVM exit round trip" in r.stdout
    doc = json.loads(out.read_text())["kvm_exit"]
    assert doc["c_us"] > 0 and doc["engine_us"] > 0
