"""HMP, QEMU's human monitor (QEMU ``hmp-commands.hx``,
``hmp-commands-info.hx``), with its output formats: ``info registers`` as
QEMU's ``cpu_dump_state`` of the board's Target
(:meth:`emu.isa.target.Target.dump_registers`; on x86 with the x87/SSE
lines at their reset values), ``x``/``xp`` as its ``memory_dump``
(``/NFU``: count, format x d u o c, unit b h w g; a line holds 8 bytes of
unit b, 16 otherwise; addresses in 16 hex digits, as qemu-system-x86_64)
and, for format ``i``, its ``monitor_disas`` (:func:`disassembly`),
``print`` with ``$register`` expressions, ``gdbserver`` (:mod:`.gdb`),
``savevm`` and ``loadvm`` (:mod:`.snapshot`).

``x`` reads *virtual* (linear) memory, through the guest's page tables;
``xp`` reads physical memory.
"""

from __future__ import annotations

import ast
import re
import threading

from . import snapshot
from .chardev import ChardevError, parse_gdb_device
from .qmp import QmpError, Quit, _cont, _query_kvm, _stop, version_info

HELP = """\
c|cont -- resume emulation
gdbserver [device] -- start gdbserver on given device (default 'tcp::1234'), stop with 'none'
help|? [cmd] -- show the help
info [subcommand] -- show various information about the system state
loadvm file -- restore the whole machine from a file 'savevm' wrote
print|p /fmt expr -- print expression value (use $reg for CPU register access)
quit|q -- quit the emulator
savevm file -- save the whole machine (CPU, RAM, devices) to a file
stop -- stop emulation
system_powerdown -- send system power down event
system_reset -- reset the system
x /fmt addr -- virtual memory dump starting at 'addr'
xp /fmt addr -- physical memory dump starting at 'addr'
"""

INFO_HELP = """\
info cpus  -- show infos for each CPU
info exits  -- show VM exits by reason (kasou)
info kvm  -- show KVM information
info mtree  -- show memory tree
info qtree  -- show device tree
info registers  -- show the cpu registers
info status  -- show the current VM status (running|paused)
info tb  -- show the translator's statistics (kasou, -accel tcg)
info version  -- show the version of QEMU
"""


class HmpError(Exception):
    """A command's complaint, printed as the command's output; ``usage``:
    the command line was malformed (QEMU adds where to read more)."""

    def __init__(self, message: str, usage: bool = True):
        super().__init__(message)
        self.usage = usage


# -- x / xp -------------------------------------------------------------------------------------
_UNITS = {"b": 1, "h": 2, "w": 4, "g": 8}


def parse_format(fmt: str):
    """``/NFU`` (any order after the count, as QEMU): (count, format, unit)."""
    count, i = 1, 0
    digits = ""
    while i < len(fmt) and fmt[i].isdigit():
        digits += fmt[i]
        i += 1
    if digits:
        count = int(digits)
    form, unit = "x", None
    for c in fmt[i:]:
        if c in "xduoci":
            form = c
        elif c in _UNITS:
            unit = _UNITS[c]
        else:
            raise HmpError(f"invalid char in format: '{c}'")
    if form == "c":
        unit = 1
    return count, form, unit or 4


def printc(v: int) -> str:
    """A character as QEMU's monitor_printc shows it: quoted, escaped."""
    c = chr(v & 0xFF)
    text = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\r": "\\r"}.get(c)
    if text is None:
        text = c if 32 <= (v & 0xFF) < 127 else f"\\x{v & 0xFF:02x}"
    return f"'{text}'"


