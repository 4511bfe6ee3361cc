"""The ``emu`` command.

Options follow QEMU's names where QEMU has one (``-M``, ``-accel``,
``-enable-kvm``, ``-cpu``, ``-m``, ``-kernel``, ``-serial``, ``-nographic``,
``-d``, ``-D``, ``-icount``, ``-gdb``, ``-s``, ``-S``), so what a learner
types here transfers; as in QEMU, ``-d help``, ``-M help``, ``-cpu help``
and ``-accel help`` list what the option takes.  Subcommands:

    emu run       run a guest                 emu demo        the demo guest on every engine
    emu bench     every engine on the benchmark guests
    emu diff      two engines in lockstep     emu conformance single-instruction test vectors
    emu coverage  encodings without semantics emu translate   the translator's view of one block
    emu debug     step through a guest (gdb-like commands; -x FILE replays a script)
    emu kvm-probe what this host's KVM does differently from the SDM (cached per boot)
    emu run ... -gdb tcp::PORT -S    wait for gdb (the remote protocol) before running

A subcommand takes only the options it honours: ``emu debug`` has no ``-d``
or ``-serial``, ``emu diff`` only what builds its two Machines.

Exit status of ``emu run``: the guest's (isa-debug-exit: (v << 1) | 1), 0 on
HLT with interrupts disabled, 124 when -icount-limit is reached, 3 when the
guest crashed (triple fault, an engine failure), 1 for any other error and
2 for bad command-line usage.  Errors are one line on stderr, ``emu
COMMAND: what was wrong`` (usage errors add ``see 'emu COMMAND --help'``);
``--debug`` shows the Python traceback instead.
Any command: 130 after Ctrl-C (``emu: interrupted``), 143 after SIGTERM
(``emu: terminated``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .bench import SUITES as BENCH_SUITES
from .boards import board_help
from . import version
from .machine import STATUS_ERROR

ACCELS = ("interp", "tcg", "unicorn", "kvm")
CPUS = ("8086", "286", "max", "arm7tdmi", "cortex-a15")
GUESTS_DIR = os.path.join(os.path.dirname(__file__), "guests")
BENCH_GUESTS = tuple(BENCH_SUITES["classic"])
STEP_BENCH_GUESTS = ("intloop", "sieve", "crc32", "fib", "uart")

#: -d items, as ``-d help`` lists them
LOG_ITEMS = {
    "in_asm": "guest code: each translated block (tcg), or each instruction as it runs",
    "op": "the translator's IR of each block (tcg)",
    "op_opt": "the IR after optimisation (tcg)",
    "out_asm": "the Python the translator generated for each block (tcg)",
    "exec": "each block as it is executed, and code run by the interpreter while cold (tcg)",
    "nochain": "do not chain blocks: every block goes back to the dispatcher (tcg)",
    "cpu": "the CPU state before each instruction",
    "int": "every interrupt and exception delivered, and each interrupt acknowledged",
    "exits": "every VM exit the Machine serves, with the guest PC of the instruction "
             "that caused it, and a count at the end",
    "asm": "which assembler made the guest from its source, and the dialect it read",
}
LOG_FLAGS = tuple(LOG_ITEMS)
#: -M help
#: -M help: the board registry's list
BOARD_HELP = board_help()
#: -accel help
ACCEL_HELP = {
    "interp": "the pure-Python interpreter (default)",
    "tcg": "the pure-Python translator: blocks, IR, generated Python",
    "unicorn": "QEMU's TCG in C, through unicorn; -accel unicorn,count=exact|free (default exact): "
               "free runs without counting instructions, as QEMU without -icount",
    "kvm": "the host CPU through /dev/kvm; -accel kvm,ioeventfd=on|off (default on): "
           "doorbell writes (virtio QueueNotify) without an exit; timing=off|on (default off): "
           "the time between exits split into the engine's and the rest's (two more clock "
           "reads per exit)",
}
#: -accel NAME,PROP=VALUE: the properties each engine takes, and their values
ACCEL_OPTIONS = {"kvm": {"ioeventfd": ("on", "off"), "timing": ("off", "on")},
                 "unicorn": {"count": ("exact", "free")}}
#: -cpu help: what each model is and which engines model it
CPU_HELP = {
    "8086": "Intel 8086 (1979): 20 address lines, no #UD, 8086 flags and quirks",
    "286": "Intel 80286 in real mode: 24 address lines, 286 flags and faults",
    "max": "a modern x86: real, protected and long mode (the default on -M pc)",
    "arm7tdmi": "ARM7TDMI (ARMv4T): A32 and Thumb, the arm7tdmi test vectors' CPU (-M virt)",
    "cortex-a15": "Cortex-A15 (ARMv7-A), A32 and T16 (the default on -M virt)",
}
MEMORY_HELP = ("RAM size: a bare number is MiB, as in QEMU (-m 64 = 64 MiB), or give a suffix "
               "K, M or G (512K, 16M, 1G); default: the board's (16M on pc, 128M on virt)")
GUEST_HELP = "guest image: a flat binary, an ELF executable, or assembly source (.S/.asm)"


class UsageError(Exception):
    """Bad command-line input: one line, exit status 2, and a pointer to
    ``--help``.  ``prog`` is the command ('emu run') when known here."""

    def __init__(self, message: str, prog: str | None = None):
        super().__init__(message)
        self.prog = prog


class CommandError(Exception):
    """A command could not do what it was asked (a file it cannot open, a
    port in use): one line, exit status 1."""


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (and exit status 2)."""

    def error(self, message):
        raise UsageError(message, self.prog)


def _listing(title: str, items: dict) -> str:
    width = max(len(k) for k in items)
    return "\n".join([title] + [f"  {k:<{width}}  {v}" for k, v in items.items()])


def _cpu_listing() -> str:
    width = max(len(k) for k in CPU_HELP)
    lines = ["CPU models (-cpu NAME), and the engines (-accel) that model each:"]
    from .accel.base import cpu_engines
    for name, what in CPU_HELP.items():
        lines.append(f"  {name:<{width}}  {what}")
        lines.append(f"  {'':<{width}}  modelled by: {', '.join(cpu_engines(name))}")
    return "\n".join(lines)


