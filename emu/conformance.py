"""Conformance runner for single-instruction test vectors (SingleStepTests,
pinned in ``emu/vectors.json``): each vector is one instruction captured
from a real chip -- the CPU state before, the state after, the memory it
read and wrote.

This module is the part every architecture shares: it finds a suite's
files and ``metadata.json``, runs every vector on one engine and counts
passed / failed / unsupported / skipped (:func:`run_dir`), or runs every
vector on several engines and compares them with each other
(:func:`compare_dir`), and prints the reports.  What a vector means --
how its state is loaded, how far it runs, how the result is judged -- is
the architecture's: the *reader* the Target hands out for the CPU model
(:meth:`emu.isa.target.Target.vector_reader`; for x86's 8086 and 286
suites, ``emu/isa/x86/singlestep.py``, which states the judging rules).
A reader provides:

* ``board``, ``ram_size``: the Machine the vectors describe;
* ``needs_metadata``: whether a suite comes with a ``metadata.json``;
* ``attach(machine)``: work on that Machine;
* ``opcode_entry(meta, vec)``: the metadata entry judging a vector
  (``status``, ``flags-mask``); ``describe(vec)``: the vector's
  instruction, for a report;
* ``load(vec)``, ``execute(vec)`` (None, or why it did not run:
  ``unsupported: ...`` when the engine cannot execute it), ``compare(vec,
  mask)`` (differences as ``NAME GOT != EXPECTED``), ``clean(vec)``;
* ``state()`` and ``touched(vec, readers)``: for engine against engine;
* ``reg_names``, ``flag_bits``: to explain a difference in words.

Every vector runs through the Machine's run loop (:meth:`Machine.run`),
which serves its exits as in every other run.  Metadata ``status:
undefined`` and ``fpu`` vectors are run like the others; ``skip_status``
lists statuses to skip instead, and skipped vectors are counted and
reported with the reason -- never silently dropped.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import time

import numpy as np

from .signals import check as check_signals


class VectorError(Exception):
    """A malformed vector file or directory (a one-line message)."""


def target_for(cpu: str, arch: str | None = None):
    """The Target whose CPU models include ``cpu`` (of architecture
    ``arch``, or the first registered that has it)."""
    from .isa import TARGETS, get_target
    for name in ([arch] if arch else TARGETS):
        target = get_target(name)
        try:
            target.model(cpu)
        except ValueError:
            continue
        return target
    raise VectorError(f"-cpu {cpu}: no architecture has this CPU model")


def load_metadata(path: str) -> dict:
    mp = os.path.join(path, "metadata.json")
    try:
        with open(mp) as f:
            return json.load(f)["opcodes"]
    except FileNotFoundError:
        raise VectorError(f"{mp}: no metadata.json "
                          f"(expected a SingleStepTests suite)") from None


def vector_files(path: str) -> list[str]:
    if not os.path.isdir(path):
        raise VectorError(f"{path}: no such conformance directory")
    return sorted(f for f in os.listdir(path) if f.endswith(".json.gz"))


class Runner:
    """One Machine, reused for every vector of a run, and the reader that
    loads, runs and judges the vectors on it."""

    def __init__(self, cpu: str = "8086", accel: str = "interp", arch: str | None = None):
        from .machine import Machine
        self.cpu = cpu
        self.reader = target_for(cpu, arch).vector_reader(cpu)
        self.machine = Machine(self.reader.board, accel=accel, cpu=cpu, memory=self.reader.ram_size)
        self.accel = self.machine.accel
        self.view = self.machine.ram.view
        if hasattr(self.accel, "hot_threshold"):
            # a tiered translator would interpret a one-instruction vector:
            # translate every block at first sight, so vectors test the translator
            self.accel.hot_threshold = 1
        self.reader.attach(self.machine)

    def scrub(self) -> None:
        """Zero all RAM (what :meth:`clean` missed) and drop translations."""
        nz = np.flatnonzero(self.view)
        if nz.size:
            self.view[nz] = 0
            self.accel.flush_code_cache()

    def run_vector(self, vec: dict, mask: int) -> tuple[str, list[str]]:
        """("pass" | "fail" | "unsupported", details)."""
        reader = self.reader
        reader.load(vec)
        why = reader.execute(vec)
        if why is not None and why.startswith("unsupported"):
            reader.clean(vec)
            return "unsupported", [why]
        diffs = reader.compare(vec, mask)
        if why is not None:
            diffs.insert(0, why)
        reader.clean(vec)
        return ("fail" if diffs else "pass"), diffs

    # -- files -----------------------------------------------------------------------
    def metadata(self, path: str) -> dict:
        """The suite's ``metadata.json`` opcodes, if its reader needs them."""
        return load_metadata(path) if self.reader.needs_metadata else {}

    def run_file(self, path: str, meta: dict, limit=None, skip_status=(), details=None) -> dict:
        try:
            with gzip.open(path) as f:
                vectors = json.load(f)
        except (OSError, ValueError) as e:
            raise VectorError(f"{path}: cannot read vectors ({e})") from None
        if limit is not None:
            vectors = vectors[:limit]
        out = {"total": len(vectors), "passed": 0, "failed_ids": [], "unsupported_ids": [],
               "skipped_ids": [], "skip_reason": ""}
        for idx, vec in enumerate(vectors):
            check_signals()                 # Ctrl-C: between vectors
            vid = vec.get("test_num", vec.get("idx", idx))
            if vid is None:
                vid = idx
            entry = self.reader.opcode_entry(meta, vec)
            status = entry.get("status", "normal")
            if status in skip_status:
                out["skipped_ids"].append(vid)
                out["skip_reason"] = f"metadata status '{status}'"
                continue
            mask = entry.get("flags-mask", 0xFFFF)
            verdict, diffs = self.run_vector(vec, mask)
            if verdict == "pass":
                out["passed"] += 1
            elif verdict == "unsupported":
                out["unsupported_ids"].append(vid)
                if details is not None:
                    details.setdefault(os.path.basename(path), {})[vid] = diffs
            else:
                out["failed_ids"].append(vid)
                if details is not None:
                    details.setdefault(os.path.basename(path), {})[vid] = \
                        [self.reader.describe(vec)] + diffs
        self.scrub()
        return out

    def close(self) -> None:
        self.machine.close()


