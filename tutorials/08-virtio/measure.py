"""Lab 8: exits and time of the virtio guests, per engine and ioeventfd setting.

    python tutorials/08-virtio/measure.py [--runs N] [-accel A,B,...] GUEST.S ...

Each guest runs ``--runs`` times (3 by default) on each engine; an engine
is a name with its properties as ``emu run -accel`` takes them
(``kvm,ioeventfd=off``).  A row per guest and engine:

* ``notify exits``: the IO exits at QueueNotify (port 0xC010);
* ``signalled``: QueueNotify writes KVM took without an exit (ioeventfd);
* ``guest exits``: every exit the guest caused (not kasou's own BUDGET
  ends of a time slice), by reason;
* ``run ms``: the median time of ``Machine.run()`` -- the guest from its
  first instruction to isa-debug-exit, without Python's start-up and the
  assembler -- and ``us/msg``, the same per message sent.

Exit counts are the same every run on interp, tcg and unicorn; on KVM they
are too unless a time slice ends inside the guest's loop.
"""

import argparse
import os
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from emu.loader import load_guest          # noqa: E402
from emu.machine import Machine            # noqa: E402

NOTIFY = "IO out 0xc010"
MESSAGES = 1024                     # what notify.S and batch.S send


def parse_engine(text):
    name, *props = text.split(",")
    options = {}
    for prop in props:
        key, eq, value = prop.partition("=")
        if not eq:
            raise SystemExit(f"measure.py: -accel {text}: '{prop}' is not KEY=VALUE")
        options[key] = value
    return name, options


def run_once(img, name, options):
    m = Machine(accel=name, accel_options=options)
    try:
        m.load_image(img.data, img.name, img.entry)
        r = m.run(time_limit=60)
        if (r.reason, r.status) != ("debug-exit", 1):
            raise SystemExit(f"measure.py: {img.name} on {name}: {r.message}")
        return m.stats, r.seconds
    finally:
        m.close()


def main(argv=None):
    p = argparse.ArgumentParser(description="exits and run time of lab 8's guests")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("-accel", default="interp,kvm,ioeventfd=off,kvm,ioeventfd=on",
                   help="engines, comma-separated, each NAME or NAME,PROP=VALUE "
                        "(default: interp, kvm with ioeventfd off, kvm with it on)")
    p.add_argument("guests", nargs="+")
    args = p.parse_args(argv)
    engines, parts = [], args.accel.split(",")
    for part in parts:
        if "=" in part and engines:
            engines[-1] += "," + part
        else:
            engines.append(part)
    print(f"{'guest':<10} {'engine':<18} {'notify exits':>12} {'signalled':>9}  "
          f"{'guest exits':<16} {'run ms':>7} {'us/msg':>7}")
    for path in args.guests:
        img = load_guest(path)
        for engine in engines:
            name, options = parse_engine(engine)
            seconds, stats = [], None
            for _ in range(args.runs):
                stats, t = run_once(img, name, options)
                seconds.append(t)
            t = statistics.median(seconds)
            caused = {k: v for k, v in sorted(stats.by_reason.items()) if k != "BUDGET"}
            text = ", ".join(f"{k} {v}" for k, v in caused.items())
            print(f"{os.path.basename(path):<10} {engine:<18} {stats.by_key.get(NOTIFY, 0):>12} "
                  f"{stats.signalled.get(NOTIFY, 0):>9}  {text:<16} {t * 1e3:>7.2f} "
                  f"{t * 1e6 / MESSAGES:>7.1f}")


if __name__ == "__main__":
    main()
