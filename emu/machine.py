"""The Machine: RAM, buses, devices, CPU state, an accelerator, and the run loop.

The run loop is the Python twin of QEMU's ``kvm_cpu_exec()``: ask the
accelerator to run, look at why it stopped, serve the exit on the right bus,
repeat.  It is the same loop for every engine; nothing above the Machine
knows which engine runs.

    while not stopped:
        exit = accel.run(budget)
        IO   -> port bus            MMIO -> MMIO bus
        HLT  -> wait for an interrupt, or stop if none can come
        SHUTDOWN / FAIL_ENTRY / INTERNAL_ERROR -> stop, explained
        DEBUG -> hand back to the debugger
        BUDGET -> instruction or time limit reached
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .accel.base import create_accel
from .devices.bus import Bus
from .exits import ExitStats, IoExit, MmioExit
from .memory import Ram

# Exit statuses of `emu run` besides the guest's own (isa-debug-exit).
STATUS_HALT = 0
STATUS_ERROR = 1
STATUS_GUEST_CRASH = 3      # triple fault, FAIL_ENTRY, INTERNAL_ERROR
STATUS_LIMIT = 124          # -icount-limit or time limit reached (as timeout(1))


@dataclass
class RunResult:
    reason: str                 # "halt", "debug-exit", "limit", "shutdown", "internal-error", "debug", ...
    status: int
    message: str = ""
    exit: object = None
    icount: int = 0
    seconds: float = 0.0
    stats: ExitStats = field(default_factory=ExitStats)


class Machine:
    def __init__(self, board: str = "pc", accel: str = "interp", cpu: str | None = None,
                 memory: int = 16 << 20, serial_input=None, serial_sink=None,
                 log=None, log_flags=(), one_insn_per_tb: bool = False):
        from .boards import get_board
        self.board = get_board(board)
        self.ram = Ram(memory)
        self.ports = Bus("port", 0x10000)
        self.mmio = Bus("mmio", 1 << 52)
        self.log = log
        self.log_flags = set(log_flags)
        self.stats = ExitStats()
        self.devices = {}
        self.accel_name = accel
        self.one_insn_per_tb = one_insn_per_tb      # read by the translator
        self.board.build(self, cpu=cpu, serial_input=serial_input, serial_sink=serial_sink)
        self.accel = create_accel(accel, self)
        self.board.attach(self)
        if log is not None and "int" in self.log_flags:
            self.accel.on_interrupt = self.trace_interrupt

    # -- images --------------------------------------------------------------------
    def load_image(self, data: bytes, name: str = "image") -> None:
        self.board.load(self, data, name)
        self.accel.flush_code_cache()
        self.accel.state_changed()

    # -- the run loop ----------------------------------------------------------------
    def run(self, icount_limit: int | None = None, time_limit: float | None = None) -> RunResult:
        accel = self.accel
        start_icount = accel.icount
        t0 = time.perf_counter()
        tracing = self.log is not None and bool(self.log_flags & {"in_asm", "cpu"}) \
            and accel.exact_icount and not accel.single_step
        if tracing:
            accel.set_single_step(True)
        try:
            return self._run_loop(icount_limit, time_limit, t0, start_icount, tracing)
        finally:
            if tracing:
                accel.set_single_step(False)

    def _run_loop(self, icount_limit, time_limit, t0, start_icount, tracing):
        accel = self.accel
        if tracing:
            self.trace_step()
        while True:
            budget = None
            if icount_limit is not None:
                budget = icount_limit - (accel.icount - start_icount)
                if budget <= 0:
                    return self._result("limit", STATUS_LIMIT,
                                        f"instruction limit reached ({icount_limit} instructions)", None, t0, start_icount)
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                return self._result("limit", STATUS_LIMIT, f"time limit reached ({time_limit} s)", None, t0, start_icount)
            ex = accel.run(budget if time_limit is None else min(budget or 1 << 20, 1 << 20))
            if not getattr(ex, "dispatched", False):
                self.dispatch_exit(ex)
            r = ex.reason
            if r == "IO" or r == "MMIO":
                stop = self._stop_requested()
                if stop is not None:
                    return self._result("debug-exit", stop.status, stop.reason, ex, t0, start_icount)
            elif r == "HLT":
                woke = self.board.wait_for_interrupt(self)
                if not woke:
                    return self._result("halt", STATUS_HALT, self.board.halt_message(self), ex, t0, start_icount)
            elif r == "BUDGET":
                continue
            elif r == "DEBUG":
                if tracing and ex.kind == "step":
                    self.trace_step()
                    continue
                return self._result("debug", STATUS_HALT, ex.describe(), ex, t0, start_icount)
            elif r in ("SHUTDOWN", "FAIL_ENTRY", "INTERNAL_ERROR"):
                return self._result(r.lower().replace("_", "-"), STATUS_GUEST_CRASH, ex.describe(), ex, t0, start_icount)
            elif r == "SYSTEM_EVENT":
                return self._result("system-event", ex.status, ex.describe(), ex, t0, start_icount)
            elif r == "IRQ_WINDOW_OPEN":
                self.board.inject_pending_interrupt(self)
            else:
                return self._result("unknown-exit", STATUS_GUEST_CRASH, f"unhandled exit {ex.describe()}", ex, t0, start_icount)

    def trace_step(self) -> None:
        """-d in_asm / -d cpu on an engine that steps: log the next instruction
        (and the CPU state before it), as QEMU logs each block."""
        self.accel.sync_state()
        from .isa.x86.disasm import format_insn
        s = self.cpu
        log = self.log
        if "cpu" in self.log_flags:
            log.write(s.format() + "\n")
        if "in_asm" in self.log_flags:
            lin = s.segs[1].base + s.rip
            try:
                from .isa.x86.decode import Decoder
                code = self.ram.read_bytes(lin, 16)
                dec = Decoder(self.model.name, 4 if s.segs[1].db else 2, s.mode == "long64")
                text = format_insn(dec.decode(lambda k: code[k], s.rip))
            except Exception as e:      # undecodable bytes are a guest event, not ours
                text = f"(undecodable: {e})"
            log.write(f"IN: 0x{lin:08x}:  {text}\n")

    def trace_interrupt(self, vector: int, return_ip: int, error_code) -> None:
        """-d int: every interrupt and exception the CPU delivers."""
        from .isa.x86.interrupts import EXC_NAMES
        name = EXC_NAMES.get(vector, "interrupt")
        code = "" if error_code is None else f" error code 0x{error_code:x}"
        self.log.write(f"int: vector 0x{vector:02x} ({name}){code}, return to 0x{return_ip:x}\n")

    def dispatch_exit(self, ex) -> None:
        """Count an exit and, for IO and MMIO, serve it on its bus (a read's
        value lands in ``ex.data``).

        The run loop calls this for every exit.  An engine whose I/O hooks
        are synchronous (unicorn) calls it from inside the hook instead, and
        hands the exit to the loop only when a device asked to stop, marked
        ``ex.dispatched = True`` so that it is not counted twice: every
        engine's exits are counted here, once."""
        self.stats.count(ex)
        if self.log is not None and "exits" in self.log_flags:
            self.log.write(f"exit: {ex.describe()}\n")
        r = ex.reason
        if r == "IO":
            if ex.is_write:
                self.ports.write(ex.port, ex.size, ex.data)
            else:
                ex.data = self.ports.read(ex.port, ex.size)
        elif r == "MMIO":
            if ex.is_write:
                self.mmio.write(ex.addr, ex.size, ex.data)
            else:
                ex.data = self.mmio.read(ex.addr, ex.size)

    def stop_pending(self) -> bool:
        """A device asked to end the run (the loop collects the request)."""
        return any(getattr(dev, "stop_request", None) is not None
                   for dev in self.devices.values())

    def _stop_requested(self):
        for dev in self.devices.values():
            req = getattr(dev, "stop_request", None)
            if req is not None:
                dev.stop_request = None
                return req
        return None

    def _result(self, reason, status, message, ex, t0, start_icount) -> RunResult:
        self.accel.sync_state()
        return RunResult(reason, status, message, ex, self.accel.icount - start_icount,
                         time.perf_counter() - t0, self.stats)

    # -- helpers for the debugger, tests and tools --------------------------------------
    def serial_output(self) -> bytes:
        """Everything the guest printed (UART and debug console), in order."""
        return bytes(self.serial_log)

    def close(self) -> None:
        self.accel.close()
