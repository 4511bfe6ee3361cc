"""A gdb remote-protocol stub: ``emu run GUEST -gdb tcp::1234 -S``, as QEMU's.

Protocol (GDB manual, "Remote Protocol"; reference notes §4): packets are
``$data#cc`` with cc the sum of the data bytes mod 256, acknowledged by
``+``/``-`` until gdb asks for no-ack mode (``QStartNoAckMode``); binary
data escapes ``# $ } *`` as ``}`` + (byte ^ 0x20); a raw 0x03 interrupts a
running target; anything unknown gets the empty reply.

Served: qSupported (PacketSize, QStartNoAckMode, qXfer:features:read,
ReverseStep, ReverseContinue, hwbreak), the target description
(``org.gnu.gdb.i386.core`` registers with ``<architecture>i8086`` for real
mode -- gdb then disassembles 16-bit code -- and ``i386`` otherwise), ``?``,
``g``/``G``/``p``/``P`` (the i386 core layout: eax ecx edx ebx esp ebp esi
edi eip eflags cs ss ds es fs gs, then st0-7 and the x87 control words,
which read as zero), ``m``/``M`` at *linear* addresses, ``c``/``s``/
``vCont``, ``Z0``/``Z1`` breakpoints, ``Z2``/``Z3``/``Z4`` watchpoints
(by single-stepping and comparing, see :mod:`emu.debug.session`), ``bc``/
``bs`` reverse execution, ``k``, ``D``, ``qAttached``, ``qC``,
``qfThreadInfo``/``qsThreadInfo``, ``H``, and ``qRcmd`` (``monitor
info exits``, ``monitor info serial``).

The stub listens on 127.0.0.1 only and serves one gdb at a time.  When the
guest ends (isa-debug-exit, HLT with interrupts off) gdb hears ``W``;
a crash (triple fault) is reported as ``X`` with SIGSEGV's number.
"""

from __future__ import annotations

import socket

from ..isa.x86.state import CS
from .session import DebugError, Session

PACKET_SIZE = 0x4000
SIGTRAP, SIGINT, SIGSEGV = 5, 2, 11
CORE_REGS = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
             "cs", "ss", "ds", "es", "fs", "gs")
FPU_REGS = tuple(f"st{i}" for i in range(8)) + ("fctrl", "fstat", "ftag", "fiseg", "fioff",
                                                  "foseg", "fooff", "fop")


def target_xml(arch: str) -> str:
    """The i386 core feature (reference §4.3) for ``arch`` i8086 or i386."""
    regs = []
    n = 0
    for name in CORE_REGS:
        typ = {"esp": "data_ptr", "ebp": "data_ptr", "eip": "code_ptr", "eflags": "i386_eflags"}.get(name, "int32")
        regs.append(f'<reg name="{name}" bitsize="32" type="{typ}" regnum="{n}"/>')
        n += 1
    for i in range(8):
        regs.append(f'<reg name="st{i}" bitsize="80" type="i387_ext" regnum="{n}"/>')
        n += 1
    for name in FPU_REGS[8:]:
        regs.append(f'<reg name="{name}" bitsize="32" type="int" group="float" regnum="{n}"/>')
        n += 1
    flags = "".join(f'<field name="{f}" start="{b}" end="{b}"/>' for f, b in (
        ("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9),
        ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17), ("AC", 18), ("VIF", 19),
        ("VIP", 20), ("ID", 21)))
    return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
            f'<target version="1.0"><architecture>{arch}</architecture>'
            '<feature name="org.gnu.gdb.i386.core">'
            f'<flags id="i386_eflags" size="4">{flags}</flags>'
            + "".join(regs) + "</feature></target>")


REG_SIZES = [4] * 16 + [10] * 8 + [4] * 8


def checksum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


