"""The interpreter loop over a Core that is not x86 (emu.isa.core).

A toy architecture, written here against the Core contract only, runs on the
unchanged :class:`emu.accel.interp.Interpreter`: one-byte instructions at
addresses ``fetch_base + pc``, a fault vector table of one entry, an
interrupt enable bit and a halt.  What the loop must do with it -- count,
deliver faults at the faulting instruction, take an interrupt only when the
core accepts it, wake from a halt, shut down on an undeliverable fault, mark
exit sources, stop at breakpoints -- is checked against the toy's own rules.
"""

from types import SimpleNamespace

from emu.accel.interp import Interpreter
from emu.exits import IoExit
from emu.isa.core import Core, CpuShutdown
from emu.isa.ops import GuestException

INC, JMP0, FAULT, HALT, OUT, SHUT, NOP = 1, 2, 3, 4, 5, 6, 7
ENABLE = 0x1       # status: interrupts enabled
TRACE = 0x2        # status: trace trap
HANDLER = 0x80     # where faults and interrupts go


class ToyState:
    __slots__ = ("pc", "status", "acc", "halted", "log")

    def __init__(self):
        self.pc = 0
        self.status = 0
        self.acc = 0
        self.halted = False
        self.log = []


class ListToyState(ToyState):
    """A toy whose PC is an element of a register list (as A32's r[15]):
    ``pc`` is a property over it that counts its uses."""
    __slots__ = ("regs", "pc_uses")

    def __init__(self):
        self.regs = [0, 0]
        self.pc_uses = 0
        super().__init__()

    @property
    def pc(self):
        self.pc_uses += 1
        return self.regs[1]

    @pc.setter
    def pc(self, v):
        self.pc_uses += 1
        self.regs[1] = v


class ToyInsn:
    repeats = False

    def __init__(self, op, ip):
        self.op = op
        self.ip = ip
        self.next_ip = ip + 1
        self.handler = self.run = SEMANTICS[op]


def _inc(ops, insn):
    ops.s.acc += 1


def _jmp0(ops, insn):
    ops.s.pc = 0


def _fault(ops, insn):
    raise GuestException(5)


def _halt(ops, insn):
    ops.s.halted = True


def _out(ops, insn):
    ops.pending_exits.append(IoExit(0x10, 1, True, ops.s.acc))


def _shut(ops, insn):
    raise GuestException(99)


SEMANTICS = {INC: _inc, JMP0: _jmp0, FAULT: _fault, HALT: _halt, OUT: _out, SHUT: _shut,
             NOP: lambda ops, insn: None}


class ToyOps:
    def __init__(self, s):
        self.s = s
        self.insn = None
        self.pending_exits = []
        self.pending_read = None
        self.io_replay = []
        self.io_pos = 0
        self.trace_int = None


class ToyCore(Core):
    trace_mask = TRACE

    def __init__(self, machine, code):
        super().__init__(machine)
        self.ops = ToyOps(self.s)
        self.code = code
        self.fetch_base = 0x1000
        self.boundaries = 0
        if isinstance(self.s, ListToyState):
            self.pc_slot = (self.s.regs, 1)

    def decode_at(self, addr, pc):
        if not 0 <= addr - self.fetch_base < len(self.code):
            raise GuestException(7)         # fetch outside the program
        insn = self.cache[addr] = ToyInsn(self.code[addr - self.fetch_base], pc)
        return insn

    def state_changed(self):
        pass

    def flush(self):
        self.cache.clear()

    def invalidate_page(self, page):
        self.cache.clear()

    def deliver_fault(self, exc, insn):
        if exc.vector == 99:
            raise CpuShutdown("toy: undeliverable")
        self.s.log.append(("fault", exc.vector, self.s.pc))
        self.s.pc = HANDLER

    def interrupts_enabled(self):
        return bool(self.s.status & ENABLE)

    def deliver_interrupt(self, vector):
        self.s.log.append(("irq", vector, self.s.pc))
        self.s.status &= ~ENABLE
        self.s.pc = HANDLER

    def boundary_served(self):
        self.boundaries += 1

    def stays_halted(self, irq_line):
        s = self.s
        if s.halted and irq_line and s.status & ENABLE:
            s.halted = False
        return s.halted

    def run_ended(self):
        pass

    def mark_source(self, exits, addr):
        for ex in exits:
            ex.pc = addr
            ex.cs = None


