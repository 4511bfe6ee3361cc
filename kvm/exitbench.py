"""The KVM exit round trip measured against C, and ioeventfd's worth
(``emu bench --kvm-exit``).

What one exit costs, in microseconds, every row on the same real-mode guest
``out 0x80, al; jmp $-2`` (every entry ends in KVM_EXIT_IO,
Documentation/virt/kvm/api.rst "KVM_RUN"), in the same run:

* ``c``: ``kvm/bench/kvm_exit.c`` -- KVM_RUN in a loop, each exit's reason
  and port checked, built with the host's C compiler into a temporary
  directory: the cost of the exit itself;
* ``python_ioctl``: the same loop in Python, KVM_RUN made as the engine
  makes it (:data:`kvm.errors.ioctl_noarg`) and nothing else: what calling
  from Python adds;
* ``python_vcpu``: the same loop on :meth:`kvm.vcpu.Vcpu.run` (the exit
  decoded from ``struct kvm_run`` into a ``kvm.exits`` object);
* ``engine``: the same guest on kasou's kvm accelerator, ``run()`` after
  ``run()``, each returning the IO exit as the Machine receives it (an
  ``emu.exits.IoExit``, counted, its doorbells looked after): what the
  engine adds to the exit;
* ``machine``: the whole run loop, a guest doing ``out 0x80, al`` N times
  then isa-debug-exit through ``Machine.run()``: the engine, the exit
  counted in ``machine.stats`` and served on the port bus (port 0x80 has
  no device: every exit goes back to the Machine's loop);
* ``device``: the same loop writing the COM1 UART's scratch register
  (0x3FF): a device register that takes the write quietly, so the engine
  serves it inside its own KVM_RUN loop, counted as an IO exit all the same
  -- as QEMU's kvm_cpu_exec() serves KVM_EXIT_IO with kvm_handle_io()
  without leaving its loop.

Every row is sampled ``samples`` times, the rows taken in turn within each
sample so that a busy host slows all alike, and the median of each kept.
Each figure is given twice: wall-clock time, and the process's CPU time
(user + system, the guest's time included: ``CLOCK_PROCESS_CPUTIME_ID``
in C, ``time.process_time()`` in Python), which a busy host (other
processes on the same cores) does not inflate; the ratios to C are given
for both.

ioeventfd (KVM_IOEVENTFD): a doorbell guest writes the virtio console's
QueueNotify register N times, then isa-debug-exit; with ``ioeventfd=on``
KVM takes each write without an exit (the Machine hands the device the
merged notification at the next exit), with ``off`` each is an IO exit.
Reported: microseconds per notification for both (wall clock and CPU).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time

from . import uapi
from .accel import _OUT_LOOP
from .errors import ioctl_noarg

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench", "kvm_exit.c")
#: COM1's scratch register (emu/devices/uart16550.py): a quiet device register
UART_SCRATCH_PORT = 0x3FF
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


def run_c(exe: str, exits: int) -> tuple:
    """``(wall, cpu)`` microseconds per exit of one sample of the C program."""
    r = subprocess.run([exe, str(exits), "1"], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{exe}: {r.stderr.strip() or 'failed'}")
    for line in r.stdout.splitlines():
        words = line.split()
        if words[:1] == ["median"] and len(words) == 4 and words[2] == "cpu":
            return float(words[1]), float(words[3])
    raise RuntimeError(f"{exe}: no 'median WALL cpu CPU' line in its output")


def _timed(loop, n: int) -> tuple:
    """``(wall, cpu)`` microseconds per iteration of ``loop()`` (``n`` of them)."""
    t0, c0 = time.perf_counter(), time.process_time()
    loop()
    return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - c0) / n * 1e6


def _machine(code: bytes, ioeventfd: str = "on"):
    from emu.machine import Machine
    m = Machine("pc", "kvm", cpu="max", memory=1 << 20, accel_options={"ioeventfd": ioeventfd})
    m.load_image(code)
    return m


class _ExitLoops:
    """The Python rows' loops, all on the vCPU of one Machine running the
    exit-loop guest (every entry completes the last OUT and makes the next):
    the bare KVM_RUN (``python_ioctl``), ``Vcpu.run`` (``python_vcpu``) and
    the engine's ``run()`` (``engine``)."""

    def __init__(self, exits: int):
        self.exits = exits
        self.m = _machine(_OUT_LOOP)
        self.m.accel.run(None)

    def close(self):
        self.m.close()

    def ioctl(self) -> tuple:
        fd, request, call, n = self.m.accel.vcpu.fileno(), uapi.KVM_RUN, ioctl_noarg, self.exits

        def loop():
            for _ in range(n):
                call(fd, request)
        return _timed(loop, n)

    def vcpu(self) -> tuple:
        run, n, last = self.m.accel.vcpu.run, self.exits, []

        def loop():
            for _ in range(n):
                ex = run()
            last.append(ex)
        return self._checked(_timed(loop, n), last[0])

    def engine(self) -> tuple:
        run, n, last = self.m.accel.run, self.exits, []

        def loop():
            for _ in range(n):
                ex = run(None)
            last.append(ex)
        return self._checked(_timed(loop, n), last[0])

    @staticmethod
    def _checked(figures, ex) -> tuple:
        if getattr(ex, "port", None) != 0x80:
            raise RuntimeError(f"the exit loop guest made {ex.describe()}")
        return figures


def _counted_loop(port: int, size: int, value: int, n: int) -> bytes:
    """mov cx, n; mov dx, port; mov ax, value; l: out dx, al/ax; loop l;
    mov al, 0; out 0xf4, al (isa-debug-exit)."""
    out = 0xEF if size == 2 else 0xEE
    return bytes([0xB9, n & 0xFF, n >> 8, 0xBA, port & 0xFF, port >> 8,
                  0xB8, value & 0xFF, value >> 8, out, 0xE2, 0xFD, 0xB0, 0x00, 0xE6, 0xF4])