def run_dir(path: str, cpu: str = "8086", accel: str = "interp", files=None, limit=None,
            skip_status=(), details=None) -> dict:
    """Run a SingleStepTests suite directory on one engine.

    ``files``: names (``"00.json.gz"`` or ``"00"``) to run, default all;
    ``limit``: at most this many vectors per file; ``skip_status``: metadata
    statuses to skip (e.g. ``("undefined", "fpu")``), reported as skipped;
    ``details``: a dict to fill with ``{file: {id: [difference, ...]}}``.

    Returns ``{"total", "passed", "failed", "unsupported", "skipped",
    "files": {file: {"total", "passed", "failed_ids", "unsupported_ids",
    "skipped_ids", "skip_reason"}}}``; ``passed + failed + unsupported +
    skipped == total``.
    """
    names = vector_files(path)
    if files is not None:
        want = {f if f.endswith(".json.gz") else f + ".json.gz" for f in files}
        missing = want - set(names)
        if missing:
            raise VectorError(f"{path}: no such vector file(s): {', '.join(sorted(missing))}")
        names = [n for n in names if n in want]
    runner = Runner(cpu, accel)
    try:
        meta = runner.metadata(path)
    except VectorError:
        runner.close()
        raise
    result = {"cpu": cpu, "accel": accel, "path": path, "total": 0, "passed": 0, "failed": 0,
              "unsupported": 0, "skipped": 0, "files": {}}
    t0 = time.perf_counter()
    try:
        for name in names:
            fr = runner.run_file(os.path.join(path, name), meta, limit, skip_status, details)
            result["files"][name] = fr
            result["total"] += fr["total"]
            result["passed"] += fr["passed"]
            result["failed"] += len(fr["failed_ids"])
            result["unsupported"] += len(fr["unsupported_ids"])
            result["skipped"] += len(fr["skipped_ids"])
    finally:
        runner.close()
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


# -- engine against engine ------------------------------------------------------------

