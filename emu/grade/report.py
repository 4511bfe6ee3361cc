"""Reports of a graded submission: a text table, Gradescope's
``results.json`` (the autograder specification's fields: ``score``,
``execution_time``, ``output``, ``visibility``, ``stdout_visibility``,
``tests[]``, ``leaderboard``) and JUnit XML (``testsuite``/``testcase``/
``failure``, as CI systems read it)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from .runner import SubmissionResult

FORMATS = ("text", "gradescope", "junit")


def _pts(v: float) -> str:
    return f"{v:g}"


def text(spec, result: SubmissionResult) -> str:
    rows = [("test", "points", "outcome", "")]
    for t in result.tests:
        first = t.output.split("\n", 1)[0]
        rows.append((t.name, f"{_pts(t.score)}/{_pts(t.max_score)}", t.outcome,
                     first if t.outcome != "pass" else ""))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{spec.name}: {result.submission}"]
    for r in rows:
        lines.append(f"  {r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:<{w[2]}}  {r[3]}".rstrip())
    lines.append(f"  score {_pts(result.score)}/{_pts(result.max_score)}")
    for t in result.tests:
        if t.outcome not in ("pass", "build-error"):
            lines.append("")
            lines.append(f"--- {t.name} ({t.outcome})")
            lines.extend("  " + s if s else "" for s in t.output.split("\n"))
    if result.build_error:
        lines += ["", f"build error: {result.build_error}"]
    return "\n".join(lines) + "\n"


def gradescope(spec, result: SubmissionResult) -> dict:
    out = {
        "score": result.score,
        "execution_time": round(result.seconds, 3),
        "output": (f"build error: {result.build_error}" if result.build_error else
                   f"{_pts(result.score)}/{_pts(result.max_score)} points"),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [{"name": t.name, "score": t.score, "max_score": t.max_score,
                   "status": t.status, "output": t.output, "visibility": t.visibility,
                   "tags": list(t.tags)} for t in result.tests],
    }
    if spec.leaderboard:
        out["leaderboard"] = [{"name": "instructions executed", "value": result.icount,
                               "order": "asc"}]
    return out


def junit(spec, result: SubmissionResult) -> str:
    failed = sum(1 for t in result.tests if t.outcome not in ("pass", "build-error"))
    errors = sum(1 for t in result.tests if t.outcome == "build-error")
    suite = ET.Element("testsuite", name=spec.name, tests=str(len(result.tests)),
                       failures=str(failed), errors=str(errors),
                       time=f"{result.seconds:.3f}")
    for t in result.tests:
        case = ET.SubElement(suite, "testcase", name=t.name, classname=f"{spec.name}.{result.submission}")
        if t.outcome == "build-error":
            ET.SubElement(case, "error", message=t.output.split("\n", 1)[0], type="build-error").text = t.output
        elif t.outcome != "pass":
            ET.SubElement(case, "failure", message=t.output.split("\n", 1)[0], type=t.outcome).text = t.output
    return ET.tostring(suite, encoding="unicode") + "\n"


def render(fmt: str, spec, result: SubmissionResult) -> str:
    if fmt == "gradescope":
        return json.dumps(gradescope(spec, result), indent=2) + "\n"
    if fmt == "junit":
        return junit(spec, result)
    return text(spec, result)
