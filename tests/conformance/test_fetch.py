"""``make vectors`` (emu/vectors.py) and the MOO reader (emu/moo.py).

Nothing here downloads: a fake upstream repository is laid out in a
temporary directory and served through ``file://`` addresses (the same
urllib path a real download takes) or through a fake opener, and a small
lock pins its files.  What is checked: a file whose bytes do not match the
pinned sha256 is rejected and nothing is written; matching files are made
and written; the cache is reused without a download; a local copy is used
in place; missing data fails with one line that says ``make vectors`` --
in ``locate``, in the CLI and in a conformance test run by pytest itself.
The real pins are judged too: a file the tests read is made again by
``make`` from a longer upstream-like file and must give the pinned sha256.
"""

import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys

import pytest

from emu import moo, vectors

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMIT = "0123456789abcdef0123456789abcdef01234567"
RECORDS = [{"name": f"nop {i}", "bytes": [144], "initial": {"regs": {"ax": i}},
            "final": {"regs": {}}} for i in range(3)]


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _made(records):
    return gzip.compress(json.dumps(records, separators=(",", ":")).encode(), 9, mtime=0)


@pytest.fixture
def upstream(tmp_path):
    """A fake upstream repository at COMMIT under ``tmp_path/up`` and a lock
    pinning two files made from it: a copied metadata.json and the first
    two records of a three-record JSON file."""
    base = tmp_path / "up" / "Test" / "cpu" / COMMIT
    (base / "v1").mkdir(parents=True)
    meta = b'{"opcodes": {}}'
    source = gzip.compress(json.dumps(RECORDS).encode())
    (base / "v1" / "metadata.json").write_bytes(meta)
    (base / "v1" / "00.json.gz").write_bytes(source)
    lock = {"cpu": {"dir": "cpu/v1", "repo": "Test/cpu", "commit": COMMIT, "files": {
        "cpu/v1/metadata.json": {"sha256": _sha(meta), "make": "copy", "from": "v1/metadata.json",
                                 "blob": vectors.git_blob_id(meta)},
        "cpu/v1/00.json.gz": {"sha256": _sha(_made(RECORDS[:2])), "make": "slice", "tests": 2,
                              "from": "v1/00.json.gz", "blob": vectors.git_blob_id(source),
                              "from_sha256": _sha(source)}}}}
    url = (tmp_path / "up").as_uri() + "/{repo}/{commit}/{path}"
    return lock, url, base


def _no_network(url):
    raise AssertionError(f"downloaded {url}")


def test_fetch_downloads_checks_makes_and_writes(tmp_path, upstream):
    lock, url, _ = upstream
    cache = tmp_path / "cache"
    vectors.fetch(cache=str(cache), local=[], url=url, lock=lock, log=lambda s: None)
    made = (cache / "cpu" / "v1" / "00.json.gz").read_bytes()
    assert json.loads(gzip.decompress(made)) == RECORDS[:2]
    assert vectors.locate("cpu", roots=[str(cache)], lock=lock) == str(cache / "cpu" / "v1")
    assert vectors.vector_files("cpu", lock) == ["00.json.gz"]


def test_fetch_reuses_the_cache_without_downloading(tmp_path, upstream):
    lock, url, _ = upstream
    cache = tmp_path / "cache"
    vectors.fetch(cache=str(cache), local=[], url=url, lock=lock, log=lambda s: None)
    lines = []
    vectors.fetch(cache=str(cache), local=[], url=url, lock=lock, opener=_no_network,
                  log=lines.append)
    assert lines == [f"cpu/v1: 2 files verified in {cache}"]
    # one damaged file is made again; the intact one is kept
    (cache / "cpu" / "v1" / "00.json.gz").write_bytes(b"damaged")
    vectors.fetch(cache=str(cache), local=[], url=url, lock=lock, log=lines.append)
    assert lines[-1].endswith("(1 kept, 0 copied, 1 downloaded)")
    assert vectors.locate("cpu", roots=[str(cache)], lock=lock)


def _wrong_upstream(lock, base):
    (base / "v1" / "00.json.gz").write_bytes(gzip.compress(json.dumps(RECORDS[::-1]).encode()))


def _wrong_product(lock, base):
    lock["cpu"]["files"]["cpu/v1/00.json.gz"]["tests"] = 3       # makes a different slice


