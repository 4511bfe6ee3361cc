"""A stand-in for the parts of a Machine the virt board uses (RAM, MMIO
bus, devices, clock, output log, CPU state, the engine's IRQ input), so
that the board and its devices are tested without an Arm CPU."""

from emu.boards import virt
from emu.devices.bus import Bus
from emu.devices.device import ManualClock
from emu.machine import OutputLog
from emu.memory import Ram


class StandInState:
    """What the board touches of the Arm state: r0-r15, pc, CPSR by set_cpsr,
    a reset by load."""

    def __init__(self):
        self.r = [0] * 16
        self.cpsr = 0x13

    @property
    def pc(self):
        return self.r[15]

    @pc.setter
    def pc(self, v):
        self.r[15] = v

    def set_cpsr(self, v):
        self.cpsr = v

    def load(self, other):
        self.r[:] = other.r
        self.cpsr = other.cpsr


class StandInTarget:
    name = "arm"

    def new_state(self):
        return StandInState()


class StandInEngine:
    irq_line = False
    irq_ack = None


class StandInMachine:
    def __init__(self, semihosting=False, serial_input=None, ram_size=virt.MEMORY_MAP.ram_size):
        self.target = StandInTarget()
        self.cpu = self.target.new_state()
        self.ram = Ram(ram_size, virt.MEMORY_MAP.ram_base)
        self.mmio = Bus("mmio", 1 << 52)
        self.devices = {}
        self.clock = ManualClock()
        self.serial_log = OutputLog()
        self.accel = None
        self.semihosting_wanted = semihosting
        self.semihosting = None
        self.shown = bytearray()
        virt.build(self, serial_input=serial_input, serial_sink=self.shown.extend)
        self.accel = StandInEngine()
        virt.attach(self)

    def acknowledge_interrupt(self, ack):
        return ack()