class Listable(argparse.Action):
    """An option whose value ``help`` prints what it accepts and exits 0, as
    QEMU's ``-d help``, ``-M help``, ``-cpu help`` and ``-accel help``;
    any other value goes through ``convert`` (ValueError: a usage error)."""

    def __init__(self, option_strings, dest, listing=None, convert=None, **kw):
        self.listing = listing
        self.convert = convert
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, value, option_string=None):
        if value == "help":
            print(self.listing())
            parser.exit(0)
        try:
            setattr(namespace, self.dest, self.convert(value))
        except ValueError as e:
            parser.error(f"{option_string} {value}: {e}")


def one_of(names, option: str):
    """A converter that accepts one of ``names``."""
    def convert(value):
        if value not in names:
            raise ValueError(f"invalid choice: '{value}' (expected {', '.join(names)}; "
                             f"'{option} help' lists them)")
        return value
    return convert


def engine_pair(value: str) -> tuple:
    """emu diff's ``-accel A,B``: exactly two known engines."""
    names = [a for a in value.split(",") if a]
    for a in names:
        one_of(ACCELS, "-accel")(a)
    if len(names) != 2:
        raise ValueError(f"expected exactly two engines to compare, e.g. -accel interp,unicorn "
                         f"(got {len(names)})")
    return tuple(names)


class Once(argparse.Action):
    """A store option that may be given only once (``-kernel``)."""

    def __call__(self, parser, namespace, value, option_string=None):
        old = getattr(namespace, self.dest, None)
        if old is not None:
            parser.error(f"{option_string} given twice ('{old}' and '{value}'): one guest image per run")
        setattr(namespace, self.dest, value)


