"""The KVM exit round trip measured against C, and ioeventfd's worth
(``emu bench --kvm-exit``).

What one exit costs, in microseconds, measured in the same run:

* ``c``: ``kvm/bench/kvm_exit.c`` -- KVM_RUN in a loop on a real-mode guest
  doing ``out 0x80, al; jmp $-2`` (every entry ends in KVM_EXIT_IO,
  Documentation/virt/kvm/api.rst "KVM_RUN"), built with the host's C
  compiler into a temporary directory: the cost of the exit itself;
* ``python_vcpu``: the same loop on :meth:`kvm.vcpu.Vcpu.run` (the ctypes
  ioctl and the exit decoded from ``struct kvm_run``);
* ``engine``: the same guest on kasou's kvm accelerator, ``run()`` after
  ``run()`` -- each returns the IO exit as the Machine receives it: what
  the engine adds to the exit;
* ``machine``: the whole run loop (the exit counted and served on the port
  bus), on a guest doing ``out 0x80, al`` N times then isa-debug-exit.

The C and Python figures are taken in alternation, ``samples`` times each,
and the medians reported, so that a busy host slows both alike.

ioeventfd (KVM_IOEVENTFD): a doorbell guest writes the virtio console's
QueueNotify register N times, then isa-debug-exit; with ``ioeventfd=on``
KVM takes each write without an exit (the Machine hands the device the
merged notification at the next exit), with ``off`` each is an IO exit.
Reported: microseconds per notification for both.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time

from .accel import _OUT_LOOP, measure_exit_cost

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench", "kvm_exit.c")
#: the pc board's virtio console doorbell (QueueNotify at 0xC000 + 0x10;
#: emu/boards/pc.py) and the queue it names (transmitq)
DOORBELL_PORT, DOORBELL_QUEUE = 0xC010, 1


def build_c(cc: str | None = None, out_dir: str | None = None) -> str:
    """Compile ``kvm_exit.c``; return the executable's path.  Raises
    ``RuntimeError`` naming what is missing."""
    cc = cc or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RuntimeError("no C compiler found (gcc or cc; make deps installs gcc)")
    out_dir = out_dir or tempfile.mkdtemp(prefix="kasou-kvm-exit-")
    exe = os.path.join(out_dir, "kvm_exit")
    r = subprocess.run([cc, "-O2", "-o", exe, SOURCE], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cc} could not build {SOURCE}: {r.stderr.strip().splitlines()[-1:]}")
    return exe


def run_c(exe: str, exits: int) -> float:
    """Microseconds per exit of one sample of the C program."""
    r = subprocess.run([exe, str(exits), "1"], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{exe}: {r.stderr.strip() or 'failed'}")
    for line in r.stdout.splitlines():
        if line.startswith("median "):
            return float(line.split()[1])
    raise RuntimeError(f"{exe}: no 'median' line in its output")


def _machine(code: bytes, ioeventfd: str = "on"):
    from emu.machine import Machine
    m = Machine("pc", "kvm", cpu="max", memory=1 << 20, accel_options={"ioeventfd": ioeventfd})
    m.load_image(code)
    return m


def engine_exit_cost(exits: int) -> float:
    """Microseconds per ``run()`` of the kvm accelerator, each ending in the
    guest's OUT (the IO exit handed back as the Machine gets it)."""
    m = _machine(_OUT_LOOP)
    try:
        acc = m.accel
        acc.run(None)
        t0 = time.perf_counter()
        for _ in range(exits):
            ex = acc.run(None)
        dt = time.perf_counter() - t0
        if ex.reason != "IO" or ex.port != 0x80:
            raise RuntimeError(f"the exit loop guest made {ex.describe()}")
        return dt / exits * 1e6
    finally:
        m.close()


