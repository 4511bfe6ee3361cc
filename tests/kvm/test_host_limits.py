"""`emu run -accel kvm` where this host's KVM departs from the SDM, end to end
through the CLI on the real /dev/kvm.

Each guest is first run on the interpreter, which follows the SDM (the
reference); on KVM the expected end depends on what ``kvm.probe`` found on
this host: where the rule is honoured, KVM must end as the interpreter
does; where it is not, the run must end with kasou's explanation naming the
probed limit and suggesting ``emu diff -accel interp,kvm``.  Skipped only
where /dev/kvm is absent."""

import os
import signal
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUESTS = os.path.join(REPO, "tests", "guests", "x86")

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                reason="/dev/kvm is absent on this host: these tests run guests on it")

DIFF_HINT = "emu diff -accel interp,kvm"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("kasou-cache"))


@pytest.fixture(scope="module")
def limits(cache):
    os.environ["KASOU_CACHE_DIR"] = cache
    try:
        from kvm import probe
        return {x.name: x for x in probe.host_limits().limits}
    finally:
        del os.environ["KASOU_CACHE_DIR"]


def env(cache):
    e = dict(os.environ)
    e["PYTHONPATH"] = REPO + os.pathsep + e.get("PYTHONPATH", "")
    e["KASOU_CACHE_DIR"] = cache
    return e


def emu(cache, *args):
    r = subprocess.run([sys.executable, "-m", "emu", *args], capture_output=True, cwd=REPO,
                       env=env(cache), timeout=300)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode()


def assert_explained(err, limit):
    assert "Traceback" not in err, err
    notes = [line for line in err.splitlines() if line.startswith("emu: note:")]
    assert any(limit.meaning in line for line in notes), err
    assert any(DIFF_HINT in line for line in notes), err


def test_lidt_limit_0_then_int3(cache, limits):
    guest = os.path.join(GUESTS, "lidt_zero.S")
    status, out, err = emu(cache, "run", "-accel", "interp", guest)
    assert (status, out) == (3, "s\n") and "triple fault" in err          # the SDM's answer
    status, out, err = emu(cache, "run", "-accel", "kvm", "-icount-limit", "1000", guest)
    ivt = limits["real_mode_idt_limit"]
    assert ivt.ok is not None
    if ivt.ok:
        assert status == 3 and "triple fault" in err
        return
    # the guest runs on through zeroed memory: the limit ends it, counted exactly
    assert status == 124, err
    assert "instruction limit reached (1000 instructions)" in err
    assert_explained(err, ivt)


def test_lidt_limit_0_on_kvm_stops_on_ctrl_c_with_the_explanation(cache, limits):
    ivt = limits["real_mode_idt_limit"]
    if ivt.ok:
        pytest.skip("this host's KVM honours the real-mode IDT limit: the guest triple-faults "
                    "(test_lidt_limit_0_then_int3 checks that)")
    p = subprocess.Popen([sys.executable, "-m", "emu", "run", "-accel", "kvm",
                          os.path.join(GUESTS, "lidt_zero.S")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=REPO, env=env(cache))
    assert p.stdout.readline() == b"s\n"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    err = err.decode()
    assert p.returncode == 130, err
    assert err.splitlines()[0] == "emu: interrupted"
    assert_explained(err, ivt)


#: IP after N instructions depends on N mod 4
COUNTING = """
again:
    inc ax
    inc bx
    inc cx
    jmp again
"""


def _stopped_at(err):
    line = next(line for line in err.splitlines() if "guest stopped at" in line)
    return line.rsplit("guest stopped at ", 1)[1]


def test_small_icount_limit_on_kvm_is_exact(cache, tmp_path):
    guest = tmp_path / "count.S"
    guest.write_text(COUNTING)
    for n in ("4997", "4998", "4999"):
        ref = emu(cache, "run", "-accel", "interp", "-icount-limit", n, str(guest))
        got = emu(cache, "run", "-accel", "kvm", "-icount-limit", n, str(guest))
        assert ref[0] == got[0] == 124
        assert f"instruction limit reached ({n} instructions)" in got[2]
        assert _stopped_at(got[2]) == _stopped_at(ref[2])


def test_large_icount_limit_on_kvm_says_it_is_a_time_estimate(cache, tmp_path):
    guest = tmp_path / "count.S"
    guest.write_text(COUNTING)
    status, out, err = emu(cache, "run", "-accel", "kvm", "-icount-limit", "300000", str(guest))
    assert status == 124, err
    assert "instruction limit reached" not in err
    assert "time limit reached" in err and "cannot count instructions" in err
    assert "-icount-limit 300000" in err


@pytest.mark.parametrize("guest, limit, broken_status", [
    ("ring3_iopl.S", "long_mode_iopl", 27),     # the guest's own #GP handler: status 27
    ("paging.S", "paging32", 3),                # no handler kasou can reach: triple fault
])
def test_guest_that_kvm_runs_differently(cache, limits, guest, limit, broken_status):
    """ring3_iopl.S: CLI and OUT in ring 3 at IOPL 3 (long mode); paging.S:
    32-bit paging outside long mode."""
    path = os.path.join(GUESTS, guest)
    ref = emu(cache, "run", "-accel", "interp", path)      # the SDM's answer
    assert ref[0] in (1, 0) and ref[2] == ""
    status, out, err = emu(cache, "run", "-accel", "kvm", path)
    probed = limits[limit]
    assert probed.ok is not None
    if probed.ok:
        assert (status, out) == ref[:2]
        return
    assert status == broken_status and out != ref[1], err
    assert_explained(err, probed)


def test_a_normal_kvm_run_says_nothing_more(cache):
    status, out, err = emu(cache, "run", "-accel", "kvm", os.path.join(REPO, "tutorials", "01-exits", "hello.S"))
    assert status == 1 and err == ""