def compare_vector(runners, vec: dict, full_memory: bool = False):
    """Run one vector on every runner from the same initial state.

    Returns ("agreed" | "disagreed" | "unsupported", details): unsupported
    when any engine cannot execute the vector (its explanation), else the
    differences between the first engine and each other one: how the run
    ended, every register and flag bit, and memory (the touched addresses,
    or all RAM with ``full_memory``)."""
    whys, states = [], []
    for r in runners:
        r.reader.load(vec)
        why = r.reader.execute(vec)
        if why is not None and why.startswith("unsupported"):
            for rr in runners:
                rr.reader.clean(vec)
                rr.scrub()      # the engines stopped at different points
            return "unsupported", [f"{r.accel.name}: {why}"]
        whys.append(why)
        states.append(r.reader.state())
    a, an = states[0], runners[0].accel.name
    diffs = []
    for r, why, st in zip(runners[1:], whys[1:], states[1:]):
        bn = r.accel.name
        if why != whys[0]:
            diffs.append(f"end: {an} {whys[0] or 'HLT'} / {bn} {why or 'HLT'}")
        for k in dict.fromkeys([*a, *st]):
            if a.get(k) != st.get(k):
                diffs.append(f"{k} {_hex(a.get(k))} / {_hex(st.get(k))}")
        if full_memory:
            idx = np.flatnonzero(runners[0].view != r.view)[:16]
        else:
            touched = runners[0].reader.touched(vec, [r.reader for r in runners])
            addrs = np.fromiter(touched, dtype=np.int64)
            idx = addrs[runners[0].view[addrs] != r.view[addrs]]
        for addr in sorted(int(x) for x in idx):
            diffs.append(f"[{addr:05x}] {int(runners[0].view[addr]):02x} / "
                         f"{int(r.view[addr]):02x}")
    for r in runners:
        r.reader.clean(vec)
        if diffs:
            r.scrub()           # the next vector starts from equal RAM again
    return ("disagreed" if diffs else "agreed"), diffs


def compare_dir(path: str, cpu: str = "max", accels=("interp", "kvm"), files=None,
                limit=None, details=None) -> dict:
    """Run every vector of a suite on two (or more) engines from the same
    initial state and compare the engines with each other -- not with the
    capture: registers at full width, all EFLAGS bits (no mask), segment
    bases, how the run ended, and memory.

    Memory is compared at the addresses a vector can be expected to touch
    (the reader's ``touched``) after each vector, and as a whole after each file;
    when the whole-RAM check finds a difference the per-vector check missed,
    the file is run again comparing all RAM after every vector, so the
    disagreement is pinned on its vector.

    Returns ``{"cpu", "accels", "path", "total", "compared", "agreed",
    "disagreed", "unsupported", "files": {file: {"total", "compared",
    "agreed", "disagreed_ids", "unsupported_ids"}}}``; ``compared ==
    agreed + disagreed`` and ``total == compared + unsupported``.
    ``details`` (a dict) receives ``{file: {id: [difference, ...]}}``.
    """
    names = vector_files(path)
    if files is not None:
        want = {f if f.endswith(".json.gz") else f + ".json.gz" for f in files}
        missing = want - set(names)
        if missing:
            raise VectorError(f"{path}: no such vector file(s): {', '.join(sorted(missing))}")
        names = [n for n in names if n in want]
    if len(accels) < 2:
        raise VectorError(f"compare needs two engines, got {','.join(accels)}")
    result = {"cpu": cpu, "accels": list(accels), "path": path, "total": 0, "compared": 0,
              "agreed": 0, "disagreed": 0, "unsupported": 0, "files": {}}
    t0 = time.perf_counter()
    runners = []
    try:
        for a in accels:
            runners.append(Runner(cpu, a))
        runners[0].metadata(path)
        for name in names:
            try:
                with gzip.open(os.path.join(path, name)) as f:
                    vectors = json.load(f)
            except (OSError, ValueError) as e:
                raise VectorError(f"{name}: cannot read vectors ({e})") from None
            if limit is not None:
                vectors = vectors[:limit]
            fr = _compare_file(runners, vectors, full_memory=False, details=details, name=name)
            if not all(np.array_equal(runners[0].view, r.view) for r in runners[1:]):
                for r in runners:
                    r.scrub()
                fr = _compare_file(runners, vectors, full_memory=True, details=details,
                                   name=name)
            for r in runners:
                r.scrub()
            result["files"][name] = fr
            result["total"] += fr["total"]
            result["compared"] += fr["compared"]
            result["agreed"] += fr["agreed"]
            result["disagreed"] += len(fr["disagreed_ids"])
            result["unsupported"] += len(fr["unsupported_ids"])
    finally:
        for r in runners:
            r.close()
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def _hex(v) -> str:
    """A state value in a difference; "-" where one engine has none (an
    ARM write the other did not make)."""
    return "-" if v is None else f"{v:04x}"


