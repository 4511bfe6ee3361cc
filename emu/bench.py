"""``emu bench``: the bench guests on every engine -- MIPS, the ratio to the
interpreter, exits by reason -- as a table, a bar chart (in the terminal,
or ``--plot FILE.png`` with matplotlib) and JSON (``--json FILE``).

The guests come in suites (``--suite``; or ``--guests`` names them):

* ``classic``: ``emu/guests/*.S``, the project's first bench guests (real
  mode; ``lm_loop`` in long mode).
* ``new``: ``emu/guests/bench/``, written from scratch to measure engines
  nobody tuned for them, each in real mode (``rm_*``) and 32-bit protected
  mode (``pm_*``): a 32-bit LCG done with 16-bit MUL/ADC pairs (``lcg``), a
  byte sieve (``sieve``), REP MOVSB/STOSB and a LODSB/ADD/STOSB loop
  (``strings``), bitwise CRC-32 (``crc32``), recursive Fibonacci (``fib``),
  100 KiB of polled UART output (``uart``) and the classic ``intloop``'s
  ADD/XOR/INC/DEC loop made long (``intloop``); each runs 10-13 million
  instructions and prints a checksum (``tests/bench/models.py`` computes
  them in Python).  The same six for Arm A32 (``a32_*``, GNU as syntax, on
  the ``virt`` board with semihosting, on the engines that run Arm): the
  LCG on 16-bit halves with MUL and ADDS/ADC, the sieve with LDRB/STRB, an
  STMIA fill, an LDRB/STRB copy and a byte add loop, CRC-32 by LSRS and
  EORCS, Fibonacci by BL and PUSH/POP, and 110 KiB of output polling the
  PL011's flag register (10.4-12.5 million instructions each).  Each source
  sets its size with one line ``.set SCALE, N`` (:func:`guest_image`
  assembles it at another size).
* ``c``: C programs (``emu/guests/c``, :mod:`emu.cguests`), compiled by
  gcc rather than written for kasou, built with the system's compilers when
  run: a quicksort, a 16x16 matrix multiply, FNV-1a/djb2 hashes, a bubble
  sort of 16-bit values, decimal formatting, a switch-driven tokenizer and
  Euclid's gcd with other divisions by variables, each in 32-bit protected mode (``pmc_*``, ``gcc -m32 -O2``) and A32
  (``a32c_*``, ``arm-none-eabi-gcc -marm -O2``, on ``virt``); 6.5-10.5
  million instructions each; ``tests/bench/c_models.py`` computes their
  checksums.  Each source sets its size with ``#define SCALE N``.
* ``arm``: the classic guests written for Arm A32 (``tests/guests/arm``:
  ``arm_intloop``, ``arm_sieve``...), run on the ``virt`` board with
  semihosting, on the engines that run Arm guests (interp, tcg, unicorn
  and unicorn-bare).

Engines: ``interp``, ``tcg``, ``unicorn`` and ``kvm`` as ``emu run`` has
them -- ``unicorn`` in free runs (``-accel unicorn,count=free``, see
:mod:`emu.accel.unicorn`) unless ``--unicorn-count exact`` -- and
``unicorn-bare``: unicorn with only the hooks the guests' devices need
(the Target's ``unicorn_bare``: x86's port hooks; Arm's PL011 region, the
semihosting exit and SVC entry), the yardstick for the unicorn engine's
own cost.  The table says which mode the unicorn engine ran in, guest by
guest (``unicorn engine: free runs on ...``).

Before it runs, ``emu bench`` says what it will run (:func:`plan_lines`)
and prints each row as it is measured (:class:`LiveReport`, the progress
hook of :func:`run_bench`); Ctrl-C prints the table of the rows measured
so far and ends with ``emu: interrupted`` (status 130).  Every guest runs
``--repeat`` times (3) on each engine; the figures are the median run's.

Instructions: the engines that count exactly (interp, tcg, unicorn
counting) count them; KVM, unicorn running free and bare unicorn do not,
and their MIPS use the count of an engine that did, for the same guest in
the same bench (if none ran, one untimed run on ``tcg`` counts them); the
table marks those counts with ``~`` and the JSON names the counting engine.

JSON (``--json FILE``, ``-`` for stdout): ``{"results": [row, ...],
"repeat": N, "kvm_exit_roundtrip_us": ...}``, one row per guest and engine:

=====================  ===================================================
``guest``              the guest's name (``rm_lcg``, ``intloop``, ...)
``mode``               ``real``, ``protected``, ``long`` or ``a32``: the CPU mode
                       its work runs in
``engine``             ``interp``, ``tcg``, ``unicorn``, ``unicorn-bare``,
                       ``kvm``
``instructions``       instructions the guest ran (see above)
``instructions_by``    the engine that counted them
``seconds``            the median run's wall time: the Machine's run; for
                       ``unicorn`` and ``unicorn-bare`` from the guest's
                       first instruction (the first ``emu_start``) to the
                       end of the run, so that the engine's start-up (its
                       unicorn made, the CPU state put in) does not count
                       on either (:data:`TIMED_FROM_START`)
``runs``               every run's seconds
``mips``               instructions / seconds / 1e6
``ratio``              mips / interp's mips for the guest (null without
                       interp)
``exits``              {reason: count} of the median run (bare: none)
``unicorn_mode``       ``free`` or ``exact`` (the unicorn engine), ``bare``
                       (unicorn-bare), null otherwise
``output_ok``          the output is the same on every engine of the guest
``stop``, ``status``   how the median run ended and its exit status
=====================  ===================================================
"""

