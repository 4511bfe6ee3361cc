"""The timer guest (tests/guests/x86/timer.S: 8259 + 8254, modes 2, 3 and 0)
on every engine: the same UART output everywhere, and on the engines with an
exact instruction count (interp, tcg, unicorn) every timer interrupt at the
same instruction count and guest time -- guest time is -icount there."""

import io
import os
import re

import pytest

from emu.cli import accel_available
from emu.devices.i8254 import ticks_to_ns
from emu.loader import load_file
from emu.machine import Machine

GUEST = os.path.join(os.path.dirname(__file__), "..", "guests", "x86", "timer.S")
EXPECTED = ("timer: PIT counter 0 on IRQ 0, vector 8\n"
            + "".join(f"tick {k}\n" for k in range(1, 11))
            + "10 ticks counted (mode 2, HLT between ticks)\n"
            "mode 3: 5 ticks while computing\n"
            "mode 0: one-shot fired once\n"
            "done\n").encode()
EXACT = ("interp", "tcg", "unicorn")
MODE2_DIVISOR = 1193


def run_timer(accel, **kw):
    log = io.StringIO()
    m = Machine(accel=accel, log=log, log_flags=["int"], **kw)
    img = load_file(GUEST)
    m.load_image(img.data, img.name)
    r = m.run(icount_limit=5_000_000, time_limit=60)
    acks = [(int(v, 16), int(n), int(t)) for v, n, t in re.findall(
        r"irq: vector 0x(..) acknowledged at icount ~?(\d+), guest time (\d+) ns", log.getvalue())]
    out = m.serial_output()
    stats = m.stats.as_dict()
    m.close()
    return r, out, acks, stats


def need(accel):
    ok, why = accel_available(accel)
    if not ok:
        if accel == "kvm" and not os.path.exists("/dev/kvm"):
            pytest.skip("no /dev/kvm on this machine")
        pytest.fail(f"engine {accel} unavailable: {why}")


@pytest.fixture(scope="module")
def exact_runs():
    return {a: run_timer(a) for a in EXACT}


@pytest.mark.parametrize("accel", EXACT + ("kvm",))
def test_timer_guest_output(accel, exact_runs):
    need(accel)
    r, out, acks, _ = exact_runs[accel] if accel in exact_runs else run_timer(accel)
    assert out == EXPECTED, f"{accel}: {r.reason} {r.message}"
    assert (r.reason, r.status) == ("debug-exit", 1)
    assert len(acks) >= 16 and all(v == 0x08 for v, _, _ in acks)


def test_interrupts_at_the_same_instruction_on_interp_tcg_unicorn(exact_runs):
    ref_r, _, ref_acks, ref_stats = exact_runs["interp"]
    assert len(ref_acks) == 16              # 10 (mode 2) + 5 (mode 3) + 1 (mode 0)
    for accel in ("tcg", "unicorn"):
        r, _, acks, stats = exact_runs[accel]
        assert acks == ref_acks, accel
        assert r.icount == ref_r.icount
        assert stats == ref_stats           # every exit, BUDGET included


def test_mode2_ticks_come_exactly_one_period_apart(exact_runs):
    """Phase 1 HLTs between ticks: guest time skips to each deadline, so the
    acknowledges happen exactly at the PIT's edges: load + k * 1193 clocks."""
    _, _, acks, _ = exact_runs["interp"]
    times = [t for _, _, t in acks[:10]]
    load = times[0] - ticks_to_ns(MODE2_DIVISOR)
    assert times == [load + ticks_to_ns(k * MODE2_DIVISOR) for k in range(1, 11)]


def test_mode3_ticks_interrupt_the_computation(exact_runs):
    """Phase 2 never HLTs: its five interrupts cut into the busy loop, each at
    the first instruction boundary at or after the edge (128 ns apart)."""
    _, _, acks, _ = exact_runs["interp"]
    busy = acks[10:15]
    gaps = [b[2] - a[2] for a, b in zip(busy, busy[1:])]
    period = ticks_to_ns(2386)
    assert all(abs(g - period) < 2 * 128 for g in gaps), gaps
    icount_gaps = [b[1] - a[1] for a, b in zip(busy, busy[1:])]
    assert all(abs(g - period / 128) <= 2 for g in icount_gaps), icount_gaps


def test_another_icount_shift_changes_timing_not_output():
    r, out, acks, _ = run_timer("interp", icount_shift=4)
    assert out == EXPECTED and r.status == 1
    _, _, ref_acks, _ = run_timer("tcg", icount_shift=4)
    assert acks == ref_acks