def _counted_loop(port: int, size: int, value: int, n: int) -> bytes:
    """mov cx, n; mov dx, port; mov ax, value; l: out dx, al/ax; loop l;
    mov al, 0; out 0xf4, al (isa-debug-exit)."""
    out = 0xEF if size == 2 else 0xEE
    return bytes([0xB9, n & 0xFF, n >> 8, 0xBA, port & 0xFF, port >> 8,
                  0xB8, value & 0xFF, value >> 8, out, 0xE2, 0xFD, 0xB0, 0x00, 0xE6, 0xF4])


def machine_cost(port: int, size: int, value: int, n: int, ioeventfd: str = "on") -> dict:
    """Run the counted OUT loop through the Machine; microseconds per OUT,
    and the exits and doorbell signals it made."""
    m = _machine(_counted_loop(port, size, value, n), ioeventfd)
    try:
        t0 = time.perf_counter()
        r = m.run()
        dt = time.perf_counter() - t0
        if r.reason != "debug-exit":
            raise RuntimeError(f"the loop guest stopped: {r.reason}: {r.message}")
        return {"us_per_out": dt / n * 1e6, "exits": dict(m.stats.by_reason),
                "signalled": dict(m.stats.signalled)}
    finally:
        m.close()


def kvm_exit_bench(exits: int = 5000, samples: int = 3, notifications: int = 20000,
                   cc: str | None = None) -> dict:
    """All the figures (see the module docstring), medians of ``samples``."""
    if not 1 <= notifications <= 0xFFFF:
        raise ValueError(f"notifications {notifications}: expected 1..65535 (a 16-bit loop count)")
    res = {"exits_per_sample": exits, "samples": samples}
    try:
        exe = build_c(cc)
    except RuntimeError as e:
        exe = None
        res["c_unavailable"] = str(e)
    c, bare, engine = [], [], []
    for _ in range(samples):
        if exe is not None:
            c.append(run_c(exe, exits))
        bare.append(measure_exit_cost(exits, 1))
        engine.append(engine_exit_cost(exits))
    if exe is not None:
        shutil.rmtree(os.path.dirname(exe), ignore_errors=True)
        res["c_us"] = statistics.median(c)
    res["python_vcpu_us"] = statistics.median(bare)
    res["engine_us"] = statistics.median(engine)
    if "c_us" in res:
        res["engine_over_c"] = res["engine_us"] / res["c_us"]
    res["machine"] = machine_cost(0x80, 1, 0, min(exits, 0xFFFF))
    res["ioeventfd"] = {mode: machine_cost(DOORBELL_PORT, 2, DOORBELL_QUEUE, notifications, mode)
                        for mode in ("on", "off")}
    return res


def format_kvm_exit_bench(res: dict) -> list:
    """The lines ``emu bench --kvm-exit`` prints."""
    lines = [f"KVM exit round trip (us per exit, median of {res['samples']} x "
             f"{res['exits_per_sample']} exits; out 0x80 in a loop):"]
    if "c_us" in res:
        lines.append(f"  C (kvm/bench/kvm_exit.c, KVM_RUN loop)   {res['c_us']:8.2f}")
    else:
        lines.append(f"  C: unavailable -- {res['c_unavailable']}")
    lines.append(f"  Python Vcpu.run loop                     {res['python_vcpu_us']:8.2f}")
    ratio = f"  ({res['engine_over_c']:.2f}x C)" if "engine_over_c" in res else ""
    lines.append(f"  kasou kvm engine, run() per exit         {res['engine_us']:8.2f}{ratio}")
    lines.append(f"  whole Machine run loop, per OUT          {res['machine']['us_per_out']:8.2f}")
    lines.append("ioeventfd: virtio console QueueNotify written in a loop (us per notification):")
    for mode in ("on", "off"):
        r = res["ioeventfd"][mode]
        lines.append(f"  ioeventfd={mode:<3} {r['us_per_out']:8.2f}   exits {r['exits']}"
                     + (f", signalled without an exit {r['signalled']}" if r["signalled"] else ""))
    return lines