class ToyTarget:
    def __init__(self, code):
        self.code = code

    def core(self, machine):
        return ToyCore(machine, self.code)


def toy(code, exit_pcs=False, state=ToyState):
    program = bytes(code) + bytes(HANDLER - len(code)) + bytes([NOP] * 8)
    machine = SimpleNamespace(cpu=state(), target=ToyTarget(program), exit_pcs=exit_pcs)
    return Interpreter(machine)


def test_the_loop_runs_a_core_that_is_not_x86():
    it = toy([INC, INC, JMP0])
    ex = it.run(30)
    assert ex.reason == "BUDGET"
    assert it.icount == 30
    assert it.core.s.acc == 20              # two INC in every three instructions
    assert it.core.s.pc == 0


def test_a_fault_is_delivered_at_the_faulting_instruction():
    it = toy([INC, FAULT])
    it.run(3)
    s = it.core.s
    assert s.log == [("fault", 5, 1)]       # the PC was put back on the FAULT
    assert s.pc == HANDLER + 1               # the handler's first instruction ran


def test_a_fetch_fault_is_delivered_and_counted():
    it = toy([JMP0])
    it.core.s.pc = 0x400                     # outside the program
    it.run(1)
    assert it.core.s.log == [("fault", 7, 0x400)]
    assert it.icount == 1


def test_an_interrupt_waits_until_the_core_accepts_it():
    it = toy([INC, INC, INC, INC])
    acks = []
    it.irq_ack = lambda: acks.append(it.icount_now()) or 0x21
    it.irq_line = True
    it.run(2)
    assert acks == [] and it.core.s.acc == 2           # interrupts disabled
    assert it.core.boundaries == 2                     # the line asked at each boundary
    it.core.s.status |= ENABLE
    it.run(1)
    assert acks == [2]                                 # acknowledged at the guest clock
    assert it.core.s.log == [("irq", 0x21, 2)]
    assert it.core.s.pc == HANDLER + 1


def test_the_trace_bit_asks_for_attention_at_every_boundary():
    it = toy([INC, INC, INC, INC])
    it.run(2)
    assert it.core.boundaries == 0
    it.core.s.status |= TRACE
    it.run(2)
    assert it.core.boundaries == 2


def test_halt_waits_for_an_interrupt_the_core_accepts():
    it = toy([HALT, INC])
    it.irq_ack = lambda: 0x30
    it.run(1)
    assert it.run(5).reason == "HLT"
    it.irq_line = True
    assert it.run(5).reason == "HLT"                   # not enabled: stays halted
    it.core.s.status |= ENABLE
    assert it.run(1).reason == "BUDGET"
    assert it.core.s.log == [("irq", 0x30, 1)]


def test_an_undeliverable_fault_shuts_down():
    it = toy([INC, SHUT])
    ex = it.run(10)
    assert ex.reason == "SHUTDOWN"
    assert "toy: undeliverable" in ex.describe()
    assert it.core.s.pc == 1


def test_exits_carry_their_source_and_breakpoints_stop():
    it = toy([INC, OUT, JMP0], exit_pcs=True)
    ex = it.run(10)
    assert ex.reason == "IO" and ex.data == 1 and ex.pc == 0x1001
    it.breakpoints.add(0x1000)
    ex = it.run(10)
    assert ex.reason == "DEBUG" and it.core.s.pc == 0


def test_a_pc_kept_in_a_list_is_read_and_written_there():
    it = toy([INC, INC, JMP0], state=ListToyState)
    s = it.core.s
    assert it.run(30).reason == "BUDGET"
    assert s.acc == 20 and s.pc == 0
    # only the ten JMP0 and the two reads above went through the property;
    # the loop itself used the list at every instruction
    assert s.pc_uses == 12


def test_a_pc_kept_in_a_list_is_put_back_on_a_fault():
    it = toy([INC, FAULT], state=ListToyState)
    it.run(3)
    s = it.core.s
    assert s.log == [("fault", 5, 1)]
    assert s.regs[1] == HANDLER + 1
