"""HMP ``savevm FILE`` / ``loadvm FILE``: the whole machine to a file and
back (QEMU ``hmp-commands.hx``, "savevm"/"loadvm"; QEMU keeps the snapshot
in a qcow2 image under a tag, kasou in a file of its own).

What is saved is what the debugger's checkpoints hold
(:mod:`emu.debug.record`): the CPU state (read back from the engine
first), all of RAM, every device's ``snapshot()``, the exit counts and the
guest clock.  Loading puts them back, drops the engine's translated code
and hands the CPU state to the engine, so that the guest goes on exactly as
from the save point; the engine's own instruction counter goes on counting,
and guest time is put back through the clock's idle time (icount mode; a
real-time clock -- KVM -- cannot be put back and goes on).

The file: ``KASOUVM`` and a format byte, then a pickle holding only
Python's plain types and the target's CPU state class; loading refuses
anything else (a file is data, never code to run), and a snapshot of
another architecture or RAM size.
"""

from __future__ import annotations

import io
import pickle
import zlib

MAGIC = b"KASOUVM\x01"


class SnapshotError(Exception):
    """A snapshot that cannot be written or read; the message says why."""


class _Loader(pickle.Unpickler):
    """Plain data and the classes of one module (the CPU state's)."""

    def __init__(self, data: bytes, module: str):
        super().__init__(io.BytesIO(data))
        self.module = module

    def find_class(self, module, name):
        if module == self.module or (module == "builtins" and name in ("set", "frozenset",
                                                                          "bytearray")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a snapshot")


def _open(path: str, mode: str):
    try:
        return open(path, mode)
    except OSError as e:
        raise SnapshotError(f"Could not open '{path}': {e.strerror}") from None


def save(machine, path: str) -> None:
    """The machine's state now, to ``path`` (main thread, guest stopped)."""
    m = machine
    m.accel.sync_state()
    state = {
        "arch": m.target.name,
        "ram-size": m.ram.size,
        "cpu": m.cpu.copy(),
        "devices": {name: dev.snapshot() for name, dev in m.devices.items()},
        "stats": m.stats.state(),
        "clock-ns": m.clock.now_ns(),
        "ram": zlib.compress(bytes(m.ram.mm), 1),
    }
    data = MAGIC + pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    with _open(path, "wb") as f:
        try:
            f.write(data)
        except OSError as e:
            raise SnapshotError(f"Could not write '{path}': {e.strerror}") from None


def read(machine, path: str) -> dict:
    """The snapshot in ``path``, checked against ``machine``."""
    with _open(path, "rb") as f:
        try:
            data = f.read()
        except OSError as e:
            raise SnapshotError(f"Could not read '{path}': {e.strerror}") from None
    if not data.startswith(MAGIC):
        raise SnapshotError(f"'{path}' is not a kasou snapshot (savevm FILE writes one)")
    cpu_module = type(machine.cpu).__module__
    try:
        state = _Loader(data[len(MAGIC):], cpu_module).load()
        ram = zlib.decompress(state["ram"])
    except (pickle.UnpicklingError, EOFError, zlib.error, KeyError, TypeError, ValueError,
            AttributeError, IndexError) as e:
        raise SnapshotError(f"'{path}' is a damaged kasou snapshot ({e})") from None
    if not isinstance(state, dict) or state.get("arch") != machine.target.name:
        raise SnapshotError(f"'{path}' is a snapshot of a {state.get('arch')} machine, "
                            f"this one is {machine.target.name}")
    if state.get("ram-size") != machine.ram.size or len(ram) != machine.ram.size:
        raise SnapshotError(f"'{path}' is a snapshot of a machine with {state.get('ram-size', 0) >> 20} "
                            f"MiB of RAM, this one has {machine.ram.size >> 20} MiB (-m)")
    missing = set(state["devices"]) ^ set(machine.devices)
    if missing or not isinstance(state["cpu"], type(machine.cpu)):
        raise SnapshotError(f"'{path}' is a snapshot of another board "
                            f"(devices {', '.join(sorted(missing)) or 'alike'}, other CPU)")
    state["ram"] = ram
    return state


def load(machine, path: str) -> None:
    """Put the machine in the state saved in ``path`` (main thread, guest
    stopped); nothing changes if the file is refused."""
    m = machine
    state = read(m, path)
    m.accel.sync_state()
    m.ram.mm[:] = state["ram"]
    m.ram.invalidate_all()
    m.accel.flush_code_cache()
    m.cpu.load(state["cpu"])
    for name, dev_state in state["devices"].items():
        m.devices[name].restore(dev_state)
    m.stats.set_state(state["stats"])
    clock = m.clock
    if not clock.realtime:
        clock.idle_ns = state["clock-ns"] - (m.icount_now() << clock.shift)
    m.accel.state_changed()
