"""The same QMP session against kasou and against real QEMU
(qemu-system-x86_64, which ``make deps`` installs): every reply, event and
error must have the same shape -- the same keys holding the same JSON types
-- and the errors the same class and text."""

import asyncio
import os
import re
import shutil
import subprocess

from qemu.qmp import ExecuteError, QMPClient


from .helpers import LOOP, finish, guest, start, wait_listening

# the monitor tests' loop, then what it never reaches, for x /i: an
# instruction longer than 8 bytes (QEMU puts the rest on a line of its
# own), one-byte ones, ud0, ud2, bytes that start no instruction (0f a6, fe 38)
DISASM = LOOP + bytes.fromhex("66c706000678563412" "90c3d60fff0f0b" "0fa6fe38")


def shape(v):
    """The JSON type tree of ``v``: keys and types, not values."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


async def script(sock, tmp_path, tag):
    """A session that a QEMU user would run; what came back, in order."""
    q = QMPClient(tag)
    await q.connect(sock)
    got = {"greeting": {"version": dict(q.greeting.QMP.version),
                        "capabilities": list(q.greeting.QMP.capabilities)}}

    async def run(name, args=None, key=None):
        try:
            got[key or name] = await q.execute(name, args or {})
        except ExecuteError as e:
            got[key or name] = {"error": {"class": e.error_class, "desc": e.error.error.desc}}

    for name in ("query-version", "query-status", "query-kvm", "query-name", "query-target",
                 "query-cpus-fast"):
        await run(name)
    got["query-machines"] = [m for m in await q.execute("query-machines") if m.get("is-default")]
    await run("pmemsave", {"val": 0, "size": 16, "filename": str(tmp_path / f"{tag}.pmem")})
    await run("memsave", {"val": 0, "size": 16, "filename": str(tmp_path / f"{tag}.mem")})
    await run("memsave", {"val": 0, "size": 16, "filename": "f", "cpu-index": 3}, "bad-cpu")
    await run("pmemsave", {"val": 0, "size": 1, "filename": "/no/such/dir/f"}, "bad-file")
    await run("pmemsave", {"val": 0}, "missing")
    await run("pmemsave", {"val": "0", "size": 1, "filename": "f"}, "wrong-type")
    await run("query-status", {"x": 1}, "unexpected")
    await run("no-such-command", None, "unknown")
    await run("qmp_capabilities", None, "again")
    for line in ("info status", "info kvm", "xp /4xb 0x200000", "xp /3dh 0x200000",
                 "xp /3uw 0x200000", "xp /2cb 0x200000", "xp /3xg 0x200000", "xp /20xb 0x200000",
                 "p/x 5", "p/d -1", "p/u -1", "p/o 8", "p/c 65", "bogus", "info bogus",
                 "x /5xz 0", "x", "p $foo", "xp /3i 0x200000", "x /19i 0x7c00"):
        got[f"hmp {line}"] = await q.execute("human-monitor-command", {"command-line": line})
    regs = await q.execute("human-monitor-command", {"command-line": "info registers"})
    got["info registers"] = regs
    await run("cont")
    got["RESUME"] = await asyncio.wait_for(q.events.get(), 60)
    await run("stop", None, "stop")
    got["STOP"] = await asyncio.wait_for(q.events.get(), 60)
    await run("system_reset")
    got["RESET"] = await asyncio.wait_for(q.events.get(), 60)
    await run("quit")
    got["SHUTDOWN"] = await asyncio.wait_for(q.events.get(), 60)
    try:
        await q.disconnect()
    except EOFError:
        pass
    return got


def test_replies_have_qemus_shapes(tmp_path):
    qemu = shutil.which("qemu-system-x86_64")
    assert qemu, "qemu-system-x86_64 not found (make deps installs qemu-system-x86)"
    qsock = str(tmp_path / "qemu.sock")
    # the same code at 0x7c00 in both (QEMU's generic loader puts it there
    # at reset; the BIOS does not run under -S), for x /i
    code = guest(tmp_path, DISASM, "disasm.bin")
    real = subprocess.Popen([qemu, "-M", "pc", "-nodefaults", "-display", "none", "-S",
                             "-device", f"loader,file={code},addr=0x7c00",
                             "-qmp", f"unix:{qsock},server=on,wait=off"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ksock = str(tmp_path / "kasou.sock")
    ours = start(tmp_path, "-S", "-qmp", f"unix:{ksock},server=on,wait=off", code=DISASM,
                 ready=ksock)
    try:
        wait_listening(real, qsock)
        want = asyncio.run(script(qsock, tmp_path, "qemu"))
        got = asyncio.run(script(ksock, tmp_path, "kasou"))
    except BaseException:
        real.kill()
        real.communicate()
        raise
    assert finish(real)[0] == 0 and finish(ours)[0] == 0
    assert set(got) == set(want)
    # kasou offers no capability ('oob' is QEMU's only one): an empty list
    assert set(got["greeting"].pop("capabilities")) <= set(want["greeting"].pop("capabilities"))
    for m in want["query-machines"]:
        m.pop("alias", None)        # optional (QAPI '*alias'): kasou's 'pc' is no alias
    wrong = []
    for key in want:
        if key.startswith("hmp ") or key in ("bad-cpu", "missing", "wrong-type", "unexpected",
                                             "unknown", "again"):
            # the same text: HMP output (the machine's state is the same
            # here: RAM at 2 MiB is zero on both) and every error
            if key == "hmp info kvm":
                continue            # QEMU runs TCG here, kasou's -accel tcg too: both say
            if got[key] != want[key]:
                wrong.append((key, got[key], want[key]))
        elif key == "info registers":
            # line by line, the same registers in the same places (values differ:
            # QEMU is at the BIOS's reset vector, kasou at the board's 0x7C00)
            def labels(text):
                return [re.sub(r"[0-9a-f]{4,}", "N", line) for line in text.split("\r\n")]
            if labels(got[key]) != labels(want[key]):
                wrong.append((key, got[key], want[key]))
        elif key == "bad-file":
            assert got[key] == {"error": {"class": "GenericError",
                                          "desc": "Could not open '/no/such/dir/f': "
                                                  "No such file or directory"}} == want[key]
        elif shape(got[key]) != shape(want[key]):
            wrong.append((key, got[key], want[key]))
    assert not wrong, "\n".join(f"{k}: kasou {g!r}, QEMU {w!r}" for k, g, w in wrong)
    assert got["hmp info kvm"] == want["hmp info kvm"] == \
        ("kvm support: disabled\r\n" if os.path.exists("/dev/kvm") else "kvm support: not compiled\r\n")
    for ev in ("RESUME", "STOP", "RESET", "SHUTDOWN"):
        assert got[ev]["event"] == want[ev]["event"] == ev
        assert got[ev].get("data") == want[ev].get("data")