def _compare_file(runners, vectors, full_memory, details, name) -> dict:
    fr = {"total": len(vectors), "compared": 0, "agreed": 0, "disagreed_ids": [],
          "unsupported_ids": []}
    if details is not None:
        details.pop(name, None)
    for idx, vec in enumerate(vectors):
        check_signals()                     # Ctrl-C: between vectors
        vid = vec.get("test_num", vec.get("idx", idx))
        vid = idx if vid is None else vid
        verdict, diffs = compare_vector(runners, vec, full_memory)
        if verdict == "unsupported":
            fr["unsupported_ids"].append(vid)
        else:
            fr["compared"] += 1
            if verdict == "agreed":
                fr["agreed"] += 1
            else:
                fr["disagreed_ids"].append(vid)
        if diffs and details is not None:
            details.setdefault(name, {})[vid] = [runners[0].reader.describe(vec)] + diffs
    return fr


def agreement(r: dict) -> float:
    """Agreed over compared (vectors an engine cannot run are not compared)."""
    return r["agreed"] / r["compared"] if r["compared"] else 1.0


def format_compare(result: dict, verbose: bool = False, details=None) -> str:
    """Per-file and total agreement between engines."""
    lines = [f"compare: {result.get('path', '?')}  cpu={result.get('cpu', '?')}  "
             f"engines={','.join(result.get('accels', ()))}"]
    for name, fr in result["files"].items():
        nd, nu = len(fr["disagreed_ids"]), len(fr["unsupported_ids"])
        if not verbose and not nd and not nu:
            continue
        lines.append(f"  {name:<14} {fr['agreed']:>5}/{fr['compared']:<5} "
                     f"{100 * agreement(fr):6.2f}%  disagreed {nd}  unsupported {nu}")
        if verbose:
            for kind in ("disagreed_ids", "unsupported_ids"):
                if fr[kind]:
                    lines.append(f"      {kind.replace('_ids', '')}: "
                                 f"{', '.join(map(str, fr[kind]))}")
            if details and name in details:
                for vid, d in list(details[name].items())[:10]:
                    lines.append(f"      #{vid}: {'; '.join(d[:6])}")
    lines.append(f"total: {result['agreed']}/{result['compared']} agreed "
                 f"({100 * agreement(result):.2f}% of compared), disagreed "
                 f"{result['disagreed']}, unsupported {result['unsupported']} of "
                 f"{result['total']}" + (f", {result['seconds']} s" if "seconds" in result else ""))
    return "\n".join(lines)


def pass_rate(r: dict) -> float:
    """Passed over judged (unsupported and skipped vectors are not judged)."""
    judged = r["passed"] + (r["failed"] if "failed" in r else len(r["failed_ids"]))
    return r["passed"] / judged if judged else 1.0


_REG_DIFF = re.compile(r"(\w+) ([0-9a-f]+) != ([0-9a-f]+)$")
_FLAGS_DIFF = re.compile(r"(\w+) ([0-9a-f]+) != ([0-9a-f]+) \(mask ([0-9a-f]+)\)$")
_RAM_DIFF = re.compile(r"\[([0-9a-f]+)\] ([0-9a-f]+) != ([0-9a-f]+)$")