from __future__ import annotations

import math
import os
import re
import statistics
import time

from . import cguests

GUESTS_DIR = os.path.join(os.path.dirname(__file__), "guests")
BENCH_DIR = os.path.join(GUESTS_DIR, "bench")

#: the classic guests and the mode their work runs in
CLASSIC = {"intloop": "real", "sieve": "real", "strcopy": "real", "crc32": "real", "fib": "real",
           "uart": "real", "lm_loop": "long"}
KINDS = ("lcg", "sieve", "strings", "crc32", "fib", "uart", "intloop")
#: the new guests: rm_KIND (real mode) and pm_KIND (32-bit protected mode)
NEW = {f"{prefix}_{kind}": mode for prefix, mode in (("rm", "real"), ("pm", "protected"))
       for kind in KINDS}
#: the new guests for Arm A32 (a32_KIND, on the virt board)
A32 = {f"a32_{kind}": "a32" for kind in KINDS}
#: the Arm guests (A32 on the virt board), from the repository's tests/guests/arm
ARM_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "tests", "guests", "arm")
ARM = {f"arm_{name}": "a32" for name in ("intloop", "sieve", "strcopy", "crc32", "fib", "uart",
                                         "lm_loop")}
#: the C guests (emu/guests/c, built with gcc when run: :mod:`emu.cguests`)
C = cguests.GUESTS
SUITES = {"classic": tuple(CLASSIC), "new": tuple(NEW) + tuple(A32), "arm": tuple(ARM),
          "c": tuple(C), "all": tuple(CLASSIC) + tuple(NEW) + tuple(A32) + tuple(ARM) + tuple(C)}
DEFAULT_SUITE = "new"


def has_scale(name: str) -> bool:
    """Is ``name`` one of the new guests, whose source sets its size with a
    SCALE line (the rest have a fixed size)?"""
    return name in NEW or name in A32 or name in C
BARE = "unicorn-bare"
#: what the table says of how unicorn and bare unicorn are timed
TIMED_FROM_START = ("unicorn, unicorn-bare: timed from the guest's first instruction "
                    "(the first emu_start) to the end of the run; the engine's start-up "
                    "(making its unicorn, putting the CPU state in) is not counted on either.")
