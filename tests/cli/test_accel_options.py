"""``-accel NAME,PROP=VALUE``: the engine's properties (kvm: ioeventfd=on|off, timing=off|on)."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST = os.path.join("tutorials", "08-virtio", "batch.S")


def emu(*args):
    return subprocess.run([sys.executable, "-m", "emu", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env=dict(os.environ, PYTHONPATH=REPO))


@pytest.mark.parametrize("accel, why", [
    ("interp,ioeventfd=on", "'ioeventfd=on' is not a property of interp (expected none: it takes no properties)"),
    ("kvm,ioeventfd=maybe", "'ioeventfd=maybe' is not a property of kvm (expected ioeventfd=on|off, timing=off|on)"),
    ("kvm,irqfd=on", "'irqfd=on' is not a property of kvm (expected ioeventfd=on|off, timing=off|on)"),
    ("kvm,ioeventfd", "'ioeventfd' is not a property of kvm (expected ioeventfd=on|off, timing=off|on)"),
])
def test_a_bad_property_is_a_one_line_usage_error(accel, why):
    r = emu("run", "-accel", accel, GUEST)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert any(line.startswith(f"emu run: -accel {accel}: {why}") for line in lines), r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.skipif(not os.path.exists("/dev/kvm"), reason="/dev/kvm is absent on this host")
@pytest.mark.parametrize("value, exits, signalled", [("on", None, "IO out 0xc010 64"),
                                                     ("off", "IO out port 0xc010", None)])
def test_ioeventfd_switch(tmp_path, value, exits, signalled):
    log = tmp_path / "exits.log"
    r = emu("run", "-accel", f"kvm,ioeventfd={value}", "-d", "exits", "-D", str(log), GUEST)
    assert r.returncode == 1, r.stderr
    assert r.stdout == "".join("message %02d\n" % (i % 100) for i in range(1024))
    text = log.read_text()
    assert (exits in text) if exits else ("exit: IO out port 0xc010" not in text)
    if signalled:
        assert f"ioeventfd: {signalled} (doorbell writes without an exit)" in text
    else:
        assert "ioeventfd:" not in text
