"""The unicorn engine's split (emu/accel/unicorn.py, emu/isa/unicorn_adapter.py):
a generic runner that reaches the architecture only through the adapter the
board's Target makes."""

import inspect
import subprocess
import sys
from types import SimpleNamespace

import pytest

pytest.importorskip("unicorn")

from emu.accel.base import AccelUnavailable  # noqa: E402
from emu.accel.unicorn import UnicornAccel  # noqa: E402
from emu.isa.target import Target  # noqa: E402
from emu.isa.unicorn_adapter import UnicornAdapter  # noqa: E402
from emu.machine import Machine  # noqa: E402


def contract_methods():
    return sorted(name for name, fn in vars(UnicornAdapter).items()
                  if inspect.isfunction(fn) and not name.startswith("_"))


def test_the_contract_raises_for_every_method():
    """The base class is the contract only: every method raises, so an
    adapter that forgets one fails loudly where the runner calls it."""
    base = UnicornAdapter(engine=None)
    for name in contract_methods():
        fn = getattr(base, name)
        args = [None] * (len(inspect.signature(fn).parameters)
                         - sum(p.default is not p.empty for p in inspect.signature(fn).parameters.values()))
        with pytest.raises(NotImplementedError):
            fn(*args)


def test_the_x86_adapter_implements_the_whole_contract():
    m = Machine(accel="unicorn")
    adapter = m.accel.adapter
    assert isinstance(adapter, UnicornAdapter) and adapter.engine is m.accel
    missing = [n for n in contract_methods() if getattr(type(adapter), n) is getattr(UnicornAdapter, n)]
    assert missing == []
    m.close()


def test_a_target_without_an_adapter_is_refused_in_one_line():
    class Toy(Target):
        name = "toy"

    with pytest.raises(AccelUnavailable) as e:
        UnicornAccel(SimpleNamespace(target=Toy()))
    assert str(e.value) == "the unicorn engine has no adapter for toy guests"


def test_the_runner_loads_no_target_module():
    """Importing the generic runner brings in no architecture: x86 comes
    only with the adapter the Target makes."""
    code = ("import sys\n"
            "import emu.accel.unicorn\n"
            "print(sorted(m for m in sys.modules if m.startswith(('emu.isa.x86', 'emu.isa.arm'))))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# -- a second architecture on the same runner --------------------------------------------
# A32 code: mov r0, #5; add r0, r0, #1; str r0, [r1]; ldr r2, [r1, #4];
# add r2, r2, #1; b . -- with r1 pointing above RAM, at a device
ARM_CODE = bytes.fromhex("0500a0e3" "010080e2" "000081e5" "042091e5" "012082e2" "feffffea")
DEVICE = 0x1000_0000


class ArmState:
    """Sixteen registers (r15 the PC) and the halted flag the runner reads."""

    def __init__(self):
        self.regs = [0] * 16
        self.halted = False


class ArmAdapter(UnicornAdapter):
    """The least an ARM adapter needs for a guest that takes no exception:
    A32 mode, register sync, capstone's block decoder.  The methods it leaves
    to the contract raise if the runner calls them."""

    def __init__(self, engine):
        import capstone
        import unicorn
        from unicorn import arm_const
        super().__init__(engine)
        self.uc_arch = unicorn.UC_ARCH_ARM
        self.arm_mode = unicorn.UC_MODE_ARM
        self.reg_ids = [getattr(arm_const, f"UC_ARM_REG_R{n}") for n in range(13)] + [
            arm_const.UC_ARM_REG_SP, arm_const.UC_ARM_REG_LR, arm_const.UC_ARM_REG_PC]
        self.md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM)

    def mode_for(self, state):
        return self.arm_mode

    def mode_needed(self):
        return self.arm_mode

    def configure(self, uc):
        pass

    def engine_created(self, uc, mode):
        pass

    def before_unmap(self, uc):
        pass

    def close(self):
        pass

    def put_state(self, fresh=False):
        if self.engine.uc is None:
            self.engine.create(self.arm_mode)
        for rid, v in zip(self.reg_ids, self.engine.machine.cpu.regs):
            self.engine.uc.reg_write(rid, v)

    def get_state(self):
        self.engine.machine.cpu.regs[:] = [self.engine.uc.reg_read(rid) for rid in self.reg_ids]

    def pc(self):
        return self.engine.uc.reg_read(self.reg_ids[15])

    start_address = pc

    def exit_cs(self):
        return None

    def decode_block(self, uc, addr, size):
        return tuple(i.address for i in self.md.disasm(bytes(uc.mem_read(addr, size)), addr)), 0

    def extra_entry(self, uc, addr, size):
        return False

    def is_halt(self, code):
        return False

    def stopped(self):
        pass

    def settle(self, err, store_stop, extra):
        return None

    def irq_enabled(self, state):
        return False

    def irq_shadow(self, state):
        return False

    def retired(self, tb, pc):
        pass

    def stats(self):
        return {}


class ArmTarget(Target):
    name = "arm"

    def unicorn_adapter(self, engine):
        return ArmAdapter(engine)


class ArmMachine:
    """What the runner uses of a Machine: RAM, the Target, the CPU state,
    and dispatch_exit (a device at DEVICE answers loads with 41)."""

    def __init__(self):
        from emu.memory import Ram
        self.ram = Ram(0x10000)
        self.target = ArmTarget()
        self.cpu = ArmState()
        self.exit_pcs = False
        self.served = []

    def dispatch_exit(self, ex):
        if not ex.is_write:
            ex.data = 41
        self.served.append((ex.reason, ex.addr, ex.size, ex.is_write, ex.data))

    def stop_pending(self):
        return False

    def timer_deadline_moved(self):
        return False


def test_an_arm_adapter_runs_on_the_runner_unchanged():
    """The runner drives a second architecture through the contract alone:
    RAM mapped, MMIO served through dispatch_exit as the access happens,
    the budget counted exactly, the state read back."""
    m = ArmMachine()
    m.ram.mm[0:len(ARM_CODE)] = ARM_CODE
    m.cpu.regs[1] = DEVICE
    acc = UnicornAccel(m)
    ex = acc.run(20)
    assert ex.reason == "BUDGET" and acc.icount == 20
    assert m.served == [("MMIO", DEVICE, 4, True, 6), ("MMIO", DEVICE + 4, 4, False, 41)]
    acc.sync_state()
    assert m.cpu.regs[0] == 6 and m.cpu.regs[2] == 42 and m.cpu.regs[15] == 0x14
    acc.close()
