"""Reader for MOO, the chunked binary format SingleStepTests publishes CPU
tests in (MOO format specification v1.1: the ``MOO `` header, ``TEST``
chunks holding ``NAME``, ``BYTS``, ``INIT``/``FINA`` with ``REGS``, ``RAM ``
and ``QUEU``, ``CYCL``, ``EXCP`` and ``HASH``; unknown chunks are skipped by
their length, as the specification requires).

``records(data, suite)`` turns a file into the JSON test records of the
suite's published JSON layout, so the vectors made from MOO files read like
the ones published as JSON:

* ``8086`` (the 8086 v1 README): ``name``, ``bytes``, ``initial``, ``final``,
  ``cycles`` as ``[ALE, address latch, segment, memory "RAW", io "RAW", BHE,
  data, bus status, T-state, queue op, queue byte]``, ``test_hash`` (the
  HASH chunk in hex, or null when the file has none) and ``test_num``;
* ``286`` (the 80286 README): ``idx``, ``name``, ``bytes``, ``initial``,
  ``final``, ``cycles`` as ``[pins, address, memory status, io status, data,
  bus status name, raw bus status, T-state]``, ``exception`` when the test
  has an EXCP chunk, and ``hash``.  ``test_num`` and ``idx`` are the position in the file.
"""

import struct

REGS16 = ("ax", "bx", "cx", "dx", "cs", "ss", "ds", "es", "sp", "bp", "si", "di", "ip", "flags")
SEGMENT_8086 = ("ES", "SS", "CS", "DS")
BUS_8086 = ("INTA", "IOR", "IOW", "MEMR", "MEMW", "HALT", "CODE", "PASV")
BUS_286 = ("INTA", "PASV", "PASV", "PASV", "HALT", "MEMR", "MEMW", "PASV",
           "PASV", "IOR", "IOW", "PASV", "PASV", "CODE", "PASV", "PASV")
TSTATE_8086 = ("Ti", "T1", "T2", "T3", "T4", "Tw")
TSTATE_286 = ("Ti", "Ts", "Tc")
QUEUE_OP = ("-", "F", "E", "S")
CYCLE = struct.Struct("<BIBBBBHBBBB")


class MooError(ValueError):
    """The bytes are not a MOO file this reader understands."""


def chunks(data: bytes, start: int = 0, end: int = None):
    """(type, payload) of each chunk between ``start`` and ``end``."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise MooError(f"truncated chunk header at offset {pos}")
        kind = data[pos:pos + 4].decode("ascii")
        (length,) = struct.unpack_from("<I", data, pos + 4)
        if pos + 8 + length > end:
            raise MooError(f"chunk {kind!r} at offset {pos} runs past its container")
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 8 + length


def _counted(payload: bytes, size: int = 1) -> bytes:
    (n,) = struct.unpack_from("<I", payload)
    return payload[4:4 + n * size]


def _regs(payload: bytes) -> dict:
    (mask,) = struct.unpack_from("<H", payload)
    out, pos = {}, 2
    for bit, name in enumerate(REGS16):
        if mask >> bit & 1:
            out[name] = struct.unpack_from("<H", payload, pos)[0]
            pos += 2
    return out


def _state(payload: bytes) -> dict:
    out = {"regs": {}, "ram": [], "queue": []}
    for kind, body in chunks(payload):
        if kind == "REGS":
            out["regs"] = _regs(body)
        elif kind == "RAM ":
            raw = _counted(body, 5)
            out["ram"] = [[a, v] for a, v in struct.iter_unpack("<IB", raw)]
        elif kind == "QUEU":
            out["queue"] = list(_counted(body))
    return out


def _rw(bits: int) -> str:
    return "".join(c if bits >> b & 1 else "-" for c, b in (("R", 2), ("A", 1), ("W", 0)))


def _cycle(raw: tuple, suite: str) -> list:
    pins, addr, seg, mem, io, pins1, data, bus, t, qop, qbyte = raw
    if suite == "8086":
        segment = SEGMENT_8086[seg] if seg < 4 else "--"
        return [pins, addr, segment, _rw(mem), _rw(io), pins1, data, BUS_8086[bus & 7],
                TSTATE_8086[t], QUEUE_OP[qop & 3], qbyte]
    return [pins, addr, mem, io, data, BUS_286[bus & 15], bus, TSTATE_286[t]]


def _test(index: int, payload: bytes, suite: str) -> dict:
    parts = dict(chunks(payload))
    name = _counted(parts["NAME"]).decode("ascii")
    rec = {"name": name, "bytes": list(_counted(parts["BYTS"])),
           "initial": _state(parts["INIT"]), "final": _state(parts["FINA"]),
           "cycles": [_cycle(c, suite) for c in CYCLE.iter_unpack(_counted(parts["CYCL"], CYCLE.size))]}
    digest = parts["HASH"].hex() if "HASH" in parts else None
    if suite == "8086":
        rec["test_hash"] = digest
        rec["test_num"] = index
        return rec
    rec = {"idx": index, **rec}
    if "EXCP" in parts:
        number, flag_address = struct.unpack_from("<BI", parts["EXCP"])
        rec["exception"] = {"number": number, "flag_address": flag_address}
    rec["hash"] = digest
    return rec


def records(data: bytes, suite: str, limit: int = None) -> list:
    """The first ``limit`` (default all) tests of MOO file ``data`` as JSON records."""
    if suite not in ("8086", "286"):
        raise MooError(f"no JSON layout for suite {suite!r} (expected 8086 or 286)")
    if data[:4] != b"MOO ":
        raise MooError("not a MOO file (no 'MOO ' header chunk)")
    out = []
    for kind, payload in chunks(data):
        if kind != "TEST":
            continue
        if limit is not None and len(out) >= limit:
            break
        out.append(_test(len(out), payload[4:], suite))
    return out
