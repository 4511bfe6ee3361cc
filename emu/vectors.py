"""The single-instruction test vectors kasou is judged by: where they are kept
and how ``make vectors`` gets them.

The vectors are slices of the public SingleStepTests suites: 8086 v1 and
80286 v1 real mode, recorded from real chips, and ARM7TDMI v1 (ARM state),
recorded from an emulator.  They are not part of the
repository; ``emu/vectors.json`` pins them instead: for every file the tests
read, its sha256, the upstream file it is made from (path at a pinned
commit, git blob id and sha256) and how it is made from it:

* ``copy``  -- the upstream file unchanged (metadata.json, LICENSE);
* ``slice`` -- the first ``tests`` records of an upstream ``.json.gz``;
* ``moo``   -- the first ``tests`` records of an upstream MOO binary (the
  80286 suite is published only in that format, and one 8086 file only
  there), converted to the suite's JSON layout by ``emu.moo``;
* ``json-bin`` -- the first ``tests`` records of an upstream ARM7TDMI
  ``.json.bin`` (the only form upstream publishes), converted to the JSON
  layout its README documents.  kasou has no converter for it: these files
  are found in a local copy (or the cache), checked by their sha256, and
  never downloaded -- ``fetch`` says so in one line naming the file.

Sliced and converted files are ``json.dumps(records, separators=(',', ':'))``
compressed by gzip at level 9 with mtime 0, so the same upstream file always
makes the same bytes, and the sha256 recorded for the product judges the
conversion too.

The cache is ``$KASOU_VECTORS`` or ``<repo>/.vectors`` (git-ignored).  A
copy that already exists elsewhere -- ``<repo>/../shared/conformance``, the
workspace's checkout -- is used where it is, after every file's sha256 is
checked, so nothing is downloaded where it is present
(``$KASOU_VECTORS_COPIES`` names other copies, or none).  ``locate(suite)``
names the directory a suite's files are in, or raises ``VectorsMissing``,
one line that says to run ``make vectors``.  ``fetch()`` fills the cache:
a file already there or in a local copy is checked and kept (or copied),
any other is downloaded from the pinned commit, checked against its
upstream sha256 and git blob id, made, and checked against the product's
sha256 before it is written.  ``$KASOU_VECTORS_URL`` replaces the download
address (a template with ``{repo}``, ``{commit}`` and ``{path}``; a
``file://`` one serves a local mirror).
"""

import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LOCK = os.path.join(HERE, "vectors.json")
URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
ALIASES = {"80286": "286"}


class VectorsMissing(Exception):
    """The vectors are not where they are looked for and could not be made;
    the message is one line ending with what to run."""


def load_lock(path: str = LOCK) -> dict:
    with open(path) as f:
        return json.load(f)["suites"]


def suite_name(name: str, lock: dict) -> str:
    """``name`` or its alias as a key of ``lock``; ValueError names the choices."""
    key = ALIASES.get(name, name)
    if key not in lock:
        raise ValueError(f"{name}: not a vector suite (expected one of {', '.join(sorted(lock))})")
    return key


def vector_files(name: str, lock=None) -> list:
    """The vector file names (``XX.json.gz``) of suite ``name``, sorted, as
    pinned: the same list whether or not the files are present."""
    lock = load_lock() if lock is None else lock
    suite = lock[suite_name(name, lock)]
    prefix = suite["dir"] + "/"
    return sorted(rel[len(prefix):] for rel in suite["files"]
                  if rel.startswith(prefix) and rel.endswith(".json.gz"))


def cache_dir(env=None) -> str:
    env = os.environ if env is None else env
    return env.get("KASOU_VECTORS") or os.path.join(REPO, ".vectors")


def local_copies(env=None) -> list:
    """Copies kept outside the cache: ``$KASOU_VECTORS_COPIES`` (directories
    separated by os.pathsep; empty for none) or ``<repo>/../shared/conformance``."""
    env = os.environ if env is None else env
    if "KASOU_VECTORS_COPIES" in env:
        return [d for d in env["KASOU_VECTORS_COPIES"].split(os.pathsep) if d]
    return [os.path.join(os.path.dirname(REPO), "shared", "conformance")]


def default_roots(env=None) -> list:
    """Where a suite is looked for, in order: the cache, then the local copies."""
    roots = [cache_dir(env)] + local_copies(env)
    return list(dict.fromkeys(os.path.abspath(r) for r in roots))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _read(path: str):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def problem(root: str, suite: dict):
    """The first reason ``root`` does not hold ``suite`` exactly as pinned, or None."""
    for rel, pin in suite["files"].items():
        data = _read(os.path.join(root, rel))
        if data is None:
            return f"{rel} is missing"
        if sha256(data) != pin["sha256"]:
            return f"{rel} has sha256 {sha256(data)[:12]}..., expected {pin['sha256'][:12]}..."
    return None


def suite_cpu(arg: str, path: str, lock=None):
    """The CPU model the suite ``arg`` names (or the directory ``path``
    holds, as pinned) was recorded for, or None."""
    lock = load_lock() if lock is None else lock
    key = ALIASES.get(arg, arg)
    if key in lock:
        return lock[key]["cpu"]
    tail = os.path.normpath(os.path.abspath(path))
    for suite in lock.values():
        if tail.endswith(os.sep + os.path.normpath(suite["dir"])):
            return suite["cpu"]
    return None