def memory_dump(read, addr: int, count: int, form: str, unit: int) -> str:
    line_size = 8 if unit == 1 else 16
    digits = {"x": unit * 2, "o": (unit * 8 + 2) // 3, "u": (unit * 80 + 32) // 33,
              "d": (unit * 80 + 32) // 33, "c": 1}[form]
    total = count * unit
    data = read(addr, total)
    out = []
    pos = 0
    while pos < total:
        n = min(line_size, total - pos)
        parts = [f"{addr + pos:016x}:"]
        for k in range(pos, pos + n, unit):
            v = int.from_bytes(data[k:k + unit], "little")
            if form == "x":
                parts.append(f" 0x{v:0{digits}x}")
            elif form == "o":
                parts.append(f" {'0' + format(v, 'o') if v else '0':>{digits}}")
            elif form == "u":
                parts.append(f" {v:>{digits}}")
            elif form == "d":
                if v >= 1 << (8 * unit - 1):
                    v -= 1 << (8 * unit)
                parts.append(f" {v:>{digits}}")
            else:
                parts.append(" " + printc(v))
        out.append("".join(parts))
        pos += n
    return "\n".join(out) + "\n"


def disassembly(read, addr: int, count: int, machine) -> str:
    """``x /Ni``: N instructions from ``addr`` in the CPU's current mode, as
    QEMU's ``monitor_disas`` prints them: the address, up to 8 bytes in 24
    columns (the rest on lines of their own), the instruction."""
    target, cpu, model = machine.target, machine.cpu, machine.model
    out = []
    for _ in range(count):
        code = b""
        for n in (16, 8, 4, 2, 1):        # near the end of RAM or of a mapping: fewer
            try:
                code = read(addr, n)
                break
            except HmpError:
                if n == 1:
                    raise
        length, text = target.disassemble_at(code, addr, cpu, model)
        raw = code[:length]
        out.append(f"0x{addr:08x}:  {raw[:8].hex(' '):<24} {text}")
        for k in range(8, length, 8):
            out.append(f"0x{addr + k:08x}:  {raw[k:k + 8].hex(' ')}")
        addr += length
    return "\n".join(out) + "\n"


# -- expressions ---------------------------------------------------------------------------------
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.FloorDiv: lambda a, b: a // b, ast.Div: lambda a, b: a // b,
        ast.BitAnd: lambda a, b: a & b, ast.BitOr: lambda a, b: a | b,
        ast.BitXor: lambda a, b: a ^ b, ast.Mod: lambda a, b: a % b,
        ast.LShift: lambda a, b: a << b, ast.RShift: lambda a, b: a >> b}


