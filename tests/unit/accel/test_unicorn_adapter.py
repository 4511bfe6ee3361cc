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
