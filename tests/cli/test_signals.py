"""One Ctrl-C (SIGINT) or one SIGTERM stops `emu run` on every engine and
`emu diff`: exit status 130 / 143, exactly one line ``emu: interrupted`` /
``emu: terminated`` (on KVM followed only by ``emu: note:`` lines), no
traceback, no "Exception ignored", and the guest's output before the signal
intact.

Each test starts ``emu`` as a subprocess on an endless guest, waits until
the guest runs (its first output line, or for ``emu diff``, which prints
nothing while it steps, until both engines' libraries are loaded), sends the
signal once and waits for the exit.  The KVM cases are skipped only where
/dev/kvm is absent."""

import os
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAVE_KVM = os.path.exists("/dev/kvm")

#: prints "ready", then loops on port reads: unicorn runs its IN hook (a ctypes
#: callback that must return a value) all the time, where a KeyboardInterrupt
#: raised by Python's own SIGINT handler was reported as "Exception ignored"
IO_LOOP = """
    mov dx, 0x3f8
    mov si, msg
next:
    mov al, [si]
    test al, al
    jz spin
    out dx, al
    inc si
    jmp next
spin:
    in al, 0x80
    in al, 0x80
    in al, 0x80
    in al, 0x80
    jmp spin
msg: .byte 0x72, 0x65, 0x61, 0x64, 0x79, 0x0a, 0
"""
#: prints "ready", then loops without a single exit (a block that jumps to itself)
TIGHT_LOOP = IO_LOOP.replace("    in al, 0x80\n", "")

ENGINES = ["interp", "tcg", "unicorn",
           pytest.param("kvm", marks=pytest.mark.skipif(
               not HAVE_KVM, reason="/dev/kvm is absent on this host: the KVM case needs it"))]


def start(tmp_path, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env["KASOU_CACHE_DIR"] = str(tmp_path)      # KVM notes probe the host: not into ~/.cache
    return subprocess.Popen([sys.executable, "-m", "emu", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO, env=env)


def finish(p, sig):
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError(f"emu did not stop within 60 s of {sig.name}")
    return out, err.decode()


def check_one_line(err, word):
    assert "Traceback" not in err and "Exception ignored" not in err, err
    lines = err.splitlines()
    assert lines.count(f"emu: {word}") == 1, err
    first = lines.index(f"emu: {word}")
    assert all(line.startswith("emu: note:") for line in lines[first + 1:]), err
    assert lines[:first] == [], err


def guest(tmp_path, text):
    path = tmp_path / "endless.S"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("accel", ENGINES)
@pytest.mark.parametrize("text", [IO_LOOP, TIGHT_LOOP], ids=["io-loop", "tight-loop"])
def test_sigint_stops_run(tmp_path, accel, text):
    p = start(tmp_path, "run", "-accel", accel, guest(tmp_path, text))
    first = p.stdout.readline()
    assert first == b"ready\n"
    out, err = finish(p, signal.SIGINT)
    assert p.returncode == 130, (p.returncode, err)
    check_one_line(err, "interrupted")
    assert out == b""                      # the guest printed nothing after "ready"


@pytest.mark.parametrize("accel", ENGINES)
def test_sigterm_stops_run(tmp_path, accel):
    p = start(tmp_path, "run", "-accel", accel, guest(tmp_path, IO_LOOP))
    assert p.stdout.readline() == b"ready\n"
    out, err = finish(p, signal.SIGTERM)
    assert p.returncode == 143, (p.returncode, err)
    check_one_line(err, "terminated")


def wait_for_libraries(p, names):
    """Until the process has mapped every library in ``names`` (emu diff
    loads capstone while it steps) -- or has ended."""
    maps = f"/proc/{p.pid}/maps"
    while p.poll() is None:
        with open(maps) as f:
            text = f.read()
        if all(n in text for n in names):
            return
        time.sleep(0.02)
    raise AssertionError(f"emu ended before it ran: {p.communicate()}")


DIFF_PAIRS = ["interp,unicorn", "tcg,unicorn",
              pytest.param("interp,kvm", marks=pytest.mark.skipif(
                  not HAVE_KVM, reason="/dev/kvm is absent on this host: the KVM case needs it"))]


@pytest.mark.parametrize("pair", DIFF_PAIRS)
@pytest.mark.parametrize("sig, status, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_signal_stops_diff(tmp_path, pair, sig, status, word):
    p = start(tmp_path, "diff", "-accel", pair, "--max-steps", "100000000", guest(tmp_path, IO_LOOP))
    wait_for_libraries(p, ["capstone"] + (["unicorn"] if "unicorn" in pair else []))
    out, err = finish(p, sig)
    assert p.returncode == status, (p.returncode, err)
    check_one_line(err, word)
    assert out == b""                      # no half-made report


CONFORMANCE = os.path.join(os.path.dirname(REPO), "shared", "conformance", "8086", "v1")


@pytest.mark.parametrize("args", [
    pytest.param(["bench", "-accel", "unicorn"], id="bench"),
    pytest.param(["conformance", CONFORMANCE, "--cpu", "8086", "--accel", "unicorn"], id="conformance",
                 marks=pytest.mark.skipif(not os.path.isdir(CONFORMANCE),
                                          reason=f"{CONFORMANCE}: the conformance vectors are absent")),
])
def test_sigint_stops_bench_and_conformance(tmp_path, args):
    p = start(tmp_path, *args)
    wait_for_libraries(p, ["unicorn"])
    out, err = finish(p, signal.SIGINT)
    assert p.returncode == 130, (p.returncode, err)
    check_one_line(err, "interrupted")