_SCALE = re.compile(r"^\.set SCALE, (\d+)\b", re.M)
#: the terminal chart's scale: log10 MIPS from CHART_LOW to CHART_HIGH over CHART_WIDTH columns
CHART_LOW, CHART_HIGH, CHART_WIDTH = 0.1, 10_000.0, 40


class BenchError(Exception):
    """Bad bench input (one line: what was wrong and what was expected)."""


def guest_mode(name: str) -> str:
    return NEW.get(name) or A32.get(name) or ARM.get(name) or C.get(name) or CLASSIC[name]


def guest_board(name: str) -> str:
    """The board a bench guest runs on: ``virt`` for the Arm guests."""
    return "virt" if name in ARM or name in A32 or name in cguests.A32 else "pc"


def guest_path(name: str) -> str:
    if name in C:
        return cguests.source(name)
    if has_scale(name):
        return os.path.join(BENCH_DIR, name + ".S")
    if name in CLASSIC:
        return os.path.join(GUESTS_DIR, name + ".S")
    if name in ARM:
        path = os.path.join(ARM_DIR, name[len("arm_"):] + ".S")
        if not os.path.exists(path):
            raise BenchError(f"guest '{name}': {path} is absent (the Arm bench guests are in the "
                             "repository's tests/guests/arm; expected a clone of the repository)")
        return path
    raise BenchError(f"unknown bench guest '{name}' (expected: {', '.join(SUITES['all'])})")


def guests_for(suite: str | None, names: str | None) -> tuple:
    """The guests ``--guests`` names, else those of ``--suite``."""
    if names:
        out = tuple(g for g in names.split(",") if g)
        for g in out:
            guest_path(g)
        if not out:
            raise BenchError(f"--guests '{names}': no guest named (expected some of "
                             f"{', '.join(SUITES['all'])})")
        return out
    suite = suite or DEFAULT_SUITE
    if suite not in SUITES:
        raise BenchError(f"unknown suite '{suite}' (expected one of {', '.join(SUITES)})")
    return SUITES[suite]


def default_scale(name: str) -> int:
    """The SCALE a new guest's source sets."""
    if name in C:
        return cguests.default_scale(name)
    return int(_scale_line(guest_path(name), open(guest_path(name)).read()).group(1))


def _scale_line(path: str, text: str):
    found = list(_SCALE.finditer(text))
    if len(found) != 1:
        raise BenchError(f"{path}: expected one line '.set SCALE, N' (found {len(found)})")
    return found[0]


def guest_image(name: str, scale: int | None = None):
    """The assembled image of a bench guest (for its board); with ``scale``,
    a new guest assembled with ``.set SCALE, scale`` instead of its own
    size."""
    from .boards import board_target, get_board
    from .loader import load_guest
    path = guest_path(name)
    if name in C:
        if scale is not None and scale < 1:
            raise BenchError(f"SCALE {scale}: expected a positive number")
        try:
            return cguests.build(name, scale, guest_board(name))
        except cguests.BuildError as e:
            raise BenchError(str(e)) from None
    if scale is None:
        return load_guest(path, board=guest_board(name))
    if not has_scale(name):
        raise BenchError(f"guest '{name}' has no SCALE (only the new guests: "
                         f"{', '.join(SUITES['new'])})")
    if scale < 1:
        raise BenchError(f"SCALE {scale}: expected a positive number")
    from .asm import assemble_file
    text = open(path).read()
    m = _scale_line(path, text)
    text = text[:m.start(1)] + str(scale) + text[m.end(1):]
    board = get_board(guest_board(name))
    return assemble_file(text, path, base=board.LOAD_ADDR, arch=board_target(board).name)


# -- running -------------------------------------------------------------------------------