@pytest.mark.parametrize("spoil,why", [
    (_wrong_upstream, "not the pinned file; nothing written"),
    (_wrong_product, "00.json.gz: made from .* expected .*; nothing written")],
    ids=["upstream-sha256", "made-sha256"])
def test_fetch_writes_nothing_whose_sha256_differs(tmp_path, upstream, spoil, why):
    """Downloaded bytes that are not the pinned upstream file are rejected,
    and so is a made file that is not the pinned product."""
    lock, url, base = upstream
    spoil(lock, base)
    cache = tmp_path / "cache"
    with pytest.raises(vectors.VectorsMissing, match=why):
        vectors.fetch(cache=str(cache), local=[], url=url, lock=lock, log=lambda s: None)
    assert not (cache / "cpu" / "v1" / "00.json.gz").exists()


def test_a_local_copy_is_used_in_place_or_copied_from(tmp_path, upstream):
    lock, url, _ = upstream
    copy = tmp_path / "copy"
    vectors.fetch(cache=str(copy), local=[], url=url, lock=lock, log=lambda s: None)
    cache = tmp_path / "cache"
    lines = []
    vectors.fetch(cache=str(cache), local=[str(copy)], lock=lock, opener=_no_network,
                  log=lines.append)
    assert lines == [f"cpu/v1: 2 files verified in {copy}"] and not cache.exists()
    assert vectors.locate("cpu", roots=[str(cache), str(copy)], lock=lock) == str(copy / "cpu" / "v1")
    # a damaged local copy is not used; its intact files are copied, the rest fetched
    (copy / "cpu" / "v1" / "metadata.json").write_bytes(b"{}")
    vectors.fetch(cache=str(cache), local=[str(copy)], url=url, lock=lock, log=lines.append)
    assert lines[-1].endswith("(0 kept, 1 copied, 1 downloaded)")


def test_missing_data_that_cannot_be_fetched_is_one_line_naming_make_vectors(tmp_path, upstream):
    lock, _, _ = upstream
    with pytest.raises(vectors.VectorsMissing) as e:
        vectors.locate("cpu", roots=[str(tmp_path / "none")], lock=lock)
    assert "\n" not in str(e.value) and str(e.value).endswith("run `make vectors`")
    assert "cpu/v1/metadata.json is missing" in str(e.value)
    dead = (tmp_path / "nowhere").as_uri() + "/{repo}/{commit}/{path}"
    with pytest.raises(vectors.VectorsMissing) as e:
        vectors.fetch(cache=str(tmp_path / "c"), local=[], url=dead, lock=lock, log=lambda s: None)
    assert "\n" not in str(e.value) and "cannot fetch file://" in str(e.value)
    assert "make vectors" in str(e.value)


def _env_without_vectors(tmp_path):
    return {**os.environ, "KASOU_VECTORS": str(tmp_path / "empty"), "KASOU_VECTORS_COPIES": "",
            "PYTHONPATH": REPO}


def test_cli_without_vectors_is_one_line_naming_make_vectors(tmp_path):
    r = subprocess.run([sys.executable, "-m", "emu", "conformance", "8086", "--cpu", "8086"],
                       capture_output=True, text=True, cwd=REPO, env=_env_without_vectors(tmp_path),
                       timeout=120)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().endswith("run `make vectors`")
    r = subprocess.run([sys.executable, "-m", "emu.vectors", "--where"], capture_output=True,
                       text=True, cwd=REPO, env=_env_without_vectors(tmp_path), timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "make vectors" in r.stderr


def test_conformance_tests_fail_not_skip_without_vectors(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE",
                        "tests/conformance/test_vectors.py", "-k", "threshold or 8086-04"],
                       capture_output=True, text=True, cwd=REPO, env=_env_without_vectors(tmp_path),
                       timeout=300)
    assert r.returncode == 1, r.stdout
    assert "skipped" not in r.stdout
    assert "3 failed" in r.stdout, r.stdout[-2000:]
    assert "run `make vectors`" in r.stdout


