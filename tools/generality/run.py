"""Measure the generality guests in this directory (measurement only, not
tests): CPU-time MIPS of interp and tcg (best of N runs, the engines taken
in turn), the tcg/interp ratio, and that both printed the same checksum.

    .venv/bin/python tools/generality/run.py [--repeat N] [GUEST.S ...]
"""
import argparse
import glob
import os
import re
import tempfile
import time

from emu.loader import load_guest
from emu.machine import Machine

HERE = os.path.dirname(os.path.abspath(__file__))


def image(path, scale):
    """The guest at ``path`` with ``.set SCALE, scale`` (None: its own)."""
    if scale is None:
        return load_guest(path)
    src = re.sub(r"\.set SCALE, \d+", f".set SCALE, {scale}", open(path).read(), count=1)
    with tempfile.NamedTemporaryFile("w", suffix=".S", dir=HERE, delete=False) as f:
        f.write(src)
    try:
        return load_guest(f.name)
    finally:
        os.unlink(f.name)


def once(img, accel):
    m = Machine(accel=accel)
    try:
        m.load_image(img.data, img.name, img.entry)
        t0 = time.process_time()
        r = m.run()
        return m.serial_output(), r.icount, time.process_time() - t0
    finally:
        m.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("guests", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--interp-scale-div", type=int, default=10)
    a = ap.parse_args()
    guests = a.guests or sorted(glob.glob(os.path.join(HERE, "g_*.S")))
    for g in guests:
        scale = int(re.search(r"\.set SCALE, (\d+)", open(g).read()).group(1))
        imgs = {"interp": image(g, max(1, scale // a.interp_scale_div)), "tcg": image(g, None)}
        best = {}
        outs = {}
        for _ in range(a.repeat):
            for eng in ("interp", "tcg"):
                out, n, t = once(imgs[eng], eng)
                outs[eng] = out
                best[eng] = max(best.get(eng, 0), n / t / 1e6)
        ref = once(image(g, max(1, scale // a.interp_scale_div)), "tcg")[0]
        same = "same" if ref == outs["interp"] else f"DIFFERENT {ref!r} vs {outs['interp']!r}"
        print(f"{os.path.basename(g):<16} interp {best['interp']:6.2f}  tcg {best['tcg']:6.2f} MIPS"
              f"  ({best['tcg'] / best['interp']:5.1f}x)  output {same}", flush=True)


if __name__ == "__main__":
    main()