def run_once(image, engine: str, unicorn_count: str, memory: int, icount_limit: int | None,
             board: str = "pc"):
    """One run of ``image`` on ``engine`` (on ``board``; ``virt`` with
    semihosting): a dict of what bench reports."""
    from .machine import Machine
    # kvm: the time between exits split into the engine's and the rest's (its stats)
    options = ({"count": unicorn_count} if engine == "unicorn"
               else {"timing": "on"} if engine == "kvm" else {})
    m = Machine(board=board, accel=engine, memory=memory, accel_options=options,
                semihosting=board == "virt")
    try:
        m.load_image(image.data, image.name, image.entry)
        t0 = time.perf_counter()
        r = m.run(icount_limit=icount_limit)
        t1 = time.perf_counter()
        # unicorn: from the guest's first instruction, as bare unicorn is timed
        # (a run of a few ms is otherwise mostly the engine's start-up)
        started = getattr(m.accel, "started", None) if engine == "unicorn" else None
        secs = t1 - (t0 if started is None else max(t0, started))
        exact = m.accel.exact_icount
        return {"unicorn_mode": ("exact" if exact else "free") if engine == "unicorn" else None,
                "seconds": secs, "icount": r.icount if exact else None, "output": m.serial_output(),
                "exits": dict(m.stats.by_reason), "stop": r.reason, "status": r.status,
                "stop_message": r.message, "engine_stats": m.accel.stats()}
    finally:
        m.close()


def run_bare(image, memory: int, target):
    """One run of ``image`` on ``target``'s bare unicorn harness."""
    b = target.unicorn_bare(image.data, memory)
    stop = {"debug-exit": "debug-exit", "halt": "halt"}.get(b.how, "internal-error")
    return {"seconds": b.seconds, "icount": None, "output": b.output, "exits": {}, "stop": stop,
            "status": b.status, "stop_message": b.how, "engine_stats": {}}


class BenchInterrupted(Exception):
    """A signal (Ctrl-C) ended the bench: ``rows`` are the rows measured
    until then (the guest it stopped in counted as far as its measured rows
    allow), ``interruption`` the signal's exception (:mod:`emu.signals`)."""

    def __init__(self, rows: list, interruption: BaseException):
        super().__init__(f"interrupted after {len(rows)} rows")
        self.rows = rows
        self.interruption = interruption


def run_bench(guests, engines, repeat: int = 3, unicorn_count: str = "free", memory: int = 16 << 20,
              icount_limit: int | None = 200_000_000, images=None, progress=None) -> list:
    """Every guest on every engine, ``repeat`` times; one row (a dict, the
    JSON schema above) per guest and engine.  ``progress(row)`` is called
    with each row as soon as its runs are done (its MIPS not yet known: the
    row has the ``icount`` its engine counted, or None).  A signal (Ctrl-C:
    ``KeyboardInterrupt``, or :class:`emu.signals.Interrupted`) raises
    :class:`BenchInterrupted` with the rows measured so far."""
    from .signals import Interrupted
    rows = []
    group = []
    try:
        for g in guests:
            image = images[g] if images else guest_image(g)
            _bench_guest(g, image, engines, repeat, unicorn_count, memory, icount_limit, group,
                         progress)
            _count(group, image, memory, icount_limit, guest_board(g))
            rows.extend(group)
            group = []
    except (KeyboardInterrupt, Interrupted) as e:
        if group:
            _count(group, None, memory, icount_limit)
            rows.extend(group)
        raise BenchInterrupted(rows, e) from None
    return rows


