"""``emu bench --kvm-exit``: the KVM exit round trip of kasou's kvm engine
against a C KVM_RUN loop, and ioeventfd's cost per doorbell notification
(the measurements are :mod:`kvm.exitbench`'s; the kvm engine is found by
name, as the engine registry finds it, never imported by emu)."""

from __future__ import annotations

import importlib
import os

KVM_DEVICE = "/dev/kvm"


def run_kvm_exit_bench(json_out, write_json) -> int:
    """Measure, print the figures, write them as JSON if asked; the exit
    status.  A host without /dev/kvm is a one-line error (BenchError)."""
    from .bench import BenchError
    if not os.path.exists(KVM_DEVICE):
        raise BenchError(f"--kvm-exit: {KVM_DEVICE} is absent on this host (expected a host with KVM)")
    bench = importlib.import_module("kvm.exitbench")
    res = bench.kvm_exit_bench()
    for line in bench.format_kvm_exit_bench(res):
        print(line)
    write_json(json_out, {"kvm_exit": res})
    return 0
