"""HMP, QEMU's human monitor (QEMU ``hmp-commands.hx``,
``hmp-commands-info.hx``), with its output formats: ``info registers`` as
QEMU's ``x86_cpu_dump_state`` (general, segment, descriptor-table, control
and debug registers; the FPU/SSE lines are not modelled), ``x``/``xp`` as
its ``memory_dump`` (``/NFU``: count, format x d u o c, unit b h w g; a line
holds 8 bytes of unit b, 16 otherwise; addresses in 16 hex digits, as
qemu-system-x86_64), ``print`` with ``$register`` expressions.

``x`` reads *virtual* (linear) memory, through the guest's page tables;
``xp`` reads physical memory.
"""

from __future__ import annotations

import ast
import re
import threading

from .qmp import QmpError, Quit, _cont, _query_kvm, _stop, version_info

HELP = """\
c|cont -- resume emulation
help|? [cmd] -- show the help
info [subcommand] -- show various information about the system state
print|p /fmt expr -- print expression value (use $reg for CPU register access)
quit|q -- quit the emulator
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


# -- info registers ----------------------------------------------------------------------------
def _seg_flags(sg) -> int:
    """QEMU's SegmentCache.flags: the descriptor's high dword, bits 8-23."""
    return ((sg.type & 15) << 8 | sg.s << 12 | (sg.dpl & 3) << 13 | sg.present << 15
            | sg.avl << 20 | sg.l << 21 | sg.db << 22 | sg.g << 23)


def _seg_line(name, sg, wide, pe, lma) -> str:
    if wide:
        text = f"{name:<3}={sg.selector:04x} {sg.base:016x} {sg.limit:08x} {_seg_flags(sg):08x}"
    else:
        text = f"{name:<3}={sg.selector:04x} {sg.base & 0xFFFFFFFF:08x} {sg.limit:08x} {_seg_flags(sg):08x}"
    if not pe or not sg.present:
        return text
    text += f" DPL={sg.dpl} "
    t = sg.type
    if sg.s:
        if t & 8:
            text += "CS64" if sg.l else ("CS32" if sg.db else "CS16")
            text += f" [{'C' if t & 4 else '-'}{'R' if t & 2 else '-'}"
        else:
            text += "DS  " if (sg.db or lma) else "DS16"
            text += f" [{'E' if t & 4 else '-'}{'W' if t & 2 else '-'}"
        text += f"{'A' if t & 1 else '-'}]"
    else:
        names = {2: "LDT", 1: "TSS16-avl", 3: "TSS16-busy",
                 9: "TSS64-avl" if lma else "TSS32-avl", 11: "TSS64-busy" if lma else "TSS32-busy"}
        text += names.get(t, "Reserved")
    return text


def format_registers(s) -> str:
    """``info registers``: QEMU's x86_cpu_dump_state without the FPU lines."""
    from ..isa.x86.state import EFER_LMA
    lma = bool(s.efer & EFER_LMA)
    wide = lma and bool(s.segs[1].l)
    pe = bool(s.cr0 & 1)
    fl = s.rflags
    flag_text = "".join(c if fl & bit else "-" for c, bit in
                        (("D", 0x400), ("O", 0x800), ("S", 0x80), ("Z", 0x40),
                         ("A", 0x10), ("P", 0x4), ("C", 0x1)))
    tail = f"CPL={s.cpl} II={int(bool(s.inhibit_irq))} A20=1 SMM=0 HLT={int(bool(s.halted))}"
    r = s.regs
    lines = []
    if wide:
        names = ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP",
                 "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15")
        order = (0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15)
        for k in range(0, 16, 4):
            lines.append(" ".join(f"{names[i]:<3}={r[order[i]]:016x}" for i in range(k, k + 4)))
        lines.append(f"RIP={s.rip:016x} RFL={fl:08x} [{flag_text}] {tail}")
    else:
        lines.append(f"EAX={r[0] & 0xFFFFFFFF:08x} EBX={r[3] & 0xFFFFFFFF:08x} "
                     f"ECX={r[1] & 0xFFFFFFFF:08x} EDX={r[2] & 0xFFFFFFFF:08x}")
        lines.append(f"ESI={r[6] & 0xFFFFFFFF:08x} EDI={r[7] & 0xFFFFFFFF:08x} "
                     f"EBP={r[5] & 0xFFFFFFFF:08x} ESP={r[4] & 0xFFFFFFFF:08x}")
        lines.append(f"EIP={s.rip & 0xFFFFFFFF:08x} EFL={fl:08x} [{flag_text}] {tail}")
    for name, i in (("ES", 0), ("CS", 1), ("SS", 2), ("DS", 3), ("FS", 4), ("GS", 5)):
        lines.append(_seg_line(name, s.segs[i], wide, pe, lma))
    lines.append(_seg_line("LDT", s.ldt, wide, pe, lma))
    lines.append(_seg_line("TR", s.tr, wide, pe, lma))
    if wide:
        lines.append(f"GDT=     {s.gdt_base:016x} {s.gdt_limit:08x}")
        lines.append(f"IDT=     {s.idt_base:016x} {s.idt_limit:08x}")
        lines.append(f"CR0={s.cr0:08x} CR2={s.cr2:016x} CR3={s.cr3:016x} CR4={s.cr4:08x}")
    else:
        lines.append(f"GDT=     {s.gdt_base & 0xFFFFFFFF:08x} {s.gdt_limit:08x}")
        lines.append(f"IDT=     {s.idt_base & 0xFFFFFFFF:08x} {s.idt_limit:08x}")
        lines.append(f"CR0={s.cr0:08x} CR2={s.cr2 & 0xFFFFFFFF:08x} "
                     f"CR3={s.cr3 & 0xFFFFFFFF:08x} CR4={s.cr4:08x}")
    # qemu-system-x86_64 prints the debug registers at 64 bits in every mode
    lines.append(" ".join(f"DR{i}={s.dr[i]:016x}" for i in range(4)) + " ")
    lines.append(f"DR6={s.dr[6]:016x} DR7={s.dr[7]:016x}")
    lines.append(f"EFER={s.efer:016x}")
    return "\nCPU#0\n" + "\n".join(lines) + "\n"


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
    if form == "i":
        raise HmpError("format 'i' (disassembly) is not supported here; use emu debug's x/i",
                       usage=False)
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
        elif rest.startswith("/"):
            fmt, _, rest = rest[1:].partition(" ")
            rest = rest.strip()
        handler = {"help": self.help, "?": self.help, "info": self.info, "x": self.x, "xp": self.xp,
                   "p": self.print_, "print": self.print_, "stop": self.stop, "c": self.cont,
                   "cont": self.cont, "system_reset": self.system_reset,
                   "system_powerdown": self.system_powerdown,
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
            return mon.call(lambda: format_registers(self._cpu()))
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
