"""Test an implementation of ADC on bytes (lab 11, exercise 1).

    python check_adc.py IMPLEMENTATION.py

loads IMPLEMENTATION.py (a file like alu.py), checks its adc8(a, b, cf),
and exits with status 0 if every check passes, 1 at the first that fails
(printing which).  The grader runs this program on alu.py, which must pass,
and on buggy versions of it, each of which must fail.

Your task: add checks until every bug is caught.  Where do the expected
values come from?  Not from the code under test: from the SDM's
definitions, from another engine (unicorn runs the real instruction:
`from unicorn import Uc, ...`), or from captured vectors.
"""

import importlib.util
import sys


def load(path):
    spec = importlib.util.spec_from_file_location("impl", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(what, got, want):
    if got != want:
        print(f"FAIL {what}: got {got}, expected {want}")
        sys.exit(1)


def main(path):
    impl = load(path)
    result, flags = impl.adc8(0, 0, 0)
    check("adc8(0, 0, 0) result", result, 0)
    check("adc8(0, 0, 0) ZF", flags["ZF"], 1)
    print("all checks pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
