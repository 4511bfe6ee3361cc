"""HMP savevm / loadvm: the guest goes on from a loaded snapshot exactly as
from the save point, on every engine; bad files are one error line."""

import subprocess
import sys

import pytest

from .helpers import ACCELS, REPO, RawQmp, finish, start

# The guest of the savevm/loadvm test advances only when the test types a
# byte, so the test decides where it stands, on every engine, however fast:
# each byte is added to a running sum kept in RAM (at 0x600), which the
# guest prints; CX counts the bytes; 'q' ends it (cli; hlt).
#   7c00 ba fd 03        mov dx, 0x3fd       <- again
#   7c03 ec              in al, dx           <- poll (LSR)
#   7c04 a8 01           test al, 1          (DR: a byte has come)
#   7c06 74 fb           jz poll
#   7c08 ba f8 03        mov dx, 0x3f8
#   7c0b ec              in al, dx           (RBR)
#   7c0c 3c 71           cmp al, 'q'
#   7c0e 74 0b           je done
#   7c10 02 06 00 06     add al, [0x600]
#   7c14 a2 00 06        mov [0x600], al
#   7c17 ee              out dx, al
#   7c18 41              inc cx
#   7c19 eb e5           jmp again
#   7c1b fa f4           cli; hlt            <- done
SUMS = bytes.fromhex("bafd03eca80174fbbaf803ec3c71740b02060006a20006ee41ebe5faf4")
# the older guest of the bad-file test: it prints '0'..'z' on its own
#   7c00 ba f8 03 / c6 06 00 06 30 / 31 c9 / 41 / 81 f9 00 40 / 75 f9 / a0 00 06 / ee
#   fe 06 00 06 / 80 3e 00 06 7b / 75 e8 / fa f4
COUNTS = bytes.fromhex("baf803c606000630" "31c9" "41" "81f90040" "75f9" "a00006" "ee"
                       "fe060006" "803e00067b" "75e8" "faf4")


def sums(data: bytes, start: int = 0) -> bytes:
    """What SUMS prints for the bytes ``data`` typed from running sum ``start``."""
    out = bytearray()
    for ch in data:
        start = (start + ch) & 0xFF
        out.append(start)
    return bytes(out)


def hmp(q, line):
    r = q.cmd('{"execute": "human-monitor-command", "arguments": {"command-line": "%s"}}' % line)
    return r["return"]


def typed(proc, data: bytes) -> bytes:
    """Type ``data`` on the guest's COM1 (stdin) and read what it prints back."""
    proc.stdin.write(data)
    proc.stdin.flush()
    return proc.stdout.read(len(data))


@pytest.mark.parametrize("accel", ACCELS)
def test_loadvm_goes_on_exactly_as_from_savevm(tmp_path, accel):
    sock = str(tmp_path / "qmp.sock")
    vm = str(tmp_path / "vm.snap")
    proc = start(tmp_path, "-serial", "stdio", "-qmp", f"unix:{sock},server=on,wait=off",
                 code=SUMS, accel=accel, ready=sock, stdin=subprocess.PIPE)
    q = RawQmp(sock)
    q.cmd('{"execute": "qmp_capabilities"}')
    assert typed(proc, b"AB") == sums(b"AB")
    assert hmp(q, "stop") == ""
    assert hmp(q, f"savevm {vm}") == ""
    saved = hmp(q, "info registers")
    assert hmp(q, "c") == ""
    assert typed(proc, b"CD") == sums(b"CD", sum(b"AB"))       # RAM, CX, the output change
    assert hmp(q, "stop") == ""
    assert hmp(q, "info registers") != saved
    assert hmp(q, f"loadvm {vm}") == ""
    assert hmp(q, "info registers") == saved
    assert hmp(q, "c") == ""
    # on from the save point: the sum is that of "AB" again, and the serial
    # input rewinds with the guest (docs/monitor.md): it reads "CD" again
    assert proc.stdout.read(2) == sums(b"CD", sum(b"AB"))
    assert typed(proc, b"EF") == sums(b"EF", sum(b"ABCD"))
    proc.stdin.write(b"q")
    proc.stdin.flush()
    assert proc.wait(60) == 0           # 'q': cli; hlt
    assert (proc.stdout.read(), proc.stderr.read()) == (b"", b"")
    q.close()


def test_bad_snapshot_files_are_one_error_line(tmp_path):
    sock = str(tmp_path / "qmp.sock")
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", "-S", code=COUNTS, ready=sock)
    q = RawQmp(sock)
    q.cmd('{"execute": "qmp_capabilities"}')
    missing = tmp_path / "none.snap"
    assert hmp(q, f"loadvm {missing}") == f"Error: Could not open '{missing}': No such file or directory\r\n"
    junk = tmp_path / "junk.snap"
    junk.write_bytes(b"hello")
    assert hmp(q, f"loadvm {junk}") == f"Error: '{junk}' is not a kasou snapshot (savevm FILE writes one)\r\n"
    # a snapshot whose pickle names something else than plain data is refused, not run
    evil = tmp_path / "evil.snap"
    evil.write_bytes(b"KASOUVM\x01" + b"cos\nsystem\n(S'touch " + str(tmp_path / "ran").encode()
                     + b"'\ntR.")
    reply = hmp(q, f"loadvm {evil}")
    assert reply.startswith(f"Error: '{evil}' is a damaged kasou snapshot (os.system is not part"), reply
    assert not (tmp_path / "ran").exists()
    cut = tmp_path / "cut.snap"
    assert hmp(q, f"savevm {cut}") == ""
    cut.write_bytes(cut.read_bytes()[:200])
    assert hmp(q, f"loadvm {cut}").startswith(f"Error: '{cut}' is a damaged kasou snapshot")
    assert hmp(q, f"savevm {tmp_path}/no/such/dir") == (
        f"Error: Could not open '{tmp_path}/no/such/dir': No such file or directory\r\n")
    assert hmp(q, "loadvm") == ("missing file name (savevm FILE, loadvm FILE)\r\n"
                                'Try "help loadvm" for more information\r\n')
    # the guest is as it was: prelaunch, at its first instruction
    assert "EIP=00007c00" in hmp(q, "info registers")
    assert q.cmd('{"execute": "quit"}') == {"return": {}}
    assert finish(proc)[0] == 0
    q.close()
