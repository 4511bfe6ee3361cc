"""``emu grade SPEC SUBMISSION...``: grade one or many submission folders.

One submission: its report on stdout (or ``--output FILE``).  Several, or
``--out-dir DIR``: each submission is graded in a process of its own
(``--jobs N`` at a time) with its address space and CPU time limited
(``resource.setrlimit`` in the child), and DIR gets one ``NAME.json``
(Gradescope's results.json) per submission, ``summary.csv`` and a score
histogram on stdout.
"""

from __future__ import annotations

import csv
import json
import os
import sys

from . import report
from .arches import get_arch
from .runner import grade
from .spec import SpecError, load
from .task import CHILD_CPU_SECONDS, CHILD_MEMORY, grade_one, limit_process, name_of as _name
from .task import failed, replay_writer, spec_max, store, write_replay

STATUS_BAD_SPEC = 2


def add_arguments(p) -> None:
    p.add_argument("spec", help="the assignment's TOML spec")
    p.add_argument("submissions", nargs="*", help="submission folders")
    p.add_argument("--format", choices=report.FORMATS, default="text")
    p.add_argument("-o", "--output", help="write the report here (one submission)")
    p.add_argument("--gradescope-bundle", dest="bundle", action="store_true",
                   help="write a Gradescope autograder zip for SPEC to -o FILE (no submissions)")
    p.add_argument("--out-dir", dest="out_dir", help="one results JSON per submission, summary.csv")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (batch)")
    p.add_argument("--cluster", metavar="tcp://SCHEDULER:8786",
                   help="batch: grade on a Dask distributed cluster (the 'cluster' extra)")
    p.add_argument("--histogram-png", dest="histogram_png",
                   help="batch: also draw the score histogram as a PNG (needs matplotlib)")
    p.add_argument("--debug-test", dest="debug_test", metavar="NAME",
                   help="open the debugger where test NAME of the one submission went wrong")
    p.add_argument("-x", dest="script", metavar="FILE",
                   help="with --debug-test: read debugger commands from FILE")
    p.add_argument("--replay", dest="replay_dir", metavar="DIR",
                   help="write DIR/SUBMISSION/TEST.replay.json for each failed visible test "
                        "(open it with emu debug --replay FILE)")
    p.add_argument("-accel", "--accel", dest="grade_accel", choices=("interp", "tcg"),
                   help="engine (default: the spec's, else interp)")


def run(args) -> int:
    try:
        spec = load(args.spec)
    except SpecError as e:
        return _fail(str(e))
    if args.bundle:
        return _bundle(spec, args)
    if not args.submissions:
        return _fail("expected one or more submission folders after the spec")
    for s in args.submissions:
        if not os.path.isdir(s):
            return _fail(f"{s}: not a folder; expected a submission folder")
    if args.jobs < 1:
        return _fail(f"--jobs {args.jobs}: expected 1 or more")
    if spec.arch == "python" and (args.debug_test is not None or args.replay_dir):
        return _fail(f"{'--debug-test' if args.debug_test is not None else '--replay'} steps a guest; "
                     f"{os.path.basename(args.spec)} grades a Python program (arch = \"python\"); "
                     f"expected an assembly assignment")
    if spec.arch != "python" and args.grade_accel is not None:
        engines = get_arch(spec.arch).engines()
        if args.grade_accel not in engines:
            return _fail(f"-accel {args.grade_accel}: {os.path.basename(args.spec)} is an "
                         f"{spec.arch} assignment; expected -accel {' or '.join(engines)}")
    if args.debug_test is not None:
        return _debug(spec, args)
    if args.histogram_png:
        try:
            import matplotlib
        except ImportError:
            return _fail("--histogram-png needs matplotlib (the 'plot' extra: "
                         "pip install -e .[plot])")
        matplotlib.use("Agg")
    if len(args.submissions) == 1 and not (args.out_dir or args.histogram_png or args.cluster):
        folder = args.submissions[0]
        result = grade(spec, folder, _name(folder), args.grade_accel,
                       _replays(spec, folder, args.replay_dir, args.grade_accel))
        text = report.render(args.format, spec, result)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
        return 0
    return _batch(spec, args)


def _fail(message: str) -> int:
    """A one-line error on stderr; the bad-usage status."""
    print(f"emu grade: {message}", file=sys.stderr)
    return STATUS_BAD_SPEC


def _bundle(spec, args) -> int:
    from .bundle import BundleError, write_bundle
    if args.submissions or not args.output:
        return _fail("--gradescope-bundle: expected SPEC -o FILE.zip and no submission folders")
    try:
        names = write_bundle(spec, args.output)
    except BundleError as e:
        return _fail(f"--gradescope-bundle: {e}")
    except OSError as e:
        return _fail(f"-o {args.output}: cannot write ({e.strerror})")
    print(f"{args.output}: {', '.join(names)}")
    return 0


