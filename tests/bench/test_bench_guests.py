"""The bench guests (emu/guests/bench) on every engine, against the Python
models of what they print (tests/bench/models.py, written from the guests'
descriptions, not from any engine's output).

The default run assembles each guest at a reduced SCALE (the guest's one
``.set SCALE, N`` line, rewritten by ``emu.bench.guest_image``); the slow
run runs the full sizes and checks that each runs at least ten million
instructions."""

import pytest

from emu import bench
from emu.isa import get_target
from tests.bench.models import expected_output
from tests.differential.test_timer import need

#: small sizes: 2,000 LCG steps, sieves below 2,000, two string passes, the
#: CRC message once, fib(12), 1 KiB printed
REDUCED = {"lcg": 2, "sieve": 20, "strings": 2, "crc32": 1, "fib": 12, "uart": 1, "intloop": 1}
MEMORY = 16 << 20
#: unicorn counting every instruction is the slowest on REP strings and sieves
#: (a Python hook per block): the slow run has it
ENGINES = ["interp", "tcg", "unicorn-free", "unicorn-bare", "kvm"]


def kind(guest):
    return guest.split("_", 1)[1]


def run(image, engine):
    """(output, status, stop) of one run of ``image`` on ``engine``."""
    if engine == "unicorn-bare":
        need("unicorn")
        r = bench.run_bare(image, MEMORY, get_target("x86"))
    elif engine.startswith("unicorn-"):
        need("unicorn")
        r = bench.run_once(image, "unicorn", engine.split("-")[1], MEMORY, None)
    else:
        need(engine)
        r = bench.run_once(image, engine, "exact", MEMORY, 100_000_000)
    return r["output"], r["status"], r["stop"]


@pytest.fixture(scope="module")
def reduced_images():
    return {g: bench.guest_image(g, REDUCED[kind(g)]) for g in bench.NEW}


@pytest.mark.parametrize("engine", ENGINES + [pytest.param("unicorn-exact", marks=pytest.mark.slow)])
@pytest.mark.parametrize("guest", sorted(bench.NEW))
def test_reduced_guest_prints_the_models_checksum(guest, engine, reduced_images):
    out, status, stop = run(reduced_images[guest], engine)
    assert out == expected_output(kind(guest), REDUCED[kind(guest)], bench.guest_mode(guest)), \
        (guest, engine, stop)
    assert (stop, status) == ("debug-exit", 1)


def test_every_new_guest_has_one_scale_line_and_a_model_for_its_kind():
    for g in bench.NEW:
        assert bench.default_scale(g) > REDUCED[kind(g)]
        assert bench.guest_mode(g) == ("real" if g.startswith("rm_") else "protected")


def test_scale_changes_what_is_assembled():
    small = bench.guest_image("rm_fib", 5).data
    assert small != bench.guest_image("rm_fib", 6).data
    assert small != bench.guest_image("rm_fib").data


@pytest.mark.parametrize("bad, expect", [
    (("nosuch", 3), "unknown bench guest 'nosuch'"),
    (("fib", 3), "guest 'fib' has no SCALE"),
    (("rm_fib", 0), "SCALE 0: expected a positive number"),
])
def test_bad_scale_requests_say_what_was_wrong(bad, expect):
    with pytest.raises(bench.BenchError) as e:
        bench.guest_image(*bad)
    assert str(e.value).startswith(expect)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["tcg", "unicorn-free", "unicorn-bare"])
@pytest.mark.parametrize("guest", sorted(bench.NEW))
def test_full_size_guest(guest, engine):
    image = bench.guest_image(guest)
    if engine == "tcg":
        r = bench.run_once(image, "tcg", "exact", MEMORY, 100_000_000)
        out, status, stop = r["output"], r["status"], r["stop"]
        assert r["icount"] >= 10_000_000
    else:
        out, status, stop = run(image, engine)
    assert out == expected_output(kind(guest), bench.default_scale(guest), bench.guest_mode(guest))
    assert (stop, status) == ("debug-exit", 1)