_SIZE_SUFFIX = {"": 1 << 20, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``-m``: as QEMU, a bare number is MiB; K, M, G (KiB, MiB, GiB) or B
    (bytes) may follow, optionally spelt KB/KiB."""
    t = text.strip().upper()
    for tail in ("IB", "B"):
        if len(t) > 1 and t.endswith(tail) and t[-len(tail) - 1] in "KMGT":
            t = t[:-len(tail)]
            break
    digits = t.rstrip("BKMGT")
    suffix = t[len(digits):]
    try:
        if suffix not in _SIZE_SUFFIX:
            raise ValueError
        n = int(digits, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad memory size '{text}' (a bare number is MiB, as in QEMU; or give a suffix "
            f"K, M or G: 512K, 16M, 1G)") from None
    size = n * _SIZE_SUFFIX[suffix]
    if size < 64 << 10 or size % 4096 or size > 4 << 30:
        raise argparse.ArgumentTypeError(f"memory size '{text}' must be a multiple of 4 KiB between 64K and 4G")
    return size


def parse_count(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be positive")
    return n


def parse_icount(text: str) -> int:
    """``-icount shift=N`` (or just ``N``), as QEMU spells it: 2**N ns of guest
    time per instruction."""
    from .machine import MAX_ICOUNT_SHIFT
    value = text[len("shift="):] if text.startswith("shift=") else text
    try:
        shift = int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}': expected shift=N with N in 0..{MAX_ICOUNT_SHIFT} (2**N ns per instruction)") from None
    if not 0 <= shift <= MAX_ICOUNT_SHIFT:
        raise argparse.ArgumentTypeError(f"'{text}': the shift must be 0..{MAX_ICOUNT_SHIFT}")
    return shift


def parse_log_flags(text: str) -> list:
    flags = [f for f in text.split(",") if f]
    if not flags:
        raise ValueError("no log item given ('-d help' lists them)")
    for f in flags:
        if f not in LOG_FLAGS:
            raise ValueError(f"unknown -d item '{f}' (expected: {', '.join(LOG_FLAGS)}; "
                             f"'-d help' describes them)")
    return flags


def add_board_option(p) -> None:
    p.add_argument("-M", "-machine", dest="machine", default="pc", action=Listable,
                   convert=one_of(tuple(BOARD_HELP), "-M"),
                   listing=lambda: _listing("Supported machines (-M NAME):", BOARD_HELP),
                   help="board (pc: x86 PC, real mode at 0000:7C00); '-M help' lists them")


def add_cpu_option(p, *aliases, board_default=False) -> None:
    """-cpu; ``board_default``: the default is the board's (x86: max, Arm:
    cortex-a15) rather than max."""
    p.add_argument("-cpu", *aliases, dest="cpu", default=None if board_default else "max",
                   action=Listable, convert=one_of(CPUS, "-cpu"), listing=_cpu_listing,
                   help="CPU model: 8086, 286, max (the x86 default), arm7tdmi, cortex-a15 (the "
                        "Arm default); '-cpu help' says which engines model each")


class AccelOption(Listable):
    """``-accel NAME[,PROP=VALUE...]``: the engine's name in ``accel``, its
    properties (:data:`ACCEL_OPTIONS`) in ``accel_options``."""

    def __call__(self, parser, namespace, value, option_string=None):
        name, *props = value.split(",")
        super().__call__(parser, namespace, name, option_string)
        taken = ACCEL_OPTIONS.get(name, {})
        options = {}
        for prop in props:
            key, eq, val = prop.partition("=")
            if not eq or key not in taken or val not in taken[key]:
                expected = ", ".join(f"{k}={'|'.join(v)}" for k, v in taken.items())
                parser.error(f"{option_string} {value}: '{prop}' is not a property of {name} (expected "
                             + (expected or "none: it takes no properties") + ")")
            options[key] = val
        namespace.accel_options = options


def add_accel_option(p, *aliases, default="interp", kvm_switch=True, props=False) -> None:
    p.set_defaults(accel_options={})
    p.add_argument("-accel", *aliases, dest="accel", default=default,
                   action=AccelOption if props else Listable,
                   convert=one_of(ACCELS, "-accel"),
                   listing=lambda: _listing("Engines (-accel NAME):", ACCEL_HELP),
                   help="engine: interp (interpreter), tcg (translator), unicorn, kvm; "
                        "'-accel help' lists them")
    if kvm_switch:
        p.add_argument("-enable-kvm", dest="accel", action="store_const", const="kvm",
                       help="the same as -accel kvm")


def add_memory_option(p) -> None:
    p.add_argument("-m", dest="memory", type=parse_size, default=None, metavar="SIZE",
                   help=MEMORY_HELP)


def add_semihosting_option(p) -> None:
    p.add_argument("-semihosting", dest="semihosting", action="store_true",
                   help="Arm semihosting (virt): the guest's SVC 0x123456 / BKPT 0xAB calls "
                        "reach the console, the clock and exit (off by default, as in QEMU)")


def add_machine_options(p, accel_default="interp", run=False):
    """The options that build a Machine; ``run``: also those only a free run
    honours (serial port, logs, instruction limit)."""
    add_board_option(p)
    add_accel_option(p, default=accel_default, props=True)
    add_cpu_option(p, board_default=True)
    add_memory_option(p)
    p.add_argument("-icount", dest="icount_shift", type=parse_icount, metavar="shift=N",
                   help="guest time: 2**N ns per instruction (default 7; interp, tcg, unicorn; "
                        "KVM runs in real time)")
    p.add_argument("-one-insn-per-tb", dest="one_insn_per_tb", action="store_true",
                   help="translator: one instruction per block")
    add_semihosting_option(p)
    if not run:
        return
    p.add_argument("-serial", dest="serial", default="stdio",
                   help="stdio | file:PATH | none (COM1)")
    p.add_argument("-nographic", dest="nographic", action="store_true",
                   help="as QEMU: no display, the serial port on stdio (kasou has no display, "
                        "and stdio is the default -serial)")
    p.add_argument("-d", dest="log_flags", default=[], action=Listable, convert=parse_log_flags,
                   listing=lambda: _listing("Log items (-d ITEM[,ITEM...]):", LOG_ITEMS),
                   metavar="ITEM[,ITEM...]",
                   help="log items: " + ",".join(LOG_FLAGS) + "; '-d help' describes them")
    p.add_argument("-D", dest="logfile", metavar="FILE",
                   help="write the -d log to this file (default stderr)")
    p.add_argument("-icount-limit", dest="icount_limit", type=parse_count, metavar="N",
                   help="stop after N guest instructions (exit status 124)")


#: emu diff --max-steps default.  A lockstep step costs about 1 ms on the
#: slowest pairs (unicorn,kvm and tcg,unicorn: both engines single-stepped,
#: disassembled and compared every step; measured on a 2-core host), and up
#: to 3 ms when other jobs load the host: this bound ends a run that finds
#: nothing in 10-35 s
DIFF_MAX_STEPS = 10_000


def build_parser() -> Parser:
    p = Parser(prog="emu", allow_abbrev=False,
               description="kasou: one guest, four engines (interpreter, translator, unicorn, KVM).")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    p.add_argument("--version", action="version", version=f"emu (kasou) {version()}")
    sub = p.add_subparsers(dest="cmd", parser_class=Parser, metavar="COMMAND")
    _add = sub.add_parser
    sub.add_parser = lambda *a, **k: _add(*a, allow_abbrev=False, **k)

    r = sub.add_parser("run", help="run a guest")
    add_machine_options(r, run=True)
    r.add_argument("-kernel", dest="kernel", action=Once, metavar="FILE", help=GUEST_HELP)
    r.add_argument("guest", nargs="?", help="the guest image, as with -kernel")
    r.add_argument("--input", help="bytes the UART receives (instead of stdin)")
    r.add_argument("-gdb", dest="gdb", metavar="tcp::PORT",
                   help="wait for gdb on 127.0.0.1:PORT (the gdb remote protocol)")
    r.add_argument("-s", dest="gdb_default", action="store_true", help="shorthand for -gdb tcp::1234")
    r.add_argument("-S", dest="freeze", action="store_true",
                   help="with -gdb, -qmp or -monitor: do not start the guest until "
                        "gdb or 'cont' says so")
    r.add_argument("-qmp", dest="qmp", action="append", metavar="DEV",
                   help="serve QMP on unix:PATH,server=on,wait=off or tcp:HOST:PORT,server=on,wait=off "
                        "(several allowed; HOST defaults to 127.0.0.1)")
    r.add_argument("-monitor", dest="monitor", action="append", metavar="DEV",
                   help="serve the human monitor (HMP) on stdio, unix:PATH,... or tcp:HOST:PORT,...")

    dbg = sub.add_parser("debug", help="step through a guest with gdb-like commands")
    add_machine_options(dbg)
    dbg.add_argument("-kernel", dest="kernel", action=Once, metavar="FILE", help=GUEST_HELP)
    dbg.add_argument("guest", nargs="?", help="the guest image, as with -kernel")
    dbg.add_argument("--replay", metavar="FILE",
                     help="open a replay file of emu grade --replay where the graded test failed")
    dbg.add_argument("-x", dest="script", metavar="FILE", help="read commands from FILE (then stop)")
    dbg.add_argument("--input", help="bytes the UART receives")
    dbg.add_argument("--history-size", type=parse_count, default=1_000_000,
                     help="instructions of reverse-execution history to keep")
    dbg.add_argument("-qmp", dest="qmp", action="append", metavar="DEV",
                     help="serve QMP while debugging (unix:PATH,server=on,wait=off or "
                          "tcp:HOST:PORT,...): the monitor and the debugger share the run state")
    dbg.add_argument("-monitor", dest="monitor", action="append", metavar="DEV",
                     help="serve the human monitor (HMP) on unix:PATH,... or tcp:HOST:PORT,... "
                          "(not stdio: the debugger reads its commands there)")

    d = sub.add_parser("demo", help="run the built-in demo guest on every available engine")
    d.add_argument("-accel", dest="accels", help="comma-separated engines (default: all available)")

    b = sub.add_parser("bench", help="run the benchmark guests on every available engine",
                       description="Run the bench guests on every engine (and bare unicorn): MIPS, "
                                   "the ratio to interp, exits by reason, a bar chart; the median "
                                   "of --repeat runs.  The JSON schema is emu.bench's docstring.")
    b.add_argument("-accel", dest="accels",
                   help="comma-separated engines (default: all available, and unicorn-bare: unicorn "
                        "with only the device hooks)")
    b.add_argument("--guests", help="comma-separated guests: " + ",".join(BENCH_SUITES["all"]))
    b.add_argument("--suite", choices=tuple(BENCH_SUITES),
                   help="the guests to run: classic (emu/guests), new (emu/guests/bench: real and "
                        "protected mode; the default), arm (tests/guests/arm), c (emu/guests/c: C "
                        "built with gcc and arm-none-eabi-gcc) or all")
    b.add_argument("--repeat", type=parse_count, default=3, metavar="N",
                   help="runs of each guest on each engine; the median is shown (3)")
    b.add_argument("--unicorn-count", choices=("free", "exact"), default="free",
                   help="the unicorn engine runs free (no instruction count, as QEMU without "
                        "-icount; the default) or counts every instruction")
    b.add_argument("--json", dest="json_out", metavar="FILE", nargs="?", const="-",
                   help="write the results as JSON (to FILE, or stdout)")
    b.add_argument("--plot", metavar="FILE.png",
                   help="draw MIPS per guest and engine as a bar chart into FILE.png (matplotlib); "
                        "without it the chart is drawn in the terminal")
    b.add_argument("--step", action="store_true",
                   help="measure single-stepping instead: microseconds per step on each engine "
                        "(tcg -one-insn-per-tb) against unicorn with a per-instruction hook")
    b.add_argument("--steps", type=parse_count, default=100_000,
                   help="--step: instructions stepped from reset per guest and engine (100000)")
    b.add_argument("--kvm-exit", action="store_true",
                   help="measure the KVM exit round trip instead: a C KVM_RUN loop (built with gcc), "
                        "a bare Python KVM_RUN loop, Vcpu.run, kasou's kvm engine and the whole "
                        "Machine on the same guest, in wall-clock and CPU time with the ratios to C; "
                        "and ioeventfd on/off per doorbell notification")

    df = sub.add_parser("diff", help="run a guest on two engines in lockstep; report the first divergence",
                        description="Run a guest on TWO engines (-accel A,B) in lockstep, one "
                                    "instruction at a time, and report the first divergence "
                                    "(registers, I/O, RAM).  Exit status 1 when they diverge.")
    add_board_option(df)
    df.add_argument("-accel", dest="accel", default=("interp", "unicorn"), action=Listable,
                    convert=engine_pair, metavar="A,B",
                    listing=lambda: _listing("Engines (-accel A,B: two of them):", ACCEL_HELP),
                    help="the two engines to compare, e.g. interp,kvm (default interp,unicorn)")
    add_cpu_option(df, board_default=True)
    add_memory_option(df)
    add_semihosting_option(df)
    df.add_argument("guest", help=GUEST_HELP)
    df.add_argument("--max-steps", type=parse_count, default=DIFF_MAX_STEPS, metavar="N",
                    help=f"stop after N instructions without a divergence, and say so "
                         f"(default {DIFF_MAX_STEPS}: well under a minute on the slowest pair of engines)")

    c = sub.add_parser("conformance", help="run single-instruction test vectors")
    c.add_argument("dir", help="a suite (8086, 286, arm7tdmi: the pinned vectors `make vectors` "
                               "finds) or a directory of vectors")
    add_cpu_option(c, "--cpu", board_default=True)
    add_accel_option(c, "--accel", default=None, kvm_switch=False)
    c.add_argument("--files", help="comma-separated file names (default: all)")
    c.add_argument("--limit", type=parse_count, help="at most N vectors per file")
    c.add_argument("--json", dest="json_out", action="store_true", help="print JSON")
    c.add_argument("--compare", metavar="A,B",
                   help="run every vector on two engines (e.g. interp,kvm) and compare them "
                        "with each other instead of with the capture")
    c.add_argument("-v", "--verbose", action="store_true",
                   help="list every file, and for each failed vector what differs: registers, "
                        "flags by name, memory (got vs expected)")

    cv = sub.add_parser("coverage", help="list decoded encodings that have no semantics, and what the "
                                         "translator does with each (in the block, ends it, interpreter)")
    add_board_option(cv)
    add_cpu_option(cv, "--cpu", board_default=True)

    kp = sub.add_parser("kvm-probe", help="what this host's KVM does differently from the SDM")
    kp.add_argument("--refresh", action="store_true", help="probe again (the results are cached per boot)")
    kp.add_argument("--json", dest="json_out", action="store_true", help="print JSON")

    g = sub.add_parser("grade", help="grade assembly submissions against an assignment spec")
    _add_grade_arguments(g)

    lb = sub.add_parser("lab", help="the course's labs: list, show N, check N [FILES], hint N")
    _add_lab_arguments(lb)

    t = sub.add_parser("translate", help="show the translator's view of the block at an address")
    add_board_option(t)
    add_cpu_option(t, board_default=True)
    add_memory_option(t)
    t.add_argument("guest", help=GUEST_HELP)
    t.add_argument("--at", default=None, help="guest address or label (default: the entry point)")
    return p


# -- helpers ------------------------------------------------------------------------------
def load_guest(path: str, log=None, board: str = "pc"):
    """The guest image for ``board`` (:func:`emu.loader.load_guest`)."""
    from .loader import load_guest as load
    return load(path, log, board)


def open_log(args):
    if not args.log_flags:
        return None
    if args.logfile:
        try:
            return open(args.logfile, "w")
        except OSError as e:
            raise CommandError(f"-D {args.logfile}: cannot open ({e.strerror})") from None
    return sys.stderr


def serial_setup(args, stdin: bool = True):
    """(input source, output sink) for -serial; ``stdin=False`` when standard
    input is the monitor's (-monitor stdio)."""
    spec = args.serial
    if spec == "none":
        return None, None
    if spec == "stdio":
        out = sys.stdout.buffer

        def sink(data):
            out.write(data)
            out.flush()
        source = getattr(args, "input", None)
        if source is None and stdin and not sys.stdin.isatty():
            source = _stdin_source()
        return source, sink
    if spec.startswith("file:"):
        path = spec[5:]
        if not path:
            raise UsageError("-serial file: needs a path, e.g. -serial file:serial.log")
        try:
            f = open(path, "wb")
        except OSError as e:
            raise CommandError(f"-serial {spec}: cannot open ({e.strerror})") from None

        def fsink(data):
            f.write(data)
            f.flush()
        return getattr(args, "input", None), fsink
    raise UsageError(f"-serial '{spec}': expected stdio, file:PATH or none")