def escape(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            out.append(next(it) ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


class Disconnected(Exception):
    pass


class GdbStub:
    """One Machine served to one gdb at a time over TCP on 127.0.0.1."""

    def __init__(self, machine, image=None, port: int = 1234, session: Session | None = None):
        self.session = session or Session(machine, image)
        self.machine = machine
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.conn = None
        self.ack = True
        self.buf = bytearray()
        self.xml = None
        self.last_stop = b"S05"
        self.result = None            # exit status once the guest has ended
        self.offered = set()

    # -- transport --------------------------------------------------------------------
    def _recv(self) -> bytes:
        data = self.conn.recv(4096)
        if not data:
            raise Disconnected()
        return data

    def read_packet(self) -> bytes | None:
        """The next packet's payload (None for a bare Ctrl-C)."""
        while True:
            while b"$" not in self.buf:
                if b"\x03" in self.buf:
                    self.buf.clear()
                    return None
                self.buf.clear()
                self.buf += self._recv()
            start = self.buf.index(b"$")
            if b"\x03" in self.buf[:start]:
                del self.buf[:start]
                return None
            while True:
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    break
                self.buf += self._recv()
            data = bytes(self.buf[start + 1:end])
            cc = bytes(self.buf[end + 1:end + 3])
            del self.buf[:end + 3]
            if self.ack:
                if checksum(data) != cc.lower():
                    self.conn.sendall(b"-")
                    continue
                self.conn.sendall(b"+")
            return data

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        pkt = b"$" + data + b"#" + checksum(data)
        while True:
            self.conn.sendall(pkt)
            if not self.ack:
                return
            c = self._recv_ack()
            if c == b"+":
                return

    def _recv_ack(self) -> bytes:
        while True:
            if not self.buf:
                self.buf += self._recv()
            c = bytes(self.buf[:1])
            del self.buf[:1]
            if c in (b"+", b"-"):
                return c

    def _interrupt_pending(self) -> bool:
        """A Ctrl-C (0x03) from gdb while the guest runs."""
        self.conn.setblocking(False)
        try:
            data = self.conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return False
        finally:
            self.conn.setblocking(True)
        if not data:
            raise Disconnected()
        if b"\x03" in data:
            return True
        self.buf += data
        return False

    # -- serving ----------------------------------------------------------------------------
    def serve(self, freeze: bool = True) -> int:
        """Wait for gdb and serve it until it detaches or kills; returns the
        guest's exit status (for ``emu run``)."""
        if not freeze:
            # QEMU without -S: the guest runs; gdb connecting stops it (as
            # its Ctrl-C would).  A guest that ends first ends the run.
            import select
            self.session.interrupt_requested = \
                lambda: bool(select.select([self.listener], [], [], 0)[0])
            st = self.session.cont()
            self.session.interrupt_requested = None
            if st.reason != "interrupted":
                self.stop_reply(st)
                return self.result if self.result is not None else 0
            self.last_stop = f"T{SIGINT:02x}thread:01;".encode()
        self.conn, _ = self.listener.accept()
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.session.interrupt_requested = self._interrupt_pending
        try:
            while True:
                pkt = self.read_packet()
                if pkt is None:
                    self.send(self.last_stop)
                    continue
                reply = self.handle(pkt)
                if reply is Ellipsis:         # k / D: done
                    break
                if reply is not None:
                    self.send(reply)
        except (Disconnected, ConnectionError, OSError):
            pass
        finally:
            self.session.interrupt_requested = None
        return self.result if self.result is not None else 0

    def close(self) -> None:
        for s in (self.conn, self.listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self.session.close()

    # -- packets ------------------------------------------------------------------------------------
    def handle(self, pkt: bytes):
        p = pkt.decode("latin-1")
        try:
            if p.startswith("qSupported"):
                self.offered = set(p.split(":", 1)[-1].split(";"))
                return (f"PacketSize={PACKET_SIZE:x};QStartNoAckMode+;qXfer:features:read+;"
                        "ReverseStep+;ReverseContinue+;hwbreak+;vContSupported+")
            if p == "QStartNoAckMode":
                self.send("OK")
                self.ack = False
                return None
            if p.startswith("qXfer:features:read:"):
                return self.xfer(p)
            if p == "?":
                return self.last_stop
            if p in ("qAttached",) or p.startswith("qAttached:"):
                return "1"
            if p == "qC":
                return "QC01"
            if p == "qfThreadInfo":
                return "m01"
            if p == "qsThreadInfo":
                return "l"
            if p.startswith("H"):
                return "OK"
            if p == "vCont?":
                return "vCont;c;C;s;S"
            if p.startswith("vCont;"):
                return self.vcont(p)
            if p.startswith("vKill"):
                return ""
            if p == "g":
                return self.read_all()
            if p.startswith("G"):
                return self.write_all(p[1:])
            if p.startswith("p"):
                return self.read_reg(int(p[1:], 16))
            if p.startswith("P"):
                n, val = p[1:].split("=")
                return self.write_reg(int(n, 16), val)
            if p.startswith("m"):
                addr, n = (int(x, 16) for x in p[1:].split(","))
                try:
                    return self.session.read_memory(addr, n).hex()
                except DebugError:
                    return "E14"
            if p.startswith("M"):
                head, data = p[1:].split(":", 1)
                addr, n = (int(x, 16) for x in head.split(","))
                try:
                    self.session.write_memory(addr, bytes.fromhex(data)[:n])
                except DebugError:
                    return "E14"
                return "OK"
            if p.startswith("X"):
                head, _, _ = pkt[1:].partition(b":")
                data = unescape(pkt[1 + len(head) + 1:])
                addr, n = (int(x, 16) for x in head.decode().split(","))
                if n:
                    try:
                        self.session.write_memory(addr, data[:n])
                    except DebugError:
                        return "E14"
                return "OK"
            if p.startswith(("Z", "z")):
                return self.point(p)
            if p.startswith("c"):
                return self.resume("c")
            if p.startswith("s"):
                return self.resume("s")
            if p == "bc":
                return self.resume("bc")
            if p == "bs":
                return self.resume("bs")
            if p.startswith("qRcmd,"):
                return self.monitor(bytes.fromhex(p[6:]).decode("latin-1"))
            if p == "k":
                return Ellipsis
            if p.startswith("D"):
                self.send("OK")
                return Ellipsis
        except (ValueError, IndexError):
            return "E01"
        return ""

    def xfer(self, p: str) -> str:
        annex, span = p[len("qXfer:features:read:"):].split(":")
        if annex != "target.xml":
            return "E00"
        off, length = (int(x, 16) for x in span.split(","))
        if self.xml is None or off == 0:
            arch = "i8086" if self.session.cpu.mode == "real" else "i386"
            self.xml = target_xml(arch).encode()
        chunk = self.xml[off:off + length]
        return (b"m" if off + length < len(self.xml) else b"l") + escape(chunk)

    # -- registers ------------------------------------------------------------------------------------
    def _reg_value(self, n: int) -> int:
        s = self.session.cpu
        if n < 8:
            return s.regs[n] & 0xFFFFFFFF
        if n == 8:
            return s.rip & 0xFFFFFFFF
        if n == 9:
            return s.rflags & 0xFFFFFFFF
        if n < 16:
            seg = (CS, 2, 3, 0, 4, 5)[n - 10]
            return s.segs[seg].selector
        return 0

    def read_reg(self, n: int) -> str:
        if n >= len(REG_SIZES):
            return "E45"
        return self._reg_value(n).to_bytes(REG_SIZES[n], "little").hex()

    def read_all(self) -> str:
        return "".join(self.read_reg(n) for n in range(len(REG_SIZES)))

    def write_reg(self, n: int, hexval: str) -> str:
        if n >= len(REG_SIZES):
            return "E45"
        if n >= 16:
            return "OK"                  # no FPU state: writes are ignored
        v = int.from_bytes(bytes.fromhex(hexval)[:4], "little")
        name = CORE_REGS[n]
        cur = self._reg_value(n)
        if cur == v:
            return "OK"
        try:
            self.session.set_register(name, v)
        except DebugError:
            return "E01"
        return "OK"

    def write_all(self, hexdata: str) -> str:
        data = bytes.fromhex(hexdata)
        off = 0
        for n in range(16):
            if off + 4 > len(data):
                break
            r = self.write_reg(n, data[off:off + 4].hex())
            if r != "OK":
                return r
            off += 4
        return "OK"

    # -- breakpoints and watchpoints -----------------------------------------------------------------
    def point(self, p: str) -> str:
        insert = p[0] == "Z"
        kind, addr, length = p[1:].split(",")[:3]
        addr = int(addr, 16)
        length = int(length.split(";")[0], 16)
        s = self.session
        if kind in ("0", "1"):
            if insert:
                if not s.machine.ram.contains(addr):
                    return "E22"
                if addr not in s._bp_addrs():
                    s.add_breakpoint(addr)
            else:
                s.remove_breakpoint_at(addr)
            return "OK"
        if kind in ("2", "3", "4"):
            wkind = {"2": "write", "3": "read", "4": "access"}[kind]
            if insert:
                try:
                    s.add_watchpoint(wkind, addr, length)
                except DebugError:
                    return "E22"
            else:
                s.remove_watchpoint_at(wkind, addr, length)
            return "OK"
        return ""

    # -- running -----------------------------------------------------------------------------------------
    def vcont(self, p: str) -> str:
        actions = p[len("vCont;"):].split(";")
        first = actions[0].split(":")[0]
        if first in ("s", "S"):
            return self.resume("s")
        if first in ("c", "C"):
            return self.resume("c")
        return ""

    def resume(self, how: str) -> str:
        s = self.session
        try:
            if how == "s":
                st = s.step(1)
            elif how == "c":
                st = s.cont()
            elif how == "bs":
                st = s.reverse_step(1)
            else:
                st = s.reverse_continue()
        except DebugError:
            # the guest has ended: say so again
            return self.last_stop
        self.last_stop = self.stop_reply(st).encode()
        return self.last_stop

    def stop_reply(self, st) -> str:
        if st.reason == "exited":
            self.result = st.status
            return f"W{st.status & 0xFF:02x}"
        if st.reason == "halted":
            self.result = 0
            return "W00"
        if st.reason == "crashed":
            self.result = 3
            return f"X{SIGSEGV:02x}"
        if st.reason == "interrupted":
            return f"T{SIGINT:02x}thread:01;"
        if st.reason == "history-start":
            return f"T{SIGTRAP:02x}replaylog:begin;thread:01;"
        if st.reason == "watchpoint" and st.watch is not None:
            kind, addr = st.watch
            key = {"write": "watch", "read": "rwatch", "access": "awatch"}[kind]
            return f"T{SIGTRAP:02x}{key}:{addr:x};thread:01;"
        if st.reason == "breakpoint" and "hwbreak+" in self.offered:
            return f"T{SIGTRAP:02x}hwbreak:;thread:01;"
        return f"T{SIGTRAP:02x}thread:01;"

    def monitor(self, command: str) -> str:
        words = command.split()
        m = self.machine
        if words[:2] == ["info", "exits"]:
            text = f"exits: {m.stats.summary()}\n"
        elif words[:2] == ["info", "serial"]:
            text = repr(m.serial_output().decode("latin-1")) + "\n"
        elif words[:2] == ["info", "registers"]:
            text = m.cpu.format() + "\n"
        else:
            text = "monitor commands: info exits, info serial, info registers\n"
        self.send(b"O" + text.encode().hex().encode())
        return "OK"