def locate(name: str, roots=None, lock=None) -> str:
    """The directory holding suite ``name`` with every pinned file intact."""
    lock = load_lock() if lock is None else lock
    key = suite_name(name, lock)
    roots = default_roots() if roots is None else roots
    why = []
    for root in roots:
        reason = problem(root, lock[key])
        if reason is None:
            return os.path.join(root, lock[key]["dir"])
        why.append(f"{root}: {reason}")
    raise VectorsMissing(f"conformance vectors {lock[key]['dir']} not found ({'; '.join(why)}): "
                         f"run `make vectors`")


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()


def make(pin: dict, upstream: bytes, suite: str) -> bytes:
    """The file the tests read, made from the upstream file as ``pin`` says."""
    if pin["make"] == "copy":
        return upstream
    if pin["make"] == "slice":
        records = json.loads(gzip.decompress(upstream))[:pin["tests"]]
    elif pin["make"] == "moo":
        from . import moo
        records = moo.records(gzip.decompress(upstream), suite, limit=pin["tests"])
    else:
        raise ValueError(f"emu/vectors.json: unknown way to make a file: {pin['make']!r}")
    text = json.dumps(records, separators=(",", ":")).encode()
    return gzip.compress(text, compresslevel=9, mtime=0)


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


#: how a file can be made from its upstream file here (``json-bin`` cannot)
MAKERS = ("copy", "slice", "moo")


def _fetch_one(key: str, suite: dict, rel: str, pin: dict, opener, url: str) -> bytes:
    if pin["make"] not in MAKERS:
        raise VectorsMissing(f"{rel} is in no local copy and cannot be made here: upstream "
                             f"({suite['repo']}) publishes it only as {pin['from']}, a binary "
                             f"kasou does not convert; put the converted suite {suite['dir']} "
                             f"in the cache or a local copy ($KASOU_VECTORS_COPIES)")
    address = url.format(repo=suite["repo"], commit=suite["commit"], path=pin["from"])
    try:
        upstream = opener(address)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e.strerror or e
        raise VectorsMissing(f"cannot fetch {address}: {reason} (needed for {rel}); "
                             f"no local copy either: run `make vectors` where it can download") from None
    want = pin.get("from_sha256", pin["sha256"])
    if sha256(upstream) != want or git_blob_id(upstream) != pin["blob"]:
        raise VectorsMissing(f"{address}: sha256 {sha256(upstream)[:12]}..., expected {want[:12]}... "
                             f"(blob {pin['blob'][:12]}...): not the pinned file; nothing written")
    data = make(pin, upstream, key)
    if sha256(data) != pin["sha256"]:
        raise VectorsMissing(f"{rel}: made from {address} with sha256 {sha256(data)[:12]}..., "
                             f"expected {pin['sha256'][:12]}...; nothing written")
    return data


def fetch(names=None, cache=None, local=None, opener=download, url=None, lock=None, log=print) -> str:
    """Make every file of the suites ``names`` (default: all) available,
    checked against its sha256; returns the cache directory.  A suite that a
    local copy holds intact is left there; otherwise each file is kept from
    the cache, copied from a local copy or downloaded."""
    lock = load_lock() if lock is None else lock
    cache = os.path.abspath(cache or cache_dir())
    local = [os.path.abspath(r) for r in local_copies()] if local is None else local
    url = url or os.environ.get("KASOU_VECTORS_URL") or URL
    for key in [suite_name(n, lock) for n in (names or lock)]:
        suite = lock[key]
        where = next((r for r in [cache] + local if problem(r, suite) is None), None)
        if where is not None:
            log(f"{suite['dir']}: {len(suite['files'])} files verified in {where}")
            continue
        counts = {"kept": 0, "copied": 0, "downloaded": 0}
        for rel, pin in suite["files"].items():
            dst = os.path.join(cache, rel)
            data = _read(dst)
            if data is not None and sha256(data) == pin["sha256"]:
                counts["kept"] += 1
                continue
            src = next((os.path.join(r, rel) for r in local
                        if sha256(_read(os.path.join(r, rel)) or b"") == pin["sha256"]), None)
            if src is not None:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
                counts["copied"] += 1
                continue
            _write(dst, _fetch_one(key, suite, rel, pin, opener, url))
            counts["downloaded"] += 1
        log(f"{suite['dir']}: {len(suite['files'])} files verified in {cache} "
            f"({', '.join(f'{n} {k}' for k, n in counts.items())})")
    return cache


def main(argv=None) -> int:
    """Fetch (or find and check) the pinned conformance vectors."""
    p = argparse.ArgumentParser(prog="python -m emu.vectors", description=main.__doc__)
    p.add_argument("suites", nargs="*", help="suite names (default: all): 8086, 286, arm7tdmi")
    p.add_argument("--where", action="store_true",
                   help="only print each suite's directory; fetch nothing")
    a = p.parse_args(argv)
    try:
        if a.where:
            lock = load_lock()
            for n in a.suites or lock:
                print(locate(n, lock=lock))
        else:
            fetch(a.suites)
    except (VectorsMissing, ValueError) as e:
        print(f"emu.vectors: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