def _stdin_source():
    import select
    fd = sys.stdin.fileno()
    done = [False]

    def source():
        if done[0]:
            return None
        r, _, _ = select.select([fd], [], [], 0)
        if not r:
            return None
        data = os.read(fd, 4096)
        if not data:
            done[0] = True
            return None
        return data
    return source


def make_machine(args, accel=None, serial=None, log=None, quiet=False, output_keep=None):
    from .machine import DEFAULT_OUTPUT_KEEP, Machine
    source, sink = serial if serial is not None else (None, None)
    shift = getattr(args, "icount_shift", None)
    if shift is not None and (accel or args.accel) == "kvm":
        raise UsageError(f"-icount shift={shift}: the kvm engine cannot count instructions "
                         "(its guest time is real time); use -accel interp, tcg or unicorn")
    _check_cpu_model((accel or args.accel,), args.cpu)
    return Machine(board=args.machine, accel=accel or args.accel, cpu=args.cpu, memory=args.memory,
                   serial_input=source, serial_sink=sink, log=log,
                   log_flags=getattr(args, "log_flags", ()),
                   one_insn_per_tb=getattr(args, "one_insn_per_tb", False), icount_shift=shift,
                   semihosting=getattr(args, "semihosting", False),
                   accel_options=getattr(args, "accel_options", {}) if accel is None else {},
                   output_keep=DEFAULT_OUTPUT_KEEP if output_keep is None else output_keep)