def _per_out(r: dict) -> tuple:
    return r["us_per_out"], r["cpu_us_per_out"]


def machine_cost(port: int, size: int, value: int, n: int, ioeventfd: str = "on") -> dict:
    """Run the counted OUT loop through the Machine; microseconds per OUT
    (wall clock and CPU), and the exits and doorbell signals it made."""
    m = _machine(_counted_loop(port, size, value, n), ioeventfd)
    try:
        result = []
        wall, cpu = _timed(lambda: result.append(m.run()), n)
        r = result[0]
        if r.reason != "debug-exit":
            raise RuntimeError(f"the loop guest stopped: {r.reason}: {r.message}")
        return {"us_per_out": wall, "cpu_us_per_out": cpu, "exits": dict(m.stats.by_reason),
                "signalled": dict(m.stats.signalled),
                "served_in_engine": m.accel.stats()["io_served_in_engine"]}
    finally:
        m.close()


#: the rows, in the order printed: key, what it measures
ROWS = (("c", "C: KVM_RUN loop, exit reason and port read"),
        ("python_ioctl", "Python: KVM_RUN loop (fcntl.ioctl), no more"),
        ("python_vcpu", "Python: Vcpu.run() loop, exit decoded"),
        ("engine", "kvm engine: run(), the IoExit for the Machine"),
        ("machine", "Machine.run(): + exit counted, port served"),
        ("device", "Machine.run(), a UART register: in the engine"))


def kvm_exit_bench(exits: int = 5000, samples: int = 5, notifications: int = 20000,
                   cc: str | None = None) -> dict:
    """All the figures (see the module docstring), medians of ``samples``."""
    if not 1 <= notifications <= 0xFFFF:
        raise ValueError(f"notifications {notifications}: expected 1..65535 (a 16-bit loop count)")
    if not 1 <= exits <= 0xFFFF:
        raise ValueError(f"exits {exits}: expected 1..65535 (a 16-bit loop count)")
    res = {"exits_per_sample": exits, "samples": samples}
    try:
        exe = build_c(cc)
    except RuntimeError as e:
        exe = None
        res["c_unavailable"] = str(e)
    loops = _ExitLoops(exits)
    measure = {"python_ioctl": loops.ioctl, "python_vcpu": loops.vcpu, "engine": loops.engine,
               "machine": lambda: _per_out(machine_cost(0x80, 1, 0, exits)),
               "device": lambda: _per_out(machine_cost(UART_SCRATCH_PORT, 1, 0x5A, exits))}
    if exe is not None:
        measure = {"c": lambda: run_c(exe, exits), **measure}
    taken = {key: ([], []) for key in measure}
    try:
        for _ in range(samples):
            for key, fn in measure.items():
                wall, cpu = fn()
                taken[key][0].append(wall)
                taken[key][1].append(cpu)
    finally:
        loops.close()
        if exe is not None:
            shutil.rmtree(os.path.dirname(exe), ignore_errors=True)
    for key, (wall, cpu) in taken.items():
        res[f"{key}_us"] = statistics.median(wall)
        res[f"{key}_cpu_us"] = statistics.median(cpu)
    if "c_us" in res:
        for key in ("python_ioctl", "python_vcpu", "engine", "machine", "device"):
            res[f"{key}_over_c"] = res[f"{key}_us"] / res["c_us"]
            res[f"{key}_cpu_over_c"] = res[f"{key}_cpu_us"] / res["c_cpu_us"]
    res["machine"] = machine_cost(0x80, 1, 0, exits)
    res["ioeventfd"] = {mode: machine_cost(DOORBELL_PORT, 2, DOORBELL_QUEUE, notifications, mode)
                        for mode in ("on", "off")}
    return res


def _ratio(res: dict, key: str, clock: str) -> str:
    """Row ``key``'s ratio to C on ``clock`` ('' wall, '_cpu' CPU), as shown."""
    if key == "c":
        return "1.00"
    ratio = res.get(f"{key}{clock}_over_c")
    return "-" if ratio is None else f"{ratio:.2f}x"


def format_kvm_exit_bench(res: dict) -> list:
    """The lines ``emu bench --kvm-exit`` prints."""
    lines = [f"KVM exit round trip: microseconds per exit, median of {res['samples']} samples of "
             f"{res['exits_per_sample']} exits,",
             "the guest doing out 0x80, al in a loop; wall clock, and CPU time (user + system "
             "of the process, which other processes do not inflate):",
             f"  {'':<46} {'wall':>8} {'x C':>6}   {'CPU':>8} {'x C':>6}"]
    if "c_unavailable" in res:
        lines.append(f"  C: unavailable -- {res['c_unavailable']}")
    for key, what in ROWS:
        if f"{key}_us" not in res:
            continue
        wall, cpu = res[f"{key}_us"], res[f"{key}_cpu_us"]
        lines.append(f"  {what:<46} {wall:8.2f} {_ratio(res, key, ''):>6}   "
                     f"{cpu:8.2f} {_ratio(res, key, '_cpu'):>6}")
    lines.append("ioeventfd: the virtio console's QueueNotify written in a loop "
                 "(microseconds per notification, wall / CPU):")
    for mode in ("on", "off"):
        r = res["ioeventfd"][mode]
        lines.append(f"  ioeventfd={mode:<3} {r['us_per_out']:8.2f} / {r['cpu_us_per_out']:6.2f}   "
                     f"exits {r['exits']}"
                     + (f", signalled without an exit {r['signalled']}" if r["signalled"] else ""))
    return lines
