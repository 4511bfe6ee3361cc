"""Fixtures shared by several test packages."""

import os
import shutil
import subprocess

import pytest
from hypothesis import settings

from emu import vectors as pinned

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ELF_SOURCES = os.path.join(REPO, "tests", "guests", "elf")

# Every property test draws the same examples on every run (a failure in CI
# can be rerun as it was), and none is replayed from a local database.  The
# random search with more examples is what the ``slow`` variants are for.
settings.register_profile("kasou", derandomize=True, database=None)
settings.load_profile("kasou")


def tool(name):
    """A build tool's path; ``make test`` installs binutils and gcc when they
    are missing (Makefile ``deps``; also qemu-system-i386), so a missing one fails, naming it."""
    path = shutil.which(name)
    assert path, f"{name} not found (make deps installs binutils and gcc)"
    return path


def sh(*args, cwd=None):
    r = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert r.returncode == 0, f"{' '.join(map(str, args))}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="session")
def elf_guests(tmp_path_factory):
    """A directory with hello.elf (GNU as, 16-bit Intel syntax) and fib.elf
    (gcc -m16: C with an assembly start), both linked at 0x7C00 with DWARF
    line tables, next to their sources and hello.o."""
    d = tmp_path_factory.mktemp("elf")
    for f in ("hello.s", "start.s", "fib.c"):
        shutil.copy(os.path.join(ELF_SOURCES, f), d / f)
    sh(tool("as"), "--32", "-g", "-o", "hello.o", "hello.s", cwd=d)
    sh(tool("ld"), "-m", "elf_i386", "-Ttext=0x7c00", "-e", "_start", "-o", "hello.elf", "hello.o", cwd=d)
    sh(tool("gcc"), "-m16", "-ffreestanding", "-fno-pie", "-no-pie", "-nostdlib", "-O1", "-g",
       "-fno-asynchronous-unwind-tables", "-Wl,-Ttext=0x7c00", "-Wl,-e,_start",
       "-Wl,--build-id=none", "-Wl,--no-warn-execstack", "-o", "fib.elf", "start.s", "fib.c", cwd=d)
    return d


@pytest.fixture(scope="session")
def suite_dir():
    """``suite_dir(cpu)``: the directory of the pinned SingleStepTests suite
    (``8086``, ``286``) found by ``emu.vectors.locate`` with every sha256
    checked -- in ``$KASOU_VECTORS`` (default ``.vectors``) or the local copy
    ``../shared/conformance``.  Where it is absent the test fails with one
    line that says to run ``make vectors``; it is never skipped."""
    lock = pinned.load_lock()
    found = {}

    def get(cpu):
        if cpu not in found:
            try:
                found[cpu] = pinned.locate(cpu, lock=lock)
            except pinned.VectorsMissing as e:
                found[cpu] = e
        if isinstance(found[cpu], pinned.VectorsMissing):
            pytest.fail(str(found[cpu]), pytrace=False)
        return found[cpu]

    return get
