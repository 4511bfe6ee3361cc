"""``emu grade SPEC --gradescope-bundle -o autograder.zip``: a Gradescope
autograder for the assignment.

Gradescope's autograder layout (its "Autograder Specifications"): the
zip is unpacked into ``/autograder/source`` and its ``setup.sh`` runs once
when the image is built; ``run_autograder`` (copied to
``/autograder/run_autograder``) runs per submission, reads the student's
files from ``/autograder/submission/`` and writes
``/autograder/results/results.json``.

The bundle holds: ``setup.sh`` (Debian/Ubuntu packages for a Python
virtual environment, then kasou from the bundled wheel, its dependencies
from the package index), ``run_autograder``, kasou itself as a wheel
(``wheels/``, built from this source tree with ``pip wheel --no-deps``),
and the spec with every instructor file it names or includes
(``spec/``).  ``run_autograder`` honours ``KASOU_AUTOGRADER`` (the base
folder instead of ``/autograder``) and ``KASOU_PYTHON`` (a Python that
has kasou, instead of the one setup.sh installs).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tempfile
import zipfile

from .spec import Spec
from .arches import get_arch
from .target import _INCLUDE

VENV = "/autograder/kasou-venv"

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, from /autograder/source, when it builds the image.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y python3 python3-venv python3-pip{{packages}}
python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"kasou needs Python 3.11 or later; this image has {{sys.version.split()[0]}} "
             f"(choose an Ubuntu 24.04 base image)")
PY
python3 -m venv {VENV}
{VENV}/bin/pip install --upgrade pip
{VENV}/bin/pip install wheels/*.whl
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this per submission.  KASOU_AUTOGRADER: the base folder
# (default /autograder); KASOU_PYTHON: a Python with kasou installed
# (default the virtual environment setup.sh made).
set -uo pipefail
AG="${KASOU_AUTOGRADER:-/autograder}"
PY="${KASOU_PYTHON:-$AG/kasou-venv/bin/python}"
mkdir -p "$AG/results"
if ! "$PY" -m emu grade "$AG/source/spec/%(spec)s" "$AG/submission" --format gradescope \\
        --output "$AG/results/results.json" 2> "$AG/results/grade-errors.txt"; then
    "$PY" - "$AG/results" <<'PY'
import json, os, sys
out = sys.argv[1]
with open(os.path.join(out, "grade-errors.txt"), encoding="utf-8", errors="replace") as f:
    why = f.read().strip() or "emu grade failed"
with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
    json.dump({"score": 0, "output": "The autograder could not grade this submission: " + why,
               "visibility": "visible", "stdout_visibility": "hidden", "tests": []}, f)
PY
fi
"""


def setup_sh(spec: Spec) -> str:
    """setup.sh for ``spec``: with the Debian packages its architecture's
    assemblers come from (arm: GNU binutils for ARM; x86: nasm, for NASM
    submissions)."""
    packages = get_arch(spec.arch).packages if spec.arch != "python" else ()
    return SETUP_SH.replace("{packages}", "".join(" " + p for p in packages))


class BundleError(Exception):
    """The bundle cannot be made (one line)."""


def source_tree() -> str:
    """kasou's source tree (setup.cfg next to emu/), which the wheel is built from."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isfile(os.path.join(root, "setup.cfg")):
        raise BundleError("kasou's source tree is not here (no setup.cfg next to emu/); "
                          "expected kasou installed from its repository (pip install -e .)")
    return root


def instructor_files(spec: Spec) -> list:
    """The spec and the files it names, with every file they include from
    the spec's folder: paths relative to that folder."""
    folder = os.path.realpath(spec.folder)
    found, todo = [os.path.basename(spec.path)], [f for f in (spec.harness, spec.after) if f]
    while todo:
        rel = os.path.normpath(todo.pop())
        path = os.path.realpath(os.path.join(folder, rel))
        if rel in found or not path.startswith(folder + os.sep) or not os.path.isfile(path):
            continue
        found.append(rel)
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = _INCLUDE.match(line.split(";", 1)[0])
                if m:
                    want = next(g for g in m.groups() if g is not None)
                    todo.append(os.path.relpath(os.path.join(os.path.dirname(path), want),
                                                folder))
    return found


def build_wheel(into: str) -> str:
    """kasou as a wheel in folder ``into`` (``pip wheel --no-deps``, built
    with this environment's setuptools and wheel: nothing is downloaded)."""
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--quiet", "-w", into, source_tree()], capture_output=True, text=True)
    wheels = [f for f in os.listdir(into) if f.endswith(".whl")]
    if p.returncode != 0 or len(wheels) != 1:
        err = (p.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise BundleError(f"pip wheel could not build kasou ({err}); expected setuptools and "
                          f"wheel in this environment (pip install -e .[gradescope])")
    return os.path.join(into, wheels[0])


def _add(z: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    z.writestr(info, data)


def write_bundle(spec: Spec, out: str) -> list:
    """Write the autograder zip to ``out``; the names it holds."""
    files = instructor_files(spec)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(tmp)
        with zipfile.ZipFile(out, "w") as z:
            _add(z, "setup.sh", setup_sh(spec).encode(), executable=True)
            spec_name = os.path.basename(spec.path)
            script = RUN_AUTOGRADER % {"spec": re.sub(r"([\"$`\\])", r"\\\1", spec_name)}
            _add(z, "run_autograder", script.encode(), executable=True)
            with open(wheel, "rb") as f:
                _add(z, "wheels/" + os.path.basename(wheel), f.read())
            for rel in files:
                with open(os.path.join(spec.folder, rel), "rb") as f:
                    _add(z, "spec/" + rel.replace(os.sep, "/"), f.read())
            return z.namelist()