def test_the_pinned_files_are_made_as_the_lock_says(suite_dir):
    """A pinned slice and a pinned MOO conversion, made again by ``make``
    from an upstream-like file with more records than the slice, give the
    sha256 the lock records (which is that of the local copy's files)."""
    lock = vectors.load_lock()
    pin = lock["8086"]["files"]["8086/v1/04.json.gz"]
    with gzip.open(os.path.join(suite_dir("8086"), "04.json.gz")) as f:
        records = json.load(f)
    longer = gzip.compress(json.dumps(records + records[:5]).encode())
    assert vectors.make(pin, longer, "8086") == _made(records)
    assert _sha(vectors.make(pin, longer, "8086")) == pin["sha256"]
    assert {p["make"] for p in lock["286"]["files"].values()} == {"copy", "moo"}
    assert lock["8086"]["files"]["8086/v1/A4.json.gz"]["make"] == "moo"


def _chunk(kind, payload):
    return kind.encode() + struct.pack("<I", len(payload)) + payload


def _moo_test(name, code, excp):
    init = _chunk("REGS", struct.pack("<H", 0x3FFF) + struct.pack("<14H", *range(1, 15)))
    init += _chunk("RAM ", struct.pack("<I", 2) + struct.pack("<IB", 0x12345, 7) + struct.pack("<IB", 9, 255))
    final = _chunk("REGS", struct.pack("<H", 1 << 12 | 1) + struct.pack("<2H", 0xAAAA, 0x10))
    final += _chunk("RAM ", struct.pack("<I", 0))
    cycle = struct.pack("<BIBBBBHBBBB", 3, 0xFFFFFF, 4, 4, 0, 0, 0x1234, 13, 1, 0, 0)
    body = (_chunk("NAME", struct.pack("<I", len(name)) + name.encode())
            + _chunk("BYTS", struct.pack("<I", len(code)) + code)
            + _chunk("INIT", init) + _chunk("FINA", final) + _chunk("XTRA", b"skipped")
            + _chunk("CYCL", struct.pack("<I", 1) + cycle))
    if excp:
        body += _chunk("EXCP", struct.pack("<BI", 0, 0x4242))
    body += _chunk("HASH", bytes(range(20)))
    return _chunk("TEST", struct.pack("<I", 0) + body)


def test_moo_records_follow_the_format_specification():
    """A MOO file built by hand from the v1.1 specification reads back in the
    80286 JSON layout; an unknown chunk is skipped; ``limit`` stops early."""
    data = (_chunk("MOO ", bytes([1, 1, 0, 0]) + struct.pack("<I", 2) + b"C286")
            + _moo_test("add al,1", bytes([4, 1, 244]), False) + _moo_test("div al", b"\xf6\xf0\xf4", True))
    recs = moo.records(data, "286")
    assert [r["idx"] for r in recs] == [0, 1]
    r = recs[1]
    assert list(r) == ["idx", "name", "bytes", "initial", "final", "cycles", "exception", "hash"]
    assert r["name"] == "div al" and r["bytes"] == [0xF6, 0xF0, 0xF4]
    assert r["initial"]["regs"] == {"ax": 1, "bx": 2, "cx": 3, "dx": 4, "cs": 5, "ss": 6, "ds": 7,
                                    "es": 8, "sp": 9, "bp": 10, "si": 11, "di": 12, "ip": 13,
                                    "flags": 14}
    assert r["initial"]["ram"] == [[0x12345, 7], [9, 255]] and r["initial"]["queue"] == []
    assert r["final"] == {"regs": {"ax": 0xAAAA, "ip": 0x10}, "ram": [], "queue": []}
    assert r["cycles"] == [[3, 0xFFFFFF, 4, 0, 0x1234, "CODE", 13, "Ts"]]
    assert r["exception"] == {"number": 0, "flag_address": 0x4242}
    assert r["hash"] == bytes(range(20)).hex() and "exception" not in recs[0]
    assert len(moo.records(data, "286", limit=1)) == 1
    r86 = moo.records(data, "8086")[0]
    assert list(r86) == ["name", "bytes", "initial", "final", "cycles", "test_hash", "test_num"]
    assert r86["cycles"] == [[3, 0xFFFFFF, "--", "R--", "---", 0, 0x1234, "HALT", "T1", "-", 0]]
    with pytest.raises(moo.MooError, match="not a MOO file"):
        moo.records(b"JSON", "286")