def _bench_guest(g, image, engines, repeat, unicorn_count, memory, icount_limit, group,
                 progress) -> None:
    """The rows of guest ``g`` on every engine that runs its architecture,
    appended to ``group`` as they are measured."""
    from .boards import board_target, get_board
    from .signals import check
    board = guest_board(g)
    target = board_target(get_board(board))
    # an engine that cannot run the guest's architecture gets no row (x86: all do)
    for e in [e for e in engines if (e if e != BARE else "unicorn") in target.engines]:
        runs = []
        # a free unicorn counts for an instruction limit: it runs without one
        limit = None if e == "unicorn" and unicorn_count == "free" else icount_limit
        for _ in range(repeat):
            runs.append(run_bare(image, memory, target) if e == BARE
                        else run_once(image, e, unicorn_count, memory, limit, board))
            check()         # a signal during a bare run (no Machine.run to raise it)
        med = sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]
        row = {"guest": g, "mode": guest_mode(g), "engine": e, "seconds": med["seconds"],
               "runs": [r["seconds"] for r in runs], "icount": med["icount"],
               "exits": med["exits"], "stop": med["stop"], "status": med["status"],
               "stop_message": med["stop_message"], "output": med["output"],
               "engine_stats": med["engine_stats"],
               "unicorn_mode": "bare" if e == BARE else med["unicorn_mode"]}
        group.append(row)
        if progress is not None:
            progress(row)


def _count(group, image, memory, icount_limit, board="pc") -> None:
    """Instructions and MIPS for a guest's rows (see the module docstring);
    without ``image``, no untimed run counts them."""
    counted = next((r for r in group if r["icount"] is not None and r["engine"] == "interp"), None) \
        or next((r for r in group if r["icount"] is not None), None)
    if counted is not None:
        n, by = counted["icount"], counted["engine"]
    elif image is not None and any(r["stop"] in ("debug-exit", "halt") for r in group):
        n, by = run_once(image, "tcg", "exact", memory, icount_limit, board)["icount"], "tcg"
    else:
        n, by = None, None
    interp = next((r for r in group if r["engine"] == "interp"), None)
    outputs = {r["output"] for r in group}
    for r in group:
        r["instructions"] = r["icount"] if r["icount"] is not None else n
        r["instructions_by"] = r["engine"] if r["icount"] is not None else by
        r["mips"] = r["instructions"] / r["seconds"] / 1e6 if r["instructions"] and r["seconds"] > 0 \
            else None
        r["output_ok"] = len(outputs) == 1
    for r in group:
        base = interp["mips"] if interp else None
        r["ratio"] = r["mips"] / base if base and r["mips"] else None
        del r["icount"]


# -- reporting -----------------------------------------------------------------------------

def plan_lines(guests, engines, repeat: int, unicorn_count: str) -> list:
    """What a bench will run, said before it starts: the guests (and the
    size each is assembled at), the engines, the runs of each and the
    unicorn engine's mode."""
    sizes = [f"{g} {default_scale(g)}" for g in guests if has_scale(g)]
    fixed = [g for g in guests if not has_scale(g)]
    runs = "1 run" if repeat == 1 else f"{repeat} runs, the median shown"
    lines = [f"emu bench: {len(guests)} guest(s) x {len(engines)} engine(s), {runs}",
             f"  guests:  {', '.join(guests)}",
             f"  engines: {', '.join(engines)}"]
    if sizes:
        lines.append(f"  scale:   SCALE of each source ({', '.join(sizes)})")
    if fixed:
        lines.append(f"  scale:   fixed size (no SCALE): {', '.join(fixed)}")
    if "unicorn" in engines:
        lines.append("  unicorn: " + ("free runs (count=free: no per-instruction hook, no count; "
                                      "an engine or guest that cannot run free counts exactly)"
                                      if unicorn_count == "free" else
                                      "exact counting (count=exact: a block hook counts every "
                                      "instruction)"))
    return lines