def _check_cpu_model(accels, cpu) -> None:
    from .accel.base import cpu_model_error
    why = cpu_model_error(accels, cpu)
    if why:
        raise UsageError(why)


def available_accels(wanted=None) -> list:
    """The engines -accel A,B,... names (each must be available), or every
    available one when ``wanted`` is None."""
    names = list(ACCELS) if wanted is None else [a for a in wanted.split(",") if a]
    if not names:
        raise UsageError(f"-accel '{wanted}': no engine named (expected some of {', '.join(ACCELS)})")
    out = []
    for n in names:
        if n not in ACCELS:
            raise UsageError(f"unknown accelerator '{n}' (expected: {', '.join(ACCELS)})")
        ok, why = accel_available(n)
        if ok:
            out.append(n)
        elif wanted is not None:
            raise CommandError(f"accelerator '{n}' is not available here: {why}")
    return out


def accel_available(name: str):
    import importlib
    from .accel.base import _REGISTRY
    mod, cls = _REGISTRY[name]
    if name == "kvm":
        dev = os.environ.get("KASOU_KVM_DEV", "/dev/kvm")
        if not os.path.exists(dev):
            return False, "KVM is not available here (no /dev/kvm); use -accel tcg"
    try:
        m = importlib.import_module(mod)
    except ImportError as e:
        return False, str(e)
    if getattr(m, cls, None) is None:
        return False, "not built"
    return True, ""


# -- commands ---------------------------------------------------------------------------------
def guest_path(args) -> str | None:
    """The guest image named by ``-kernel FILE`` or just ``FILE`` (not both)."""
    if args.kernel and args.guest:
        raise UsageError(f"two guest images given (-kernel {args.kernel} and {args.guest}); "
                         f"one guest per run: -kernel FILE or just FILE")
    return args.kernel or args.guest


def cmd_run(args) -> int:
    path = guest_path(args)
    if not path:
        raise UsageError("no guest given (use -kernel FILE or a file name)")
    gdb = args.gdb or ("tcp::1234" if args.gdb_default else None)
    monitors = monitor_endpoints(args)
    if args.freeze and not gdb and not monitors:
        raise UsageError("-S starts the guest stopped, and without -gdb, -qmp or -monitor nothing "
                         "could start it: add -gdb tcp::PORT (or -s for port 1234) and continue "
                         "from gdb, or -qmp/-monitor and send 'cont'")
    port = parse_gdb_address(gdb) if gdb else None
    log = open_log(args)
    img = load_guest(path, log if "asm" in args.log_flags else None, args.machine)
    # the output goes to its sink as it comes; only gdb's 'monitor info
    # serial' reads it back
    stdin_monitor = any(ep.kind == "stdio" for ep, _ in monitors)
    m = make_machine(args, serial=serial_setup(args, stdin=not stdin_monitor), log=log,
                     output_keep=None if gdb else 0)
    m.load_image(img.data, img.name, img.entry, img.base)
    if gdb and not monitors:
        return _run_gdb(args, m, img, gdb, port)
    from .signals import Interrupted
    try:
        if monitors:
            r = _run_monitor(args, m, img, monitors, gdb, port)
            if r is None:               # 'quit'
                return 0
        else:
            r = m.run(icount_limit=args.icount_limit)
    except Interrupted as e:
        for note in _host_notes(m, path):
            e.add_note(note)
        raise
    if "exits" in args.log_flags and log is not None:
        log.write("".join(line + "\n" for line in m.stats.summary_lines()))
    if r.reason == "limit":
        print(f"emu run: {r.message}; guest stopped at {_pc_text(m)}", file=sys.stderr)
    elif r.reason not in ("halt", "debug-exit"):
        print(f"emu run: guest stopped: {r.message}", file=sys.stderr)
    if r.reason != "halt" and not (r.reason == "debug-exit" and r.status == 1):
        for note in _host_notes(m, path):
            print(f"emu: {note}", file=sys.stderr)
    return r.status & 0xFF if r.reason == "debug-exit" else r.status


def _host_notes(m, path) -> list:
    """A run that did not end well (a crash, a limit, a signal, or a guest
    that reported failure through isa-debug-exit): what of the engine's host
    could explain it -- on KVM, the departures from the SDM this host's KVM
    was found to have (``emu kvm-probe``) -- and how to compare."""
    found = m.accel.host_notes()
    if not found:
        return []
    return (["note: this run used a KVM that departs from the SDM where the guest was; "
             "that could explain how it ended:"]
            + [f"note:   {line}" for line in found]
            + [f"note: compare with the interpreter: emu diff -accel interp,kvm {path} "
               "('emu kvm-probe' shows what was probed)"])


def monitor_endpoints(args) -> list:
    """[(Endpoint, "qmp" | "hmp")] of -qmp and -monitor."""
    from .monitor.chardev import ChardevError, parse_endpoint
    try:
        return ([(parse_endpoint("-qmp", s, stdio_ok=False), "qmp") for s in args.qmp or ()]
                + [(parse_endpoint("-monitor", s), "hmp") for s in args.monitor or ()])
    except ChardevError as e:
        raise UsageError(str(e)) from None