def _debug(spec, args) -> int:
    from .replay import ReplayError, debug_test
    if len(args.submissions) != 1:
        return _fail("--debug-test: expected one submission folder")
    accel = args.grade_accel or spec.accel
    try:
        if args.script:
            with open(args.script, encoding="utf-8") as f:
                return debug_test(spec, args.submissions[0], args.debug_test, accel,
                                  f, sys.stdout, interactive=False)
        return debug_test(spec, args.submissions[0], args.debug_test, accel, sys.stdin,
                          sys.stdout, interactive=sys.stdin.isatty())
    except ReplayError as e:
        return _fail(f"--debug-test: {e}")
    except OSError as e:
        return _fail(f"-x {args.script}: cannot open ({e.strerror})")


def _replays(spec, folder: str, replay_dir, accel):
    """The grader's ``on_failure``: a replay file per failed test a student
    may see, in ``replay_dir``/NAME/, or None without ``--replay``."""
    if replay_dir is None:
        return None
    return replay_writer(spec, accel, lambda file, doc: write_replay(replay_dir, folder,
                                                                      file, doc))


def _child(spec, folder: str, out_dir: str, accel, replay_dir, w: int) -> None:
    """In a forked process: grade one submission, write NAME.json (and its
    replays), and send 'score max_score instructions' down the pipe ``w``."""
    status = 1
    try:
        limit_process(CHILD_MEMORY, CHILD_CPU_SECONDS)
        row = store(out_dir, replay_dir, folder,
                    grade_one(spec, folder, accel, replay_dir is not None))
        os.write(w, f"{row[1]} {row[2]} {row[3]}\n".encode())
        status = 0
    except BaseException:               # the child's boundary: shown, then a failed row
        import traceback
        traceback.print_exc()
    finally:
        os._exit(status)


def _batch(spec, args) -> int:
    """Each submission in a process of its own: ``--jobs`` at a time here,
    or as tasks of a Dask cluster (``--cluster``); then the summary."""
    out_dir = args.out_dir or "."
    os.makedirs(out_dir, exist_ok=True)
    bar = _progress(len(args.submissions))
    sys.stdout.flush()
    sys.stderr.flush()
    if args.cluster:
        from .cluster import ClusterError, grade_on_cluster
        try:
            done = grade_on_cluster(args.cluster, spec, args.submissions, out_dir,
                                    args.replay_dir, args.grade_accel, bar)
        except ClusterError as e:
            return _fail(f"--cluster {args.cluster}: {e}")
    else:
        done = _local(spec, args, out_dir, bar)
    if bar is not None:
        bar.close()
    rows = [done[f] for f in args.submissions]
    with open(os.path.join(out_dir, "summary.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(("submission", "score", "max_score", "instructions"))
        w.writerows((n, f"{s:g}", f"{m:g}", i) for n, s, m, i in rows)
    sys.stdout.write(histogram([r[1] for r in rows], spec_max(spec)))
    if args.histogram_png:
        _plot([r[1] for r in rows], spec_max(spec), spec.name, args.histogram_png)
    return 0


def _local(spec, args, out_dir: str, bar) -> dict:
    """Forked children, ``--jobs`` at a time: folder -> summary row."""
    import signal
    pending = list(args.submissions)
    running, done = {}, {}
    while pending or running:
        while pending and len(running) < args.jobs:
            folder = pending.pop(0)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                _child(spec, folder, out_dir, args.grade_accel, args.replay_dir, w)
            os.close(w)
            running[pid] = (folder, r)
        pid, status = os.wait()
        folder, r = running.pop(pid)
        line = os.read(r, 4096).decode()
        os.close(r)
        name = _name(folder)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and line:
            score, top, icount = line.split()
            done[folder] = (name, float(score), float(top), int(icount))
        else:
            why = (f"killed by {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
                   else f"exit status {os.WEXITSTATUS(status)}")
            done[folder] = failed(spec, name, out_dir, why)
        if bar is not None:
            bar.update(1)
    return done


def _plot(scores: list, top: float, title: str, path: str) -> None:
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=10, range=(0, top or 1))
    ax.set_xlabel("score")
    ax.set_ylabel("submissions")
    ax.set_title(f"{title}: {len(scores)} submissions")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def _progress(total: int):
    """A progress bar on a terminal (tqdm), else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="submission", file=sys.stderr)


def histogram(scores: list, top: float, bins: int = 10) -> str:
    """Scores as a text histogram of ``bins`` equal ranges from 0 to ``top``."""
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, int(bins * s / top)) if top else 0] += 1
    width = max(counts) or 1
    lines = [f"{len(scores)} submissions"]
    for i, c in enumerate(counts):
        lo, hi = top * i / bins, top * (i + 1) / bins
        lines.append(f"  {lo:6.4g}-{hi:<6.4g} {'#' * (c * 40 // width):<40} {c}")
    return "\n".join(lines) + "\n"
