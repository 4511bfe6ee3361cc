"""``-cpu 8086``/``286`` on engines that run a modern CPU (unicorn: QEMU's
TCG; kvm: the host) is refused, not silently run as ``max``: PUSH SP
pushes the decremented SP on the 8086 and the old one on the 286 and later
(8086 Family User's Manual "PUSH"; SDM Vol. 3A §22 "PUSH SP"), so such a
run would show the modern result under the old CPU's name, and ``emu diff``
would report the model difference as a divergence."""

import pytest

from test_cli import emu, write

# SP = 0x7000; PUSH SP; POP AX; AX = 0x6FFE on the 8086, 0x7000 from the 286 on
PUSH_SP = """
    mov sp, 0x7000
    push sp
    pop ax
    mov al, ah
    out 0xf4, al
"""


def one_error_line(r):
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr.decode()
    return lines[0]


@pytest.mark.parametrize("cpu", ["8086", "286"])
@pytest.mark.parametrize("accel", ["unicorn", "kvm"])
def test_run_refuses_an_old_cpu_on_a_modern_engine(tmp_path, cpu, accel):
    r = emu("run", "-cpu", cpu, "-accel", accel, write(tmp_path, "g.S", PUSH_SP))
    assert r.returncode == 2
    line = one_error_line(r)
    assert f"-cpu {cpu}" in line and accel in line
    assert "interp, tcg model -cpu 8086/286/max" in line and "unicorn, kvm model -cpu max" in line
    assert r.stdout == b""


@pytest.mark.parametrize("cpu, status", [("8086", (0x6F << 1) | 1), ("286", (0x70 << 1) | 1)])
def test_run_models_old_cpus_on_interp_and_tcg(tmp_path, cpu, status):
    g = write(tmp_path, "g.S", PUSH_SP)
    for accel in ("interp", "tcg"):
        assert emu("run", "-cpu", cpu, "-accel", accel, g).returncode == status


@pytest.mark.parametrize("pair", ["interp,unicorn", "kvm,tcg"])
def test_diff_refuses_engines_that_model_different_cpus(tmp_path, pair):
    r = emu("diff", "-cpu", "8086", "-accel", pair, write(tmp_path, "g.S", PUSH_SP))
    assert r.returncode == 2
    line = one_error_line(r)
    assert "-cpu 8086 is not modelled by -accel" in line
    assert r.stdout == b""


def test_diff_of_two_engines_that_model_the_cpu_runs(tmp_path):
    r = emu("diff", "-cpu", "8086", "-accel", "interp,tcg", write(tmp_path, "g.S", PUSH_SP))
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"no divergence" in r.stdout