class LiveReport:
    """``run_bench``'s progress hook for a terminal: each row on one line as
    soon as it is measured, its MIPS from the count of an engine of the
    same guest measured before it (``~``) where its own engine does not
    count; ``rows`` keeps them."""

    def __init__(self, write=print):
        self.rows = []
        self._write = write
        self._counts = {}           # guest -> (instructions, counting engine)

    def __call__(self, row) -> None:
        self.rows.append(row)
        g = row["guest"]
        if row["icount"] is not None and (g not in self._counts or row["engine"] == "interp"):
            self._counts[g] = (row["icount"], row["engine"])
        if row["icount"] is not None:
            n, text = row["icount"], str(row["icount"])
        elif g in self._counts:
            n = self._counts[g][0]
            text = f"~{n}"
        else:
            n, text = None, "?"
        mips = f"{n / row['seconds'] / 1e6:.2f}" if n and row["seconds"] > 0 else "?"
        exits = ", ".join(f"{k} {v}" for k, v in sorted(row["exits"].items()))
        mode = f" [{row['unicorn_mode']}]" if row["unicorn_mode"] else ""
        self._write(f"  {g:<12} {row['engine'] + mode:<22} {text:>12} {row['seconds']:>8.3f} s "
                    f"{mips:>8} MIPS  {row['stop']}  {exits}")


def print_table(rows, extra, repeat: int, chart: bool = True) -> None:
    """The table, the notes on how each engine's instructions were counted,
    the terminal chart (``chart``), the engines' own counters and
    ``extra`` (name: value lines, last)."""
    gw = max([9] + [len(r["guest"]) for r in rows])
    ew = max([8] + [len(r["engine"]) for r in rows])
    hdr = (f"{'guest':<{gw}} {'engine':<{ew}} {'instructions':>12} {'seconds':>8} {'MIPS':>8} "
           f"{'x interp':>8}  exits")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        n = r["instructions"]
        ntext = ("" if r["instructions_by"] == r["engine"] else "~") + (str(n) if n else "?")
        mips = f"{r['mips']:.2f}" if r["mips"] else "?"
        ratio = f"{r['ratio']:.1f}" if r["ratio"] else "-"
        exits = ", ".join(f"{k} {v}" for k, v in sorted(r["exits"].items()))
        print(f"{r['guest']:<{gw}} {r['engine']:<{ew}} {ntext:>12} {r['seconds']:>8.3f} {mips:>8} "
              f"{ratio:>8}  {exits}")
    bad = sorted({r["guest"] for r in rows if not r["output_ok"]})
    print()
    print("UART output identical across engines for every guest." if not bad
          else f"UART output DIFFERS for: {', '.join(bad)}")
    for r in rows:
        if r["stop"] not in ("halt", "debug-exit"):
            print(f"  {r['guest']} on {r['engine']} stopped early: {r['stop']}: {r['stop_message']}")
    if repeat > 1:
        print(f"Each figure is the median of {repeat} runs.")
    modes = {}
    for r in rows:
        if r["engine"] == "unicorn":
            modes.setdefault(r["unicorn_mode"], []).append(r["guest"])
    if any(r["engine"] in ("unicorn", BARE) for r in rows):
        print(TIMED_FROM_START)
    if modes:
        print("unicorn engine: " + "; ".join(f"{mode} runs on {', '.join(gs)}"
                                             for mode, gs in modes.items()))
    by = sorted({(r["engine"], r["instructions_by"]) for r in rows
                 if r["instructions_by"] not in (None, r["engine"])})
    for engine, counter in by:
        print(f"~ {engine}: {_not_counted(engine, rows)}; the count is {counter}'s for the same guest.")
    if chart:
        print_chart(rows)
    _counters(rows, "tcg", "translator (tcg): blocks translated / executed, chain hits (rate), "
              "invalidations, helper calls",
              lambda e: f"{e.get('blocks_translated', 0):>6} / {e.get('blocks_executed', 0):<8} "
                        f"{e.get('chain_hits', 0):>8} ({e.get('chain_hit_rate', 0):.2f})  "
                        f"{e.get('invalidations', 0):>5}  {e.get('helper_calls', 0):>7}")
    _counters(rows, "kvm", "kvm: KVM_RUN calls, seconds inside KVM_RUN / in the accelerator's Python "
              "/ elsewhere",
              lambda e: f"{e.get('kvm_runs', 0):>7}  {e.get('seconds_in_kvm_run', 0):.3f} / "
                        f"{e.get('seconds_in_accel_python', 0):.3f} / {e.get('seconds_outside_accel', 0):.3f}")
    for k, v in extra.items():
        print(f"{k}: {v if isinstance(v, str) else f'{v:.2f}'}")