def _listen(mon, monitors) -> None:
    """Serve each -qmp / -monitor endpoint."""
    for ep, proto in monitors:
        opt = "-qmp" if proto == "qmp" else "-monitor"
        try:
            mon.listen(ep, proto)
        except OSError as e:
            raise CommandError(f"{opt} {ep.describe()}: cannot listen: {e.strerror or e}") from None


def _run_monitor(args, m, img, monitors, gdb=None, port=None):
    """Run the guest while -qmp / -monitor clients (and gdb, with -gdb) are
    served; the RunResult that ended the guest, or None after 'quit'."""
    from .monitor.server import Monitor
    mon = Monitor(m, img, paused=args.freeze)
    try:
        if gdb:
            try:
                mon.start_gdbserver(port)
            except OSError as e:
                raise CommandError(f"-gdb {gdb}: cannot listen on 127.0.0.1:{port}: "
                                   f"{e.strerror or e}") from None
        _listen(mon, monitors)
        mon.run(wait=any(ep.wait for ep, _ in monitors),
                icount_limit=args.icount_limit)
        return mon.last_result
    finally:
        mon.close()


def parse_gdb_address(spec: str) -> int:
    """-gdb tcp::PORT (QEMU's form; tcp:127.0.0.1:PORT too): the port."""
    from .monitor.chardev import ChardevError, parse_gdb_device
    try:
        return parse_gdb_device("-gdb", spec)
    except ChardevError as e:
        raise UsageError(str(e)) from None


def _run_gdb(args, m, img, spec, port) -> int:
    from .debug.gdbstub import GdbStub
    try:
        stub = GdbStub(m, img, port=port)
    except OSError as e:
        raise CommandError(f"-gdb {spec}: cannot listen on 127.0.0.1:{port}: "
                           f"{e.strerror or e}") from None
    arch = stub.adapter.gdb_arch(m.cpu)
    gdb = "gdb" if m.target.name == "x86" else "gdb-multiarch"
    print(f"emu run: waiting for gdb on 127.0.0.1:{stub.port} "
          f"({gdb} -ex 'set architecture {arch}' -ex 'target remote 127.0.0.1:{stub.port}')",
          file=sys.stderr, flush=True)
    try:
        return stub.serve(freeze=args.freeze)
    finally:
        stub.close()


def cmd_debug(args) -> int:
    from .debug.session import Session
    path = guest_path(args)
    if (path is None) == (args.replay is None):
        raise CommandError("expected a guest or --replay FILE (one of them)")
    if args.replay is not None:
        return _debug_replay(args)
    img = load_guest(path, board=args.machine)
    m = make_machine(args, serial=(args.input, None))
    m.load_image(img.data, img.name, img.entry, img.base)
    session = Session(m, img, history_size=args.history_size)
    return _debug_repl(session, args)


def _debug_replay(args) -> int:
    """emu debug --replay FILE: the graded test, standing where it failed."""
    from .grade.replay import ReplayError, open_replay
    try:
        header, opened = open_replay(args.replay, args.history_size)
    except ReplayError as e:
        raise CommandError(f"--replay {args.replay}: {e}") from None
    try:
        print(header)
        return _debug_repl(opened.session, args)
    finally:
        opened.close()


def _debug_repl(session, args) -> int:
    monitors = monitor_endpoints(args)
    for ep, _ in monitors:
        if ep.kind == "stdio":
            raise UsageError("-monitor stdio: emu debug reads its own commands on stdin; "
                             "serve the monitor on unix:PATH,server=on,wait=off or "
                             "tcp:HOST:PORT,server=on,wait=off")
    if not args.script:
        interactive = sys.stdin.isatty()
        return _repl(session, monitors, sys.stdin, interactive, echo=not interactive)
    try:
        f = open(args.script)
    except OSError as e:
        raise CommandError(f"-x {args.script}: cannot open ({e.strerror})") from None
    with f:
        return _repl(session, monitors, f, False, echo=True)


def _repl(session, monitors, stdin, interactive: bool, echo: bool) -> int:
    from .debug.repl import run_repl
    if not monitors:
        return run_repl(session, stdin, sys.stdout, interactive=interactive, echo=echo)
    return _debug_monitored(session, monitors, stdin, interactive, echo)


def _debug_monitored(session, monitors, stdin, interactive: bool, echo: bool) -> int:
    """emu debug -qmp/-monitor: the REPL as a client of the monitor's run state."""
    from .debug.repl import make_repl
    from .monitor.debugger import ReplDriver
    from .monitor.server import Monitor
    repl = make_repl(session, stdin, sys.stdout, interactive, echo)
    mon = Monitor(session.machine, session.image)
    try:
        driver = ReplDriver(mon, repl)
        _listen(mon, monitors)
        while any(ep.wait for ep, _ in monitors) and not mon.first_client.wait(0.1):
            pass
        return driver.run(stdin, interactive)
    finally:
        mon.close()


def _pc_text(m) -> str:
    """Where the guest stopped, as the target's reports show it (CS:IP on
    x86; the mode, the instruction set and the PC on Arm)."""
    return m.target.lockstep().where(m.cpu)


def run_guest(name_or_path, accel, cpu="max", memory=16 << 20, icount_limit=50_000_000):
    """Run a guest on one engine; return (RunResult, output, machine, wall seconds)."""
    from .machine import Machine
    path = name_or_path if os.path.exists(name_or_path) else os.path.join(GUESTS_DIR, name_or_path + ".S")
    img = load_guest(path)
    m = Machine(accel=accel, cpu=cpu, memory=memory)
    m.load_image(img.data, img.name, img.entry)
    t0 = time.perf_counter()
    r = m.run(icount_limit=icount_limit)
    return r, m.serial_output(), m, time.perf_counter() - t0


