"""Every lab's commands, run as written.

A lab is ``tutorials/NN-name/README.md``.  In its ```sh blocks, a line
starting with ``$ `` is a command; the lines after it, up to the next
command or the end of the block, are what it must print, in order (a line
``...`` stands for any number of lines, and a line ending in ``...`` for any
text after its start).  ``emu`` and ``python`` are this checkout's."""

import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABS = sorted(glob.glob(os.path.join(REPO, "tutorials", "*", "README.md")))


def commands(path):
    text = open(path).read()
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        cmd, expect = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if cmd:
                    out.append((cmd, expect))
                cmd, expect = line[2:], []
            elif cmd is not None:
                expect.append(line)
        if cmd:
            out.append((cmd, expect))
    return out


def matches(expect, got) -> bool:
    """Expected lines in order, with ``...`` wildcards."""
    i = 0
    for k, want in enumerate(expect):
        if want == "...":
            nxt = next((w for w in expect[k + 1:] if w != "..."), None)
            if nxt is None:
                return True
            while i < len(got) and not _line_ok(nxt, got[i]):
                i += 1
            continue
        if i >= len(got) or not _line_ok(want, got[i]):
            return False
        i += 1
    return i == len(got)


def _line_ok(want, line) -> bool:
    if want.endswith("..."):
        return line.startswith(want[:-3])
    return line == want


def run(cmd):
    argv = shlex.split(cmd)
    if argv[0] == "emu":
        argv = [sys.executable, "-m", "emu"] + argv[1:]
    elif argv[0] == "python":
        argv = [sys.executable] + argv[1:]
    env = dict(os.environ, PYTHONPATH=REPO)
    r = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    return (r.stdout + r.stderr).splitlines()


CASES = [(os.path.relpath(p, REPO), c, e) for p in LABS for c, e in commands(p)]


def test_there_are_labs():
    assert CASES, "no lab commands found under tutorials/"


@pytest.mark.parametrize("lab, cmd, expect", CASES, ids=[f"{c[0].split(os.sep)[1]}: {c[1]}" for c in CASES])
def test_lab_command(lab, cmd, expect):
    if "kvm" in cmd and not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm on this machine")
    got = run(cmd)
    assert matches(expect, got), f"{lab}: `{cmd}` printed:\n" + "\n".join(got)