def _counters(rows, engine: str, header: str, line) -> None:
    """The engine's own counters (``engine_stats``), a line per guest."""
    mine = [r for r in rows if r["engine"] == engine and r["engine_stats"]]
    if mine:
        gw = max(9, *(len(r["guest"]) for r in mine))
        print("\n" + header)
        for r in mine:
            print(f"  {r['guest']:<{gw}} {line(r['engine_stats'])}")


def _not_counted(engine: str, rows) -> str:
    if engine == BARE:
        return "bare unicorn (device hooks only) does not count instructions"
    if engine == "unicorn":
        return "unicorn ran free (count=free: no block hook, no count), so it did not count"
    return "the engine cannot count instructions"


def print_chart(rows) -> None:
    """MIPS as bars, one line per guest and engine, on a log scale."""
    gw = max([9] + [len(r["guest"]) for r in rows])
    ew = max([8] + [len(r["engine"]) for r in rows])
    span = math.log10(CHART_HIGH / CHART_LOW)
    print(f"\nMIPS (log scale: {CHART_LOW:g} to {CHART_HIGH:g} over {CHART_WIDTH} columns)")
    last = None
    for r in rows:
        if last is not None and r["guest"] != last:
            print()
        last = r["guest"]
        mips = r["mips"]
        if not mips:
            bar, text = "", "?"
        else:
            k = round(CHART_WIDTH * math.log10(min(max(mips, CHART_LOW), CHART_HIGH) / CHART_LOW) / span)
            bar, text = "#" * max(1, k), f"{mips:.2f}"
        print(f"{r['guest']:<{gw}} {r['engine']:<{ew}} |{bar:<{CHART_WIDTH}} {text}")


def check_plot(path: str) -> None:
    """Refuse a ``--plot`` that could not be drawn, before the bench runs."""
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        raise BenchError("--plot needs matplotlib (install kasou's 'plot' extra: pip install "
                         "matplotlib)")
    where = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(where) or not os.access(where, os.W_OK):
        raise BenchError(f"--plot {path}: cannot write it (no writable directory {where})")


def plot(rows, path: str, repeat: int) -> None:
    """A grouped bar chart of MIPS (log scale) per guest and engine, as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    guests = list(dict.fromkeys(r["guest"] for r in rows))
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    width = 0.8 / len(engines)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(guests) * max(1, len(engines) / 3)), 4.5))
    for k, e in enumerate(engines):
        xs, ys = [], []
        for i, g in enumerate(guests):
            r = next((x for x in rows if x["guest"] == g and x["engine"] == e), None)
            if r is not None and r["mips"]:
                xs.append(i + (k - (len(engines) - 1) / 2) * width)
                ys.append(r["mips"])
        ax.bar(xs, ys, width, label=e)
    ax.set_yscale("log")
    ax.set_xticks(range(len(guests)))
    ax.set_xticklabels(guests, rotation=30, ha="right")
    ax.set_ylabel("MIPS (log scale)")
    ax.set_title(f"kasou emu bench: MIPS per engine (median of {repeat})")
    ax.legend(fontsize="small")
    fig.tight_layout()
    try:
        fig.savefig(path, format="png")
    except OSError as e:
        raise BenchError(f"--plot {path}: cannot write it ({e.strerror})") from None
    finally:
        plt.close(fig)


def json_rows(rows) -> list:
    """The rows as the JSON schema has them (the output itself left out)."""
    keep = ("guest", "mode", "engine", "instructions", "instructions_by", "seconds", "runs", "mips",
            "ratio", "exits", "unicorn_mode", "output_ok", "stop", "status")
    return [{k: r[k] for k in keep} for r in rows]