def cmd_demo(args) -> int:
    accels = available_accels(args.accels)
    print("kasou demo: one guest (emu/guests/demo.S), every engine; same RAM layout, same devices, same exits.\n")
    outputs = {}
    for a in accels:
        r, out, m, secs = run_guest("demo", a)
        outputs[a] = out
        icount = r.icount if m.accel.exact_icount else None
        print(f"== {a} ==")
        print(out.decode("latin-1"), end="" if out.endswith(b"\n") else "\n")
        print(f"   stop: {r.reason} (status {r.status}){': ' + r.message if r.message else ''}")
        print(f"   instructions: {icount if icount is not None else 'not counted by this engine'}")
        print(f"   exits: {m.stats.summary()}")
        top = sorted(m.stats.by_key.items(), key=lambda kv: -kv[1])[:4]
        if top:
            print("   busiest: " + ", ".join(f"{k} x{v}" for k, v in top))
        print(f"   time: {secs * 1000:.1f} ms\n")
        m.close()
    same = len(set(outputs.values())) == 1
    print("UART output identical on all engines." if same else "UART output DIFFERS between engines!")
    return 0 if same else 1


def cmd_bench(args) -> int:
    from . import bench
    if args.kvm_exit:
        from .kvmbench import run_kvm_exit_bench
        try:
            return run_kvm_exit_bench(args.json_out, _write_json)
        except bench.BenchError as e:
            raise CommandError(str(e)) from None
    if args.step:
        accels = available_accels(args.accels)
        guests = STEP_BENCH_GUESTS if not args.guests else tuple(g for g in args.guests.split(",") if g)
        for g in guests:
            if g not in BENCH_GUESTS:
                raise UsageError(f"unknown bench guest '{g}' (expected: {', '.join(BENCH_GUESTS)})")
        from .stepbench import print_step_bench, run_step_bench
        rows = run_step_bench(guests, accels, args.steps, GUESTS_DIR)
        print_step_bench(rows)
        _write_json(args.json_out, {"step_results": rows})
        return 0
    engines = _bench_engines(args.accels)
    try:
        guests = bench.guests_for(args.suite, args.guests)
        images = {g: bench.guest_image(g) for g in guests}
    except bench.BenchError as e:
        raise UsageError(str(e)) from None
    if args.plot:
        try:
            bench.check_plot(args.plot)
        except bench.BenchError as e:
            raise CommandError(str(e)) from None
    rows = _bench_live(bench, guests, engines, args, images)
    extra = {}
    if "kvm" in engines:
        try:
            import importlib     # the kvm engine is found by name, never imported by emu
            kvm_accel = importlib.import_module(_REGISTRY_MODULE("kvm"))
            extra["kvm_exit_roundtrip_us"] = kvm_accel.measure_exit_cost()
        except Exception as e:      # report, don't hide
            extra["kvm_exit_roundtrip_us"] = f"unavailable: {e}"
    if args.plot:
        try:
            bench.plot(rows, args.plot, args.repeat)
        except bench.BenchError as e:
            raise CommandError(str(e)) from None
    bench.print_table(rows, extra, args.repeat, chart=not args.plot)
    if args.plot:
        print(f"chart: {args.plot}")
    _write_json(args.json_out, {"results": bench.json_rows(rows), "repeat": args.repeat, **extra})
    return 0


def _bench_live(bench, guests, engines, args, images) -> list:
    """Say what the bench will run, run it with each row printed as it is
    measured; on Ctrl-C, the table of the rows measured so far, then the
    signal's one line (raised on to main)."""
    for line in bench.plan_lines(guests, engines, args.repeat, args.unicorn_count):
        print(line)
    print("measured so far (guest, engine, instructions, seconds, MIPS, how it ended, exits):",
          flush=True)
    live = bench.LiveReport(lambda text: print(text, flush=True))
    try:
        rows = bench.run_bench(guests, engines, repeat=args.repeat,
                               unicorn_count=args.unicorn_count, images=images, progress=live)
    except bench.BenchInterrupted as e:
        if e.rows:
            print(f"\ninterrupted: the {len(e.rows)} row(s) measured so far\n")
            bench.print_table(e.rows, {}, args.repeat, chart=False)
        raise e.interruption from None
    print()
    return rows


def _bench_engines(wanted) -> list:
    """The engines of ``emu bench -accel`` (unicorn-bare too), or every
    available one and unicorn-bare when unicorn is there."""
    from .bench import BARE
    if wanted is None:
        engines = available_accels(None)
        return engines + [BARE] if "unicorn" in engines else engines
    names = [a for a in wanted.split(",") if a]
    plain = [a for a in names if a != BARE]
    if BARE in names:
        ok, why = accel_available("unicorn")
        if not ok:
            raise CommandError(f"accelerator '{BARE}' is not available here: {why}")
    if not plain and BARE not in names:
        available_accels(wanted)        # the one-line error for an empty list
    found = available_accels(",".join(plain)) if plain else []
    return [a for a in names if a == BARE or a in found]


def _write_json(dest, doc) -> None:
    if dest:
        text = json.dumps(doc, indent=2)
        if dest == "-":
            print(text)
        else:
            with open(dest, "w") as f:
                f.write(text + "\n")


def _REGISTRY_MODULE(name: str) -> str:
    from .accel.base import _REGISTRY
    return _REGISTRY[name][0]


def cmd_diff(args) -> int:
    _check_cpu_model(args.accel, args.cpu)
    img = load_guest(args.guest, board=args.machine)
    from .diff import run_diff
    res = run_diff(img.data, accels=args.accel, cpu=args.cpu, memory=args.memory,
                   max_steps=args.max_steps, board=args.machine, entry=img.entry,
                   base=img.base, semihosting=args.semihosting)
    print(res.report_text)
    return 1 if res.diverged else 0


def _vector_dir(arg: str) -> str:
    """A directory of vectors: ``arg`` itself, or the pinned suite it names."""
    if os.path.isdir(arg):
        return arg
    from .vectors import ALIASES, load_lock, locate
    lock = load_lock()
    if ALIASES.get(arg, arg) in lock:
        return locate(arg, lock=lock)
    raise UsageError(f"{arg}: not a directory of test vectors nor a suite "
                     f"(expected a directory or one of {', '.join(sorted(lock))})")


