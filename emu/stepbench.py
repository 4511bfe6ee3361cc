"""``emu bench --step``: what one single step costs on each engine.

A debugger, a tracer or an autograder that watches every instruction
single-steps the guest.  Each engine is measured the way such a tool drives
it:

* ``interp``, ``tcg`` and ``kvm``: ``set_single_step(True)``, then one
  ``Machine.step()`` per instruction, which serves the exits as every run
  does (timers, port and MMIO, HLT) without a run's set-up (the translator runs ``-one-insn-per-tb``; KVM takes a debug
  exit per instruction, ``KVM_GUESTDBG_SINGLESTEP``);
* ``unicorn``: a per-instruction Python hook (``UC_HOOK_CODE``), the usual
  way to see each instruction with unicorn; the engine itself never returns
  to Python between instructions, only the hook is called.

Two figures per engine, in microseconds per instruction:

* *from reset*: the guest from its first instruction, translation and all
  (what one debugging session of a fresh guest costs);
* *warm*: the best of several windows of steps after a warm-up, once the
  code the guest runs is translated (what each further step costs).

A measurement, never a test: the exactness of stepping is tested in
tests/differential/test_tcg.py and tests/debug/.
"""

from __future__ import annotations

import os
import time

WARMUP = 3_000          # steps before the warm windows
WINDOW = 10_000         # steps per warm window
WINDOWS = 5             # warm windows; the best is reported


def _machine(path: str, accel: str):
    from .loader import load_guest
    from .machine import Machine
    img = load_guest(path)
    m = Machine(accel=accel, cpu="max", one_insn_per_tb=(accel == "tcg"))
    m.load_image(img.data, img.name, img.entry)
    return m


class _Stepper:
    """interp, tcg, kvm: one ``Machine.step()`` per instruction, the engine
    single-stepped, as a debugger drives it: the Machine serves the
    step's exits (port and MMIO accesses, HLT, the timers), counts them and
    ends the run at the step's DEBUG exit."""

    def __init__(self, m):
        self.m = m
        m.accel.set_single_step(True)

    def steps(self, n: int) -> int:
        """Step ``n`` instructions (fewer if the guest stops); how many ran."""
        m = self.m
        acc = m.accel
        step = m.step
        start = acc.icount
        end = start + n
        while acc.icount < end:
            if step().reason != "debug":
                break
        return acc.icount - start


class _Hooked:
    """unicorn: runs of ``n`` instructions with a Python hook on every one."""

    def __init__(self, m):
        self.m = m
        self.seen = 0

        def on_code(uc, address, size, user_data):
            self.seen += 1

        m.accel.add_code_hook(on_code)
        m.accel.run(0)                         # makes the engine, runs nothing (as the other
                                               # engines are made before the clock starts)

    def steps(self, n: int) -> int:
        before = self.seen
        r = self.m.run(icount_limit=n)
        hooked = self.seen - before
        if hooked < r.icount:
            raise RuntimeError(f"unicorn hook saw {hooked} of {r.icount} instructions")
        return r.icount


def measure(path: str, accel: str, steps: int) -> dict:
    """``from_reset_us`` over up to ``steps`` instructions of a fresh guest;
    ``warm_us`` (None when the guest is too short) from another fresh one."""
    out = {"accel": accel, "from_reset_us": None, "from_reset_steps": 0, "warm_us": None}
    m = _machine(path, accel)
    try:
        st = _Hooked(m) if accel == "unicorn" else _Stepper(m)
        t0 = time.perf_counter()
        n = st.steps(steps)
        secs = time.perf_counter() - t0
        out["from_reset_steps"] = n
        out["from_reset_us"] = secs / n * 1e6 if n else None
    finally:
        m.close()
    m = _machine(path, accel)
    try:
        st = _Hooked(m) if accel == "unicorn" else _Stepper(m)
        if st.steps(WARMUP) < WARMUP:
            return out
        best = None
        for _ in range(WINDOWS):
            t0 = time.perf_counter()
            n = st.steps(WINDOW)
            secs = time.perf_counter() - t0
            if n < WINDOW:
                break
            us = secs / n * 1e6
            best = us if best is None else min(best, us)
        out["warm_us"] = best
    finally:
        m.close()
    return out


def run_step_bench(guests, accels, steps: int, guests_dir: str) -> list:
    rows = []
    for g in guests:
        path = os.path.join(guests_dir, g + ".S")
        for a in accels:
            row = measure(path, a, steps)
            row["guest"] = g
            rows.append(row)
    return rows


def print_step_bench(rows) -> None:
    hdr = (f"{'guest':<9} {'engine':<8} {'steps':>8} {'from reset':>11} {'warm':>8}"
           f"  {'vs unicorn+hook (reset / warm)':>30}")
    print("single-stepping: microseconds per instruction "
          "(interp, tcg -one-insn-per-tb, kvm: one Machine.step() per step; unicorn: UC_HOOK_CODE)")
    print(hdr)
    print("-" * len(hdr))

    def fmt(v):
        return f"{v:.2f}" if v is not None else "-"

    for r in rows:
        ref = next((x for x in rows if x["guest"] == r["guest"] and x["accel"] == "unicorn"), None)
        vs = ""
        if ref is not None and r["accel"] != "unicorn":
            parts = []
            for k in ("from_reset_us", "warm_us"):
                parts.append(f"{ref[k] / r[k]:.2f}x" if ref[k] and r[k] else "-")
            vs = " / ".join(parts)
        print(f"{r['guest']:<9} {r['accel']:<8} {r['from_reset_steps']:>8} "
              f"{fmt(r['from_reset_us']):>11} {fmt(r['warm_us']):>8}  {vs:>30}")
    print("(x: unicorn+hook time / this engine's time; above 1 this engine steps faster)")
