"""Measure KVM running a CPL-3 64-bit loop natively: ``emu/guests/lm_loop.S``
with its iteration count raised (too long for the software engines).

    PYTHONPATH=. python tools/kvm_native_loop.py [ITERATIONS]   (default 0x10000000)

The guest does 4 instructions per iteration (add, xor, dec, jnz); the count
printed is that estimate, since KVM cannot count instructions."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from emu.loader import assemble  # noqa: E402
from emu.machine import Machine  # noqa: E402

GUEST = os.path.join(os.path.dirname(__file__), "..", "emu", "guests", "lm_loop.S")
SMALL = "mov ecx, 0x20000"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    iters = int(argv[0], 0) if argv else 0x10000000
    src = open(GUEST).read()
    if SMALL not in src:
        print(f"error: {GUEST}: no '{SMALL}' line to scale", file=sys.stderr)
        return 1
    img = assemble(src.replace(SMALL, f"mov ecx, 0x{iters:x}"), GUEST)
    m = Machine(accel="kvm")
    m.load_image(img.data, img.name)
    t0 = time.perf_counter()
    r = m.run()
    secs = time.perf_counter() - t0
    print(m.serial_output().decode("latin-1"), end="")
    print(f"{r.reason}: ~{4 * iters} instructions in {secs:.3f} s = {4 * iters / secs / 1e6:.0f} MIPS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
