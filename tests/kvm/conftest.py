"""pytest set-up for tests/kvm: make the repository root importable.

The tests run as ``pytest tests/kvm`` from the repository root with no
installed package; put the root on sys.path so ``import kvm`` finds the
working tree (a no-op when a project-wide setting already does it).
"""

import pathlib
import sys

ROOT = str(pathlib.Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