def cmd_conformance(args) -> int:
    path = _vector_dir(args.dir)
    from .conformance import format_report, run_dir
    from .vectors import suite_cpu
    # without -cpu: the CPU the suite was recorded for, else max (x86)
    args.cpu = args.cpu or suite_cpu(args.dir, path) or "max"
    files = args.files.split(",") if args.files else None
    if args.compare and args.accel:
        raise UsageError(f"-accel {args.accel} and --compare {args.compare}: --compare names "
                         f"the engines it runs; give one or the other")
    if args.compare:
        from .conformance import compare_dir, format_compare
        engines = tuple(a for a in args.compare.split(",") if a)
        bad = [a for a in engines if a not in ACCELS]
        if len(engines) < 2 or bad:
            raise UsageError(f"--compare {args.compare}: expected two engines "
                             f"from {', '.join(ACCELS)}, e.g. interp,kvm")
        details = {} if args.verbose else None
        res = compare_dir(path, cpu=args.cpu, accels=engines, files=files,
                          limit=args.limit, details=details)
        if args.json_out:
            print(json.dumps(res, indent=1))
        else:
            print(format_compare(res, args.verbose, details))
        return 0 if res["disagreed"] == 0 else 1
    details = {} if args.verbose else None
    res = run_dir(path, cpu=args.cpu, accel=args.accel or "interp", files=files, limit=args.limit,
                  details=details)
    if args.json_out:
        print(json.dumps(res, indent=1))
    else:
        print(format_report(res, args.verbose, details))
    return 0 if res["failed"] == 0 else 1


def cmd_coverage(args) -> int:
    from .coverage import report
    print(report(args.cpu, args.machine))
    return 0


def cmd_translate(args) -> int:
    img = load_guest(args.guest, board=args.machine)
    m = make_machine(args, accel="tcg")
    m.load_image(img.data, img.name, img.entry, img.base)
    from .accel.tcg import translate_at
    at = img.base
    if args.at is not None:
        if args.at in img.symbols:
            at = img.symbols[args.at]
        else:
            try:
                at = int(args.at, 0)
            except ValueError:
                known = ", ".join(sorted(img.symbols)) or "none"
                raise UsageError(f"--at {args.at}: not an address or a label "
                                 f"of {img.name} (labels: {known})") from None
    view = translate_at(m, at)
    for k in ("in_asm", "op", "op_opt", "out_asm"):
        print(f"---- {k} ----")
        print(view[k].rstrip())
    return 0


def cmd_kvm_probe(args) -> int:
    ok, why = accel_available("kvm")
    if not ok:
        raise UsageError(why.split(";")[0])
    import importlib     # the kvm engine is found by name, never imported by emu
    probe = importlib.import_module("kvm.probe")
    report = probe.host_limits(refresh=args.refresh)
    if args.json_out:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        print("\n".join(probe.format_report(report)))
    return 0


def _add_grade_arguments(p) -> None:
    from .grade.command import add_arguments
    add_arguments(p)


def cmd_grade(args) -> int:
    from .grade.command import run
    return run(args)


def _add_lab_arguments(p) -> None:
    from .lab import add_arguments
    add_arguments(p)


def cmd_lab(args) -> int:
    from .lab import run
    return run(args)


COMMANDS = {"run": cmd_run, "debug": cmd_debug, "demo": cmd_demo, "bench": cmd_bench, "diff": cmd_diff,
            "conformance": cmd_conformance, "coverage": cmd_coverage, "translate": cmd_translate,
            "kvm-probe": cmd_kvm_probe, "grade": cmd_grade, "lab": cmd_lab}


def main(argv=None) -> int:
    """Run one command.  Every error is one line ``emu COMMAND: what was
    wrong``; usage errors (status 2) end with a pointer to that command's
    ``--help``.  SIGINT and SIGTERM stop it (see :mod:`emu.signals`): one
    line, ``emu: interrupted`` (status 130) or ``emu: terminated`` (143),
    after whatever the guest printed."""
    from .signals import Interrupted, StopSignals
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    prog = "emu"
    with StopSignals() as guard:
        try:
            args, extra = build_parser().parse_known_args(argv)
            if not args.cmd:
                raise UsageError("no command given (try 'emu run GUEST')")
            prog = f"emu {args.cmd}"
            if extra:
                raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
            if _waits_for_user(args):
                status = COMMANDS[args.cmd](args)
            else:
                with guard.deferred():
                    status = COMMANDS[args.cmd](args)
            guard.check()
            return status
        except Interrupted as e:
            return _report_interrupted(e)
        except UsageError as e:
            where = e.prog or prog
            print(f"{where}: {e} (see '{where} --help')", file=sys.stderr)
            return 2
        except CommandError as e:
            print(f"{prog}: {e}", file=sys.stderr)
            return STATUS_ERROR
        except SystemExit as e:       # --help, --version, -d help ...
            return e.code if isinstance(e.code, int) else 0
        except BrokenPipeError:
            return 0
        except Exception as e:
            if debug:
                raise
            return _report_error(prog, e)


def _waits_for_user(args) -> bool:
    """Commands that block waiting for a person (the debugger's prompt, a gdb
    connection): there a signal must raise at once.  Every other command runs
    with the raise deferred to its run loops (:meth:`StopSignals.deferred`)."""
    return args.cmd == "debug" or bool(getattr(args, "gdb", None) or getattr(args, "gdb_default", False))


def _report_interrupted(e) -> int:
    try:
        sys.stdout.flush()          # the guest's output first
    except OSError:
        pass                        # a closed pipe: the line still goes to stderr
    print(e.line, file=sys.stderr)
    for note in getattr(e, "__notes__", ()):
        print(f"emu: {note}", file=sys.stderr)
    return e.status


def _report_error(prog: str, e) -> int:
    from .loader import ImageError
    from .accel.base import AccelUnavailable
    from .conformance import VectorError
    from .vectors import VectorsMissing
    if isinstance(e, (ImageError, AccelUnavailable, VectorError, VectorsMissing, ValueError)):
        print(f"{prog}: {e}", file=sys.stderr)
        return STATUS_ERROR
    if isinstance(e, OSError):
        print(f"{prog}: {e.strerror or e}{': ' + e.filename if getattr(e, 'filename', None) else ''}",
              file=sys.stderr)
        return STATUS_ERROR
    print(f"{prog}: internal error: {type(e).__name__}: {e} (run with --debug for the traceback)",
          file=sys.stderr)
    return STATUS_ERROR


if __name__ == "__main__":
    sys.exit(main())
