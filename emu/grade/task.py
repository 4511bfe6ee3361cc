"""One submission graded in a process of its own, with its address space
and CPU time limited (``resource.setrlimit``, POSIX): the unit of work of a
batch, whether a forked child (``--jobs``) or ``python -m emu.grade.task``
started by a cluster worker (``--cluster``).

``python -m emu.grade.task SPEC FOLDER [ACCEL] [--replays]`` prints one
JSON document on stdout: ``score``, ``max_score``, ``instructions``,
``results`` (Gradescope's results.json) and ``replays`` (file name ->
replay document, with ``--replays``).
"""

from __future__ import annotations

import json
import os
import sys

from . import report
from .runner import grade
from .spec import load

CHILD_MEMORY = 1 << 30          # bytes of address space per grading process
CHILD_CPU_SECONDS = 600


def name_of(folder: str) -> str:
    return os.path.basename(os.path.normpath(folder))


def limit_process(memory: int = CHILD_MEMORY, cpu: int = CHILD_CPU_SECONDS) -> None:
    """Limit this process: ``memory`` bytes of address space beyond what it
    already has mapped (a process forked from a grader that has mapped a
    lot inherits all of it) and ``cpu`` seconds of CPU time."""
    import resource
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    limit = mapped + memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def replay_writer(spec, accel, store):
    """The grader's ``on_failure``: ``store(file name, replay document)``
    for each failed test a student may see (visibility "visible")."""
    from . import replay

    def write(build, test, result):
        if test.visibility == "visible":
            store(replay.file_name(test.name),
                  replay.document(spec, build, test, result, accel or spec.accel))
    return write


def grade_one(spec, folder: str, accel, replays: bool) -> dict:
    """The task's result document (see the module doc)."""
    found = {}
    result = grade(spec, folder, name_of(folder), accel,
                   replay_writer(spec, accel, found.__setitem__) if replays else None)
    return {"score": result.score, "max_score": result.max_score,
            "instructions": result.icount, "results": report.gradescope(spec, result),
            "replays": found}


def main(argv: list) -> int:
    limit_process()
    spec = load(argv[0])
    accel = argv[2] if len(argv) > 2 and argv[2] != "-" else None
    doc = grade_one(spec, argv[1], accel, "--replays" in argv)
    sys.stdout.write(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def spec_max(spec) -> float:
    return sum(t.points for t in spec.tests)


def write_replay(replay_dir: str, folder: str, file: str, doc: dict) -> None:
    from . import replay
    out = os.path.join(replay_dir, name_of(folder))
    os.makedirs(out, exist_ok=True)
    replay.write(os.path.join(out, file), doc)


def store(out_dir: str, replay_dir, folder: str, doc: dict) -> tuple:
    """Write a task's results (:mod:`.task`): NAME.json and its replay
    files; the submission's summary row."""
    name = name_of(folder)
    with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(doc["results"], f, indent=2)
    for file, replay_doc in doc["replays"].items():
        write_replay(replay_dir, folder, file, replay_doc)
    return (name, float(doc["score"]), float(doc["max_score"]), int(doc["instructions"]))


def failed(spec, name: str, out_dir: str, why: str) -> tuple:
    results = {"score": 0, "execution_time": 0, "output": f"grading failed: {why}",
               "visibility": "visible", "stdout_visibility": "hidden", "tests": []}
    with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    return (name, 0, spec_max(spec), 0)
