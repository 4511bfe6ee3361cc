"""Arm semihosting (emu/devices/semihosting.py) against "Semihosting for
AArch32 and AArch64" v2.0, chapter 5: parameter blocks in guest RAM,
results as the specification defines them (bytes *not* transferred,
-1 and SYS_ERRNO on failure), the console only, and the exits."""

import pytest

from emu.devices import semihosting as S
from emu.devices.device import ManualClock
from emu.memory import Ram

BASE = 0x40000000
BLOCK, NAME, BUF = BASE + 0x1000, BASE + 0x2000, BASE + 0x3000


def make(source=None, size=1 << 20):
    ram = Ram(size, BASE)
    clock = ManualClock()
    out = bytearray()
    return S.Semihosting(ram, clock.now_ns, sink=out, source=source), ram, clock, out


def words(ram, addr, *values):
    ram.load(addr, b"".join((v & 0xFFFFFFFF).to_bytes(4, "little") for v in values))


def word(ram, addr):
    return int.from_bytes(ram.read_bytes(addr, 4), "little")


def open_(sh, ram, name: bytes, mode: int) -> int:
    ram.load(NAME, name + b"\0")
    words(ram, BLOCK, NAME, mode, len(name))
    return sh.call(S.SYS_OPEN, BLOCK)


def test_console_characters_and_strings():
    sh, ram, _, out = make()
    ram.load(BUF, b"Hi\0junk")
    assert sh.call(S.SYS_WRITEC, BUF) == 0
    assert sh.call(S.SYS_WRITE0, BUF) == 0
    assert out == b"HHi"


def test_open_tt_by_mode_write_read_and_close():
    sh, ram, _, out = make(source=b"abc")
    hin, hout, herr = (open_(sh, ram, b":tt", m) for m in (0, 4, 8))
    assert len({hin, hout, herr}) == 3 and all(0 < h < 0x80000000 for h in (hin, hout, herr))
    ram.load(BUF, b"hello")
    words(ram, BLOCK, hout, BUF, 5)
    assert sh.call(S.SYS_WRITE, BLOCK) == 0           # 0 bytes not written
    words(ram, BLOCK, herr, BUF, 2)
    assert sh.call(S.SYS_WRITE, BLOCK) == 0
    assert out == b"hellohe"
    # a read asking 8 gets the 3 there are: 5 not read
    words(ram, BLOCK, hin, BUF, 8)
    assert sh.call(S.SYS_READ, BLOCK) == 5
    assert ram.read_bytes(BUF, 3) == b"abc"
    assert sh.call(S.SYS_READ, BLOCK) == 8            # end of input: nothing read
    words(ram, BLOCK, hin)
    assert sh.call(S.SYS_ISTTY, BLOCK) == 1
    assert sh.call(S.SYS_CLOSE, BLOCK) == 0
    assert sh.call(S.SYS_CLOSE, BLOCK) == S.FAIL and sh.call(S.SYS_ERRNO, 0) == S.EBADF
    words(ram, BLOCK, hin, BUF, 1)
    assert sh.call(S.SYS_READ, BLOCK) == S.FAIL       # closed


def test_host_files_are_refused():
    sh, ram, _, _ = make()
    assert open_(sh, ram, b"/etc/passwd", 0) == S.FAIL
    assert sh.call(S.SYS_ERRNO, 0) == S.ENOENT
    for op in (S.SYS_REMOVE, S.SYS_RENAME, S.SYS_SYSTEM, S.SYS_TMPNAM):
        assert sh.call(op, BLOCK) == S.FAIL


def test_the_features_file_says_exit_extended_and_stdout_stderr():
    sh, ram, _, _ = make()
    h = open_(sh, ram, b":semihosting-features", 0)
    words(ram, BLOCK, h)
    assert sh.call(S.SYS_FLEN, BLOCK) == 5
    assert sh.call(S.SYS_ISTTY, BLOCK) == 0
    words(ram, BLOCK, h, 4)
    assert sh.call(S.SYS_SEEK, BLOCK) == 0
    words(ram, BLOCK, h, BUF, 4)
    assert sh.call(S.SYS_READ, BLOCK) == 3            # one byte left of the 4 asked
    assert ram.read_bytes(BUF, 1)[0] == S.SH_EXT_EXIT_EXTENDED | S.SH_EXT_STDOUT_STDERR
    assert open_(sh, ram, b":semihosting-features", 4) == S.FAIL   # read-only


