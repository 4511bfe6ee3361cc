"""HMP savevm / loadvm: the guest goes on from a loaded snapshot exactly as
from the save point, on every engine; bad files are one error line."""

import subprocess
import sys
import time

import pytest

from .helpers import ACCELS, REPO, RawQmp, finish, start

# prints '0'..'z', one character every 0x4000 turns of a spin loop, with the
# next character kept in RAM (at 0x600), then ends (cli; hlt):
#   7c00 ba f8 03          mov dx, 0x3f8
#   7c03 c6 06 00 06 30    mov byte [0x600], '0'
#   7c08 31 c9             xor cx, cx            <- next
#   7c0a 41                inc cx                <- spin
#   7c0b 81 f9 00 40       cmp cx, 0x4000
#   7c0f 75 f9             jnz spin
#   7c11 a0 00 06          mov al, [0x600]
#   7c14 ee                out dx, al
#   7c15 fe 06 00 06       inc byte [0x600]
#   7c19 80 3e 00 06 7b    cmp byte [0x600], '{'
#   7c1e 75 e8             jnz next
#   7c20 fa f4             cli; hlt
COUNTS = bytes.fromhex("baf803c606000630" "31c9" "41" "81f90040" "75f9" "a00006" "ee"
                       "fe060006" "803e00067b" "75e8" "faf4")
EXPECTED = bytes(range(ord("0"), ord("z") + 1))
LIMIT = "50000000"      # far beyond the guest's 75 * 0x4000 * 3 instructions


def undisturbed(tmp_path, accel):
    g = tmp_path / "plain.bin"
    g.write_bytes(COUNTS)
    r = subprocess.run([sys.executable, "-m", "emu", "run", "-accel", accel,
                        "-icount-limit", LIMIT, str(g)], capture_output=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def hmp(q, line):
    r = q.cmd('{"execute": "human-monitor-command", "arguments": {"command-line": "%s"}}' % line)
    return r["return"]


def wait_output(path, n):
    end = time.monotonic() + 120
    while time.monotonic() < end:
        if path.exists() and len(path.read_bytes()) >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"the guest never printed {n} characters")


@pytest.mark.parametrize("accel", ACCELS)
def test_loadvm_goes_on_exactly_as_from_savevm(tmp_path, accel):
    assert undisturbed(tmp_path, accel) == EXPECTED
    sock = str(tmp_path / "qmp.sock")
    serial = tmp_path / "serial.out"
    vm = str(tmp_path / "vm.snap")
    proc = start(tmp_path, "-qmp", f"unix:{sock},server=on,wait=off", "-icount-limit", LIMIT,
                 code=COUNTS, accel=accel, ready=sock)
    q = RawQmp(sock)
    q.cmd('{"execute": "qmp_capabilities"}')
    wait_output(serial, 3)
    assert hmp(q, "stop") == ""
    assert hmp(q, f"savevm {vm}") == ""
    saved = serial.read_bytes()
    assert hmp(q, "c") == ""
    wait_output(serial, len(saved) + 4)     # the guest changes its RAM, registers, output
    assert hmp(q, "stop") == ""
    changed = serial.read_bytes()
    assert hmp(q, f"loadvm {vm}") == ""
    assert hmp(q, "c") == ""
    code, _, err = finish(proc)
    assert code == 0, err
    out = serial.read_bytes()
    # as the undisturbed run from the save point on
    assert out[len(changed):] == EXPECTED[len(saved):]
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