def explain_difference(d: str, reader) -> str:
    """One difference a reader's ``compare`` found (``NAME GOT != EXPECTED``,
    the form the report tools parse) in words: got vs expected, and for
    the flags the bits that differ under the mask, by the reader's names
    (``reg_names``, ``flag_bits``)."""
    m = _FLAGS_DIFF.match(d)
    if m:
        name = m.group(1)
        have, want, mask = (int(x, 16) for x in m.groups()[1:])
        names = reader.flag_bits
        width = len(m.group(2))
        bits = [f"{names[b]} got {(have >> b) & 1}, expected {(want >> b) & 1}"
                for b in range(len(names)) if ((have ^ want) & mask) >> b & 1]
        return f"{name}: got {have:0{width}x}, expected {want:0{width}x}: {'; '.join(bits)}"
    m = _RAM_DIFF.match(d)
    if m:
        addr, have, want = m.groups()
        return f"memory [{addr}]: got {have}, expected {want}"
    m = _REG_DIFF.match(d)
    if m and m.group(1) in reader.reg_names:
        name, have, want = m.groups()
        return f"{name}: got {have}, expected {want}"
    return d


def format_report(result: dict, verbose: bool = False, details=None) -> str:
    """Per-file and total pass rates; failing files (and with ``verbose``,
    every failing, unsupported and skipped id, and for each vector in
    ``details``, when given, what differs: got, expected)."""
    lines = [f"conformance: {result.get('path', '?')}  cpu={result.get('cpu', '?')}  "
             f"accel={result.get('accel', '?')}"]
    reader = None
    if verbose and details:
        cpu = result["cpu"]
        reader = target_for(cpu).vector_reader(cpu)
    for name, fr in result["files"].items():
        nf = len(fr["failed_ids"])
        nu = len(fr["unsupported_ids"])
        ns = len(fr.get("skipped_ids", ()))
        if not verbose and not nf and not nu:
            continue
        extra = ""
        if nu:
            extra += f"  unsupported {nu}"
        if ns:
            extra += f"  skipped {ns} ({fr.get('skip_reason', '')})"
        lines.append(f"  {name:<14} {fr['passed']:>5}/{fr['total']:<5} "
                     f"{100 * pass_rate(fr):6.2f}%  failed {nf}{extra}")
        if verbose:
            for kind in ("failed_ids", "unsupported_ids", "skipped_ids"):
                ids = fr.get(kind, ())
                if ids:
                    lines.append(f"      {kind.replace('_ids', '')}: {', '.join(map(str, ids))}")
            failed = set(fr["failed_ids"])
            for vid, d in (details or {}).get(name, {}).items():
                if vid in failed:       # [vector name, differences...]
                    lines.append(f"      #{vid} {d[0]}:")
                    lines.extend(f"          {explain_difference(x, reader)}" for x in d[1:])
                else:
                    lines.append(f"      #{vid} unsupported: {'; '.join(d)}")
    lines.append(f"total: {result['passed']}/{result['total']} passed "
                 f"({100 * pass_rate(result):.2f}% of judged), failed {result['failed']}, "
                 f"unsupported {result['unsupported']}, skipped {result['skipped']}"
                 + (f", {result['seconds']} s" if "seconds" in result else ""))
    return "\n".join(lines)


def run_verdict(r, unsupported=("internal-error", "fail-entry")) -> str:
    """A Machine run (its RunResult) that ended otherwise than at the
    budget or a HLT, in words: ``unsupported: ...`` when it ended as one of
    ``unsupported`` (the engine cannot execute the vector), else ``failed:
    ...``."""
    if r.reason in unsupported:
        return f"unsupported: {r.message}"
    if r.reason == "shutdown":
        return f"failed: {r.message}"
    return f"failed: unexpected exit {r.exit.describe() if r.exit is not None else r.message}"


def main(argv=None) -> int:
    """``python -m emu.conformance DIR [--cpu CPU] [--accel interp] [-v] [FILE...]`` (without
    ``--cpu``: the CPU a pinned suite was recorded for)"""
    import argparse
    p = argparse.ArgumentParser(prog="python -m emu.conformance", description=main.__doc__)
    p.add_argument("path")
    p.add_argument("files", nargs="*")
    p.add_argument("--cpu", default=None)
    p.add_argument("--accel", default="interp")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    from .vectors import suite_cpu
    cpu = a.cpu or suite_cpu(a.path, a.path) or "max"
    details = {}
    try:
        r = run_dir(a.path, cpu, a.accel, a.files or None, a.limit, details=details)
    except VectorError as e:
        print(f"error: {e}")
        return 1
    print(format_report(r, a.verbose, details))
    return 0 if r["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