def test_the_console_cannot_seek():
    sh, ram, _, _ = make()
    h = open_(sh, ram, b":tt", 0)
    words(ram, BLOCK, h, 0)
    assert sh.call(S.SYS_SEEK, BLOCK) == S.FAIL and sh.call(S.SYS_ERRNO, 0) == S.ESPIPE


def test_readc_takes_one_byte_then_reports_the_end():
    sh, _, _, _ = make(source=b"x")
    assert sh.call(S.SYS_READC, 0) == ord("x")
    assert sh.call(S.SYS_READC, 0) == S.FAIL


def test_clock_in_centiseconds_of_guest_time_and_iserror():
    sh, ram, clock, _ = make()
    clock.advance(1_234_000_000)                       # 1.234 s
    assert sh.call(S.SYS_CLOCK, 0) == 123
    assert sh.call(S.SYS_TICKFREQ, 0) == 1_000_000_000
    assert sh.call(S.SYS_ELAPSED, BLOCK) == 0 and word(ram, BLOCK) == 1_234_000_000
    words(ram, BLOCK, -5)
    assert sh.call(S.SYS_ISERROR, BLOCK) == 1
    words(ram, BLOCK, 7)
    assert sh.call(S.SYS_ISERROR, BLOCK) == 0
    assert sh.call(S.SYS_TIME, 0) > 1_600_000_000     # seconds since 1970, host clock


def test_heapinfo_is_the_larger_free_part_of_ram():
    sh, ram, _, _ = make(size=1 << 20)
    sh.set_image(BASE + 0x10000, BASE + 0x18000)
    words(ram, BLOCK, BUF)                             # r1 -> a word -> the 4-word block
    assert sh.call(S.SYS_HEAPINFO, BLOCK) == 0
    top = BASE + (1 << 20)
    assert [word(ram, BUF + 4 * i) for i in range(4)] == [BASE + 0x18000, top, top, BASE + 0x18000]


def test_cmdline_fits_or_fails_with_e2big():
    sh, ram, _, _ = make()
    sh.cmdline = b"prog arg"
    words(ram, BLOCK, BUF, 64)
    assert sh.call(S.SYS_GET_CMDLINE, BLOCK) == 0
    assert ram.read_bytes(BUF, 9) == b"prog arg\0" and word(ram, BLOCK + 4) == 8
    words(ram, BLOCK, BUF, 4)
    assert sh.call(S.SYS_GET_CMDLINE, BLOCK) == S.FAIL and sh.call(S.SYS_ERRNO, 0) == S.E2BIG


def test_a_block_outside_ram_fails_with_efault():
    sh, ram, _, out = make()
    assert sh.call(S.SYS_WRITE, 0x1000) == S.FAIL and sh.call(S.SYS_ERRNO, 0) == S.EFAULT
    ram.load(BASE + (1 << 20) - 300, b"x" * 300)
    assert sh.call(S.SYS_WRITE0, BASE + (1 << 20) - 1) == S.FAIL   # runs off the end unterminated
    assert out == b""


def test_an_unknown_operation_fails_and_is_counted():
    sh, _, _, _ = make()
    assert sh.call(0x77, 0) == S.FAIL and sh.unsupported == 1


@pytest.mark.parametrize("reason, status", [(S.ADP_STOPPED_APPLICATION_EXIT, 0), (0x20023, 1)])
def test_sys_exit_takes_the_reason_in_r1(reason, status):
    sh, _, _, _ = make()
    sh.call(S.SYS_EXIT, reason)
    assert sh.take_stop_request().status == status


@pytest.mark.parametrize("reason, sub, status", [(S.ADP_STOPPED_APPLICATION_EXIT, 42, 42),
                                                 (S.ADP_STOPPED_APPLICATION_EXIT, 0, 0),
                                                 (0x20023, 42, 1)])
def test_sys_exit_extended_carries_the_status(reason, sub, status):
    sh, ram, _, _ = make()
    words(ram, BLOCK, reason, sub)
    sh.call(S.SYS_EXIT_EXTENDED, BLOCK)
    assert sh.take_stop_request().status == status
