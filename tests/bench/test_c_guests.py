"""The C bench guests (emu/guests/c, built with gcc and arm-none-eabi-gcc
when run) against the Python models of what they print
(tests/bench/c_models.py, written from the sources' descriptions, not from
any engine's output), at reduced sizes on every engine that runs their
architecture; the slow run checks the full sizes on the translator and
that each runs at least five million instructions."""

import pytest

from emu import bench, cguests
from tests.bench.c_models import expected_output
from tests.differential.test_timer import need

#: small sizes: one sort of 1000 ints, two matrix products, two hash passes,
#: one bubble sort of 250 values, 1000 decimal strings, one 4 KiB text,
#: 1000 pairs divided
REDUCED = {"qsort": 1, "matmul": 2, "hash": 2, "bsort": 1, "itoa": 1, "fsm": 1, "gcd": 1}
MEMORY = 128 << 20
LIMIT = 100_000_000
X86_ENGINES = ("interp", "tcg", "unicorn", "kvm")
A32_ENGINES = ("interp", "tcg", "unicorn")


def run(image, guest, engine):
    need(engine)
    return bench.run_once(image, engine, "exact", MEMORY, LIMIT, board=bench.guest_board(guest))


@pytest.fixture(scope="module")
def reduced_images():
    return {g: bench.guest_image(g, REDUCED[cguests.kind(g)]) for g in bench.SUITES["c"]}


CASES = [(g, e) for g in sorted(cguests.X86) for e in X86_ENGINES] + \
        [(g, e) for g in sorted(cguests.A32) for e in A32_ENGINES]


@pytest.mark.parametrize("guest, engine", CASES)
def test_reduced_guest_prints_the_models_checksum(guest, engine, reduced_images):
    r = run(reduced_images[guest], guest, engine)
    assert r["output"] == expected_output(cguests.kind(guest), REDUCED[cguests.kind(guest)]), \
        (guest, engine, r["stop_message"])
    # isa-debug-exit with 0 is status 1 on the pc board; semihosting's exit is 0
    assert (r["stop"], r["status"]) == ("debug-exit", 1 if guest in cguests.X86 else 0)


@pytest.mark.slow
@pytest.mark.parametrize("guest", sorted(bench.SUITES["c"]))
def test_full_size_guest_on_the_translator(guest):
    r = run(bench.guest_image(guest), guest, "tcg")
    assert r["output"] == expected_output(cguests.kind(guest), bench.default_scale(guest))
    assert r["icount"] >= 5_000_000


def test_the_c_suite_names_every_guest_on_its_board_and_mode():
    assert set(bench.guests_for("c", None)) == set(cguests.X86) | set(cguests.A32)
    for g in cguests.X86:
        assert (bench.guest_board(g), bench.guest_mode(g)) == ("pc", "protected")
    for g in cguests.A32:
        assert (bench.guest_board(g), bench.guest_mode(g)) == ("virt", "a32")
        assert bench.default_scale(g) > REDUCED[cguests.kind(g)]


def test_scale_changes_what_is_built():
    assert bench.guest_image("pmc_qsort", 5).data != bench.guest_image("pmc_qsort", 6).data


def test_a_missing_compiler_is_one_line_naming_it_and_its_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(bench.BenchError) as e:
        bench.guest_image("a32c_fsm")
    assert str(e.value) == ("guest 'a32c_fsm': arm-none-eabi-gcc not found (the C bench guests "
                            "are built with it; expected Debian's gcc-arm-none-eabi: make deps "
                            "installs it)")


def test_bad_scale_is_refused():
    with pytest.raises(bench.BenchError) as e:
        bench.guest_image("pmc_itoa", 0)
    assert str(e.value) == "SCALE 0: expected a positive number"
