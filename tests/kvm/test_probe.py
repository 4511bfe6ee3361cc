"""kvm.probe: the probe guests on the real /dev/kvm, the per-boot cache, the
notes a run gets, and the two commands that print the results.

Skipped only where /dev/kvm is absent (the cache and note logic run on
results written by the test itself and need no device)."""

import json
import os
import subprocess
import sys

import pytest

from kvm import probe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
requires_kvm = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                  reason="/dev/kvm is absent on this host: the probes run guests on it")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KASOU_CACHE_DIR", str(tmp_path))
    return tmp_path


@requires_kvm
def test_every_probe_reaches_a_verdict():
    limits = probe.run_probes()
    assert [x.name for x in limits] == list(probe.PROBES)
    for x in limits:
        assert x.ok in (True, False), (x.name, x.seen)
        assert x.seen


@requires_kvm
def test_results_are_cached_per_boot_and_refreshed_on_request(cache_dir):
    first = probe.host_limits()
    assert not first.cached
    path = cache_dir / probe.CACHE_NAME
    doc = json.loads(path.read_text())
    assert doc["key"]["boot_id"] == open(probe.BOOT_ID).read().strip()
    again = probe.host_limits()
    assert again.cached
    assert [(x.name, x.ok) for x in again.limits] == [(x.name, x.ok) for x in first.limits]
    assert not probe.host_limits(refresh=True).cached
    doc["key"]["boot_id"] = "another-boot"               # a cache from an earlier boot
    doc["limits"][0]["ok"] = not first.limits[0].ok
    path.write_text(json.dumps(doc))
    fresh = probe.host_limits()
    assert not fresh.cached and fresh.limits[0].ok == first.limits[0].ok


def _write_cache(cache_dir, oks):
    """A cache file for this boot with the given verdicts."""
    limits = []
    for name, (fn, rule, meaning, modes) in probe.PROBES.items():
        limits.append({"name": name, "rule": rule, "ok": oks.get(name, True), "seen": "test",
                       "meaning": meaning, "modes": list(modes)})
    key = {"boot_id": probe.boot_id(), "device": "/dev/kvm", "version": probe.PROBE_VERSION}
    (cache_dir / probe.CACHE_NAME).write_text(json.dumps({"key": key, "backend": "kvm_test",
                                                          "limits": limits}))


def test_notes_name_the_failed_limits_of_the_mode_the_guest_stopped_in(cache_dir, monkeypatch):
    monkeypatch.setenv("KASOU_KVM_DEV", "/dev/kvm")
    _write_cache(cache_dir, {"real_mode_idt_limit": False, "paging32": False})
    meaning = {name: entry[2] for name, entry in probe.PROBES.items()}
    real = probe.explain("real")
    assert len(real) == 1 and meaning["real_mode_idt_limit"] in real[0]
    prot = probe.explain("prot32")
    assert len(prot) == 1 and meaning["paging32"] in prot[0]
    both = probe.explain("long64")        # nothing probed matters there: all that failed
    assert len(both) == 2
    _write_cache(cache_dir, {})
    assert probe.explain("real") == []


def test_no_kvm_no_notes(cache_dir):
    assert probe.explain("real", path="/nonexistent/kvm") == []


def _run(*args, env=None):
    e = dict(os.environ)
    e["PYTHONPATH"] = REPO + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    return subprocess.run([sys.executable, *args], capture_output=True, cwd=REPO, env=e,
                          timeout=120, text=True)


@requires_kvm
def test_the_commands_print_what_was_probed(cache_dir):
    env = {"KASOU_CACHE_DIR": str(cache_dir)}
    r = _run("-m", "emu", "kvm-probe", "--json", env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    truth = {x.name: x.ok for x in probe.host_limits().limits}
    assert {x["name"]: x["ok"] for x in doc["limits"]} == truth
    text = _run("-m", "kvm", "probe", env=env)
    assert text.returncode == 0
    for x in probe.host_limits().limits:
        verdict = "yes" if x.ok else "NO"
        assert any(line.strip().startswith(verdict) and x.rule in line
                   for line in text.stdout.splitlines()), (x.rule, text.stdout)


def test_kvm_probe_without_kvm_is_one_line(cache_dir):
    r = _run("-m", "emu", "kvm-probe", env={"KASOU_KVM_DEV": "/nonexistent/kvm"})
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