def evaluate(expr: str, cpu, machine) -> int:
    """QEMU's monitor expressions: numbers (0x.. hex, decimal), ``$reg``
    (any register of ``machine``'s architecture, in the state ``cpu()``),
    + - * / % & | ^ << >> and parentheses."""
    from ..debug.session import DebugError, register_value
    regs = {}

    def reg(m):
        name = m.group(1)
        try:
            regs[f"r_{name}"] = register_value(machine, cpu(), name)
        except DebugError:
            raise HmpError("unknown register") from None
        return f"r_{name}"
    text = re.sub(r"\$(\w+)", reg, expr.strip())
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise HmpError("invalid expression") from None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in regs:
            return regs[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and b == 0:
                raise HmpError("division by zero")
            return _OPS[type(node.op)](a, b)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Invert, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else (~v if isinstance(node.op, ast.Invert) else v)
        raise HmpError("invalid expression")
    return ev(tree)


# -- the commands ---------------------------------------------------------------------------------
class Hmp:
    """HMP commands against one Monitor; :meth:`execute` returns the text."""

    def __init__(self, mon):
        self.mon = mon

    @property
    def machine(self):
        return self.mon.machine

    def _cpu(self):
        m = self.machine
        m.accel.sync_state()
        return m.cpu

    def execute(self, line: str) -> str:
        words = line.split()
        if not words:
            return ""
        cmd, rest = words[0], line.strip()[len(words[0]):].strip()
        fmt = ""
        if "/" in cmd:                       # x/4xb
            cmd, _, fmt = cmd.partition("/")
        elif rest.startswith("/") and cmd in ("x", "xp", "p", "print"):
            fmt, _, rest = rest[1:].partition(" ")
            rest = rest.strip()
        handler = {"help": self.help, "?": self.help, "info": self.info, "x": self.x, "xp": self.xp,
                   "p": self.print_, "print": self.print_, "stop": self.stop, "c": self.cont,
                   "cont": self.cont, "system_reset": self.system_reset,
                   "system_powerdown": self.system_powerdown, "gdbserver": self.gdbserver,
                   "savevm": self.savevm, "loadvm": self.loadvm,
                   "q": self.quit, "quit": self.quit}.get(cmd)
        if handler is None:
            return f"unknown command: '{cmd}'\n"
        try:
            return handler(fmt, rest)
        except HmpError as e:
            return f"{e}\n" + (f'Try "help {cmd}" for more information\n' if e.usage else "")

    def help(self, fmt, rest):
        return INFO_HELP if rest == "info" else HELP

    def info(self, fmt, rest):
        mon = self.mon
        what = rest.split()[0] if rest else ""
        if what == "status":
            st = mon.state
            text = {"running": "running", "paused": "paused"}.get(st, f"paused ({st})")
            return f"VM status: {text}\n"
        if what == "registers":
            return mon.call(lambda: self.machine.target.dump_registers(self._cpu()))
        if what == "cpus":
            return f"* CPU #0: thread_id={threading.main_thread().native_id}\n"
        if what == "kvm":
            k = _query_kvm(self, {})
            return "kvm support: " + (("enabled" if k["enabled"] else "disabled")
                                      if k["present"] else "not compiled") + "\n"
        if what == "version":
            v = version_info()
            q = v["qemu"]
            return f"{q['major']}.{q['minor']}.{q['micro']}{v['package']}\n"
        if what == "exits":
            return mon.call(lambda: "".join(line + "\n" for line in self.machine.stats.summary_lines()))
        if what == "tb":
            return mon.call(self._tb)
        if what == "mtree":
            return mon.call(self._mtree)
        if what == "qtree":
            return self._qtree()
        if not what:
            return INFO_HELP
        return f"unknown command: 'info {what}'\n"

    def _tb(self):
        accel = self.machine.accel
        if accel.name != "tcg":
            raise HmpError(f"info tb: the {accel.name} engine has no translation blocks "
                           "(use -accel tcg)", usage=False)
        return "".join(f"{k:<24} {v:.3f}\n" if isinstance(v, float) else f"{k:<24} {v}\n"
                       for k, v in accel.stats().items())

    def _names(self) -> dict:
        return {id(d): n for n, d in self.machine.devices.items()}

    def _mtree(self):
        m = self.machine
        names = self._names()
        out = ["address-space: memory",
               "  0000000000000000-ffffffffffffffff (prio 0, i/o): system",
               f"    {m.ram.base:016x}-{m.ram.base + m.ram.size - 1:016x} (prio 0, ram): pc.ram"]
        for base, size, dev in sorted(m.mmio.devices(), key=lambda t: t[0]):
            out.append(f"    {base:016x}-{base + size - 1:016x} (prio 0, i/o): "
                       f"{names.get(id(dev), type(dev).__name__)}")
        out += ["", "address-space: I/O",
                "  0000000000000000-000000000000ffff (prio 0, i/o): io"]
        for base, size, dev in sorted(m.ports.devices(), key=lambda t: t[0]):
            out.append(f"    {base:016x}-{base + size - 1:016x} (prio 0, i/o): "
                       f"{names.get(id(dev), type(dev).__name__)}")
        return "\n".join(out) + "\n\n"

    def _qtree(self):
        out = ["bus: main-system-bus", "  type System"]
        for name, dev in self.machine.devices.items():
            out.append(f"  dev: {type(dev).__name__}, id \"{name}\"")
        return "\n".join(out) + "\n"

    def _dump(self, fmt, rest, virtual: bool):
        from ..debug.session import DebugError, physical_runs
        count, form, unit = parse_format(fmt)
        if not rest:
            raise HmpError("unexpected end of expression")

        def run():
            m = self.machine
            addr = evaluate(rest, self._cpu, self.machine)

            def read(a, n):
                try:
                    runs = physical_runs(m, m.cpu, a, n) if virtual else [(a, n)]
                except DebugError as e:
                    raise HmpError(str(e), usage=False) from None
                if not virtual and not m.ram.contains(a, n):
                    raise HmpError(f"cannot access memory at 0x{a:x} (RAM is 0x{m.ram.base:x}-"
                                   f"0x{m.ram.base + m.ram.size - 1:x})", usage=False)
                return b"".join(m.ram.read_bytes(p, k) for p, k in runs)
            if form == "i":
                return disassembly(read, addr, count, m)
            return memory_dump(read, addr, count, form, unit)
        return self.mon.call(run)

    def x(self, fmt, rest):
        return self._dump(fmt, rest, virtual=True)

    def xp(self, fmt, rest):
        return self._dump(fmt, rest, virtual=False)

    def print_(self, fmt, rest):
        count, form, unit = parse_format(fmt) if fmt else (1, "x", 8)
        if not rest:
            raise HmpError("unexpected end of expression")
        v = self.mon.call(lambda: evaluate(rest, self._cpu, self.machine)) & (2 ** 64 - 1)
        if form == "x":
            return (f"{v:#x}" if v else "0") + "\n"
        if form == "o":
            return (f"0{v:o}" if v else "0") + "\n"
        if form == "c":
            return printc(v) + "\n"
        if form == "d" and v >> 63:
            v -= 2 ** 64
        return f"{v}\n"

    def stop(self, fmt, rest):
        _stop(self, {})
        return ""

    def cont(self, fmt, rest):
        try:
            _cont(self, {})
        except QmpError as e:
            return f"{e.desc}\n"
        return ""

    def system_reset(self, fmt, rest):
        self.mon.call(self.mon.system_reset)
        return ""

    def system_powerdown(self, fmt, rest):
        self.mon.emit("POWERDOWN")
        return ""

    def gdbserver(self, fmt, rest):
        """QEMU's ``gdbserver [DEVICE]``: serve gdb from now on (or stop, ``none``)."""
        device = rest or "tcp::1234"
        failed = f"Could not open gdbserver on device '{device}'\n"
        try:
            port = parse_gdb_device("gdbserver", device, none_ok=True)
        except ChardevError as e:
            return f"{e}\n{failed}"
        mon = self.mon
        if mon.debugger is not None:
            return ("gdbserver: emu debug's own debugger drives this guest "
                    f"(serve gdb with emu run -gdb)\n{failed}")
        if port is None:
            mon.call(mon.stop_gdbserver)
            return "Disabled gdbserver\n"
        try:
            mon.call(lambda: mon.start_gdbserver(port))
        except OSError as e:
            return f"cannot listen on 127.0.0.1:{port}: {e.strerror or e}\n{failed}"
        return f"Waiting for gdb connection on device '{device}'\n"

    def savevm(self, fmt, rest):
        return self._snapshot(rest, snapshot.save)

    def loadvm(self, fmt, rest):
        return self._snapshot(rest, self.mon.loadvm)

    def _snapshot(self, path, fn):
        """savevm / loadvm FILE: between runs of the guest (it goes on after)."""
        if not path:
            raise HmpError("missing file name (savevm FILE, loadvm FILE)")
        try:
            self.mon.call(lambda: fn(self.machine, path))
        except snapshot.SnapshotError as e:
            return f"Error: {e}\n"
        return ""

    def quit(self, fmt, rest):
        self.mon.call(self.mon.quit)
        return ""


class HmpConnection:
    """One HMP client (a socket or stdio): a line in, its output and a prompt out."""

    PROMPT = "(qemu) "

    def __init__(self, mon, stream):
        self.mon = mon
        self.stream = stream
        self.hmp = Hmp(mon)

    def write(self, text: str) -> bool:
        return self.stream.write(text.replace("\n", "\r\n").encode())

    def serve(self) -> None:
        q = version_info()["qemu"]
        self.write(f"QEMU {q['major']}.{q['minor']}.{q['micro']} monitor - "
                   f"type 'help' for more information\n{self.PROMPT}")
        buf = b""
        try:
            while not self.mon.closed.is_set():
                data = self.stream.read()
                if not data:
                    return
                buf += data
                if len(buf) > 1 << 16 and b"\n" not in buf:
                    buf = b""
                    self.write(f"line too long\n{self.PROMPT}")
                    continue
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    self.mon.command_started()
                    try:
                        out = self.hmp.execute(line.decode("utf-8", "replace").strip())
                        if not self.write(out + self.PROMPT):
                            return
                    finally:
                        self.mon.command_done()
        except Quit:
            return
        finally:
            self.stream.close()
