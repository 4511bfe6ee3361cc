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
from .runner import grade
from .spec import SpecError, load

STATUS_BAD_SPEC = 2
CHILD_MEMORY = 1 << 30          # bytes of address space per grading process
CHILD_CPU_SECONDS = 600


def add_arguments(p) -> None:
    p.add_argument("spec", help="the assignment's TOML spec")
    p.add_argument("submissions", nargs="+", help="submission folders")
    p.add_argument("--format", choices=report.FORMATS, default="text")
    p.add_argument("--output", help="write the report here (one submission)")
    p.add_argument("--out-dir", dest="out_dir", help="one results JSON per submission, summary.csv")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (batch)")
    p.add_argument("-accel", "--accel", dest="grade_accel", choices=("interp", "tcg"),
                   help="engine (default: the spec's, else interp)")


def run(args) -> int:
    try:
        spec = load(args.spec)
    except SpecError as e:
        print(f"emu grade: {e}", file=sys.stderr)
        return STATUS_BAD_SPEC
    for s in args.submissions:
        if not os.path.isdir(s):
            print(f"emu grade: {s}: not a folder; expected a submission folder", file=sys.stderr)
            return STATUS_BAD_SPEC
    if args.jobs < 1:
        print(f"emu grade: --jobs {args.jobs}: expected 1 or more", file=sys.stderr)
        return STATUS_BAD_SPEC
    if len(args.submissions) == 1 and not args.out_dir:
        result = grade(spec, args.submissions[0], _name(args.submissions[0]), args.grade_accel)
        text = report.render(args.format, spec, result)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
        return 0
    return _batch(spec, args)


def _name(folder: str) -> str:
    return os.path.basename(os.path.normpath(folder))


def _limit_child() -> None:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CHILD_CPU_SECONDS, CHILD_CPU_SECONDS))


def _grade_one(spec_path: str, folder: str, accel) -> tuple:
    spec = load(spec_path)
    result = grade(spec, folder, _name(folder), accel)
    return (_name(folder), report.gradescope(spec, result), result.score, result.max_score,
            result.icount)


def _batch(spec, args) -> int:
    from concurrent.futures import ProcessPoolExecutor
    out_dir = args.out_dir or "."
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_limit_child,
                             max_tasks_per_child=1) as pool:
        futures = [pool.submit(_grade_one, args.spec, s, args.grade_accel) for s in args.submissions]
        for k, fut in enumerate(futures, 1):
            name, results, score, max_score, icount = fut.result()
            with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as f:
                json.dump(results, f, indent=2)
            rows.append((name, score, max_score, icount))
            if sys.stderr.isatty():
                print(f"\rgraded {k}/{len(futures)}", end="", file=sys.stderr)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    with open(os.path.join(out_dir, "summary.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(("submission", "score", "max_score", "instructions"))
        w.writerows(rows)
    sys.stdout.write(histogram([r[1] for r in rows], spec_max(spec)))
    return 0


def spec_max(spec) -> float:
    return sum(t.points for t in spec.tests)


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
