"""The A32 bench guests (emu/guests/bench/a32_*.S, the virt board) against
the Python models of what they print (tests/bench/models.py: the same
computations as the x86 guests of each kind, written from the guests'
descriptions, not from any engine's output): on kasou's engines at reduced
sizes, and on real QEMU (``qemu-system-arm -M virt -cpu cortex-a15
-semihosting``, a program nobody here wrote) at the guests' full sizes.
The slow run checks that each runs at least ten million instructions."""

import shutil
import subprocess

import pytest

from emu import bench
from tests.bench.models import expected_output
from tests.bench.test_bench_guests import REDUCED, kind
from tests.differential.test_timer import need

MEMORY = 128 << 20
LIMIT = 100_000_000
ENGINES = ("interp", "tcg", "unicorn")


def run(image, engine):
    need(engine)
    return bench.run_once(image, engine, "exact", MEMORY, LIMIT, board="virt")


@pytest.fixture(scope="module")
def reduced_images():
    return {g: bench.guest_image(g, REDUCED[kind(g)]) for g in bench.A32}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("guest", sorted(bench.A32))
def test_reduced_guest_prints_the_models_checksum(guest, engine, reduced_images):
    r = run(reduced_images[guest], engine)
    assert r["output"] == expected_output(kind(guest), REDUCED[kind(guest)], "a32"), (guest, engine, r)
    assert (r["stop"], r["status"]) == ("debug-exit", 0), r["stop_message"]


def qemu():
    path = shutil.which("qemu-system-arm")
    if path is None:
        pytest.skip("qemu-system-arm is not installed (make deps installs it): the A32 bench "
                    "guests are not checked on real QEMU here")
    return path


@pytest.mark.parametrize("guest", sorted(bench.A32))
def test_full_size_guest_on_qemu_prints_the_models_checksum(guest, tmp_path):
    """The image kasou runs, as a raw -kernel (QEMU's virt loads it at
    0x40010000 and enters it there, as kasou's does)."""
    image = tmp_path / f"{guest}.bin"
    image.write_bytes(bench.guest_image(guest).data)
    r = subprocess.run([qemu(), "-M", "virt", "-cpu", "cortex-a15", "-nographic", "-semihosting",
                        "-kernel", str(image)], capture_output=True, timeout=300)
    assert r.stdout == expected_output(kind(guest), bench.default_scale(guest), "a32"), r.stderr
    assert r.returncode == 0


def test_registered_in_the_new_suite_on_the_virt_board():
    assert set(bench.A32) == {f"a32_{k}" for k in bench.KINDS}
    assert set(bench.A32) < set(bench.SUITES["new"]) and set(bench.NEW) < set(bench.SUITES["new"])
    assert bench.guests_for(None, None) == bench.SUITES["new"]
    assert bench.guests_for(None, "a32_fib") == ("a32_fib",)
    for g in bench.A32:
        assert (bench.guest_mode(g), bench.guest_board(g)) == ("a32", "virt")
        assert bench.default_scale(g) > REDUCED[kind(g)]


def test_scale_changes_what_is_assembled():
    small = bench.guest_image("a32_fib", 5)
    assert small.data != bench.guest_image("a32_fib", 6).data
    assert small.data != bench.guest_image("a32_fib").data
    assert small.entry == bench.guest_image("a32_fib").entry == 0x40010000


def test_bench_runs_an_a32_guest_on_the_engines_that_run_arm(reduced_images):
    """run_bench as ``emu bench --guests a32_fib`` runs it: a row for each
    engine that runs Arm and for bare unicorn (no KVM), the same output on
    each."""
    for e in ENGINES:
        need(e)
    rows = bench.run_bench(["a32_fib"], list(ENGINES) + [bench.BARE, "kvm"], repeat=1,
                           memory=MEMORY, images={"a32_fib": reduced_images["a32_fib"]})
    assert [r["engine"] for r in rows] == list(ENGINES) + [bench.BARE]
    assert {r["output"] for r in rows} == {expected_output("fib", REDUCED["fib"])}
    assert all(r["output_ok"] and r["mode"] == "a32" for r in rows)
    assert rows[0]["instructions"] == rows[1]["instructions"] == rows[2]["instructions"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["tcg", "unicorn"])
@pytest.mark.parametrize("guest", sorted(bench.A32))
def test_full_size_guest(guest, engine):
    r = run(bench.guest_image(guest), engine)
    assert r["output"] == expected_output(kind(guest), bench.default_scale(guest), "a32")
    assert (r["stop"], r["status"]) == ("debug-exit", 0)
    assert r["icount"] >= 10_000_000
