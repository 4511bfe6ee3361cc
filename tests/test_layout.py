"""The architecture's rules, checked as tests (DESIGN §2, STYLE).

* dependencies point one way: ir <- isa <- accel (the IR is a leaf, as
  QEMU's ``tcg/``; a target's translator front end, ``emu.isa.<arch>.ir_*``,
  builds on it, as ``target/*/translate.c`` does); devices stand alone;
  ``emu`` never imports ``kvm`` and needs unicorn only in its own engine;
* ``import emu`` and ``import kvm`` open nothing and import no engine;
* every module says what it models (a docstring).
"""

import ast
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def modules(pkg):
    root = os.path.join(REPO, pkg)
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                if rel.endswith(".__init__"):
                    rel = rel[:-9]
                yield rel, path


def imports_of(path, modname):
    tree = ast.parse(open(path).read(), path)
    pkg = modname if path.endswith("__init__.py") else modname.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


def unicorn_engine_module(mod: str) -> bool:
    """The unicorn engine: its generic runner, each target's adapter and
    bare harness (emu bench's unicorn-bare)."""
    return mod == "emu.accel.unicorn" or (mod.startswith("emu.isa.")
                                           and mod.endswith((".unicorn_adapter", ".unicorn_bare")))


def test_emu_never_imports_kvm_and_unicorn_only_in_its_engine():
    for mod, path in modules("emu"):
        imps = imports_of(path, mod)
        assert not any(i == "kvm" or i.startswith("kvm.") for i in imps), f"{mod} imports kvm"
        if not unicorn_engine_module(mod) and not mod.startswith("emu.diff"):
            assert not any(i == "unicorn" or i.startswith("unicorn.") for i in imps), f"{mod} imports unicorn"


def is_ir_frontend(mod):
    """A target's translator front end: ``emu.isa.<arch>.ir_<part>``."""
    parts = mod.split(".")
    return len(parts) == 4 and parts[:2] == ["emu", "isa"] and parts[3].startswith("ir_")


def test_layering():
    rules = {
        "emu.isa": ("emu.ir", "emu.accel", "emu.machine", "emu.devices", "emu.boards", "emu.cli"),
        "emu.ir": ("emu.accel", "emu.machine", "emu.devices", "emu.boards", "emu.cli"),
        "emu.devices": ("emu.isa", "emu.ir", "emu.accel", "emu.machine", "emu.boards", "emu.cli"),
    }
    for mod, path in modules("emu"):
        for layer, forbidden in rules.items():
            if mod == layer or mod.startswith(layer + "."):
                if is_ir_frontend(mod):         # a front end is where a target meets the IR
                    forbidden = tuple(f for f in forbidden if f != "emu.ir")
                bad = [i for i in imports_of(path, mod) if any(i == f or i.startswith(f + ".") for f in forbidden)]
                assert not bad, f"{mod} (layer {layer}) imports {bad}"


def test_ir_is_a_leaf():
    """Nothing under emu/ir imports an architecture: what the IR needs of one
    is declared in emu.ir.frontend and filled in by the target."""
    mods = list(modules("emu/ir"))
    assert mods
    for mod, path in mods:
        bad = [i for i in imports_of(path, mod) if i.startswith(("emu.isa.x86", "emu.isa.arm"))]
        assert not bad, f"{mod} imports {bad}"


def test_importing_opens_nothing_and_loads_no_engine():
    code = ("import sys, builtins, os\n"
            "opened = []\n"
            "real = os.open\n"
            "os.open = lambda p, *a, **k: (opened.append(p), real(p, *a, **k))[1]\n"
            "import emu, emu.machine, emu.cli, kvm\n"
            "assert not [p for p in opened if 'kvm' in str(p)], opened\n"
            "assert 'unicorn' not in sys.modules, 'unicorn imported'\n"
            "assert 'emu.accel.tcg' not in sys.modules\n"
            "print('clean')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.stdout.strip() == "clean", r.stderr


def test_every_module_has_a_docstring():
    missing = []
    for pkg in ("emu", "kvm"):
        for mod, path in modules(pkg):
            if path.endswith("__main__.py"):
                continue
            tree = ast.parse(open(path).read())
            if not ast.get_docstring(tree) and os.path.getsize(path) > 0:
                missing.append(mod)
    assert not missing, f"modules without a docstring: {missing}"


def _graph(pkg):
    """module -> the modules of ``pkg`` it imports (at any depth of the file)."""
    mods = dict(modules(pkg))
    graph = {}
    for mod, path in mods.items():
        deps = set()
        for name in imports_of(path, mod):
            while name and name not in mods:
                name = name.rpartition(".")[0]
            if name and name != mod:
                deps.add(name)
        graph[mod] = deps
    return graph


def test_no_import_cycles_between_modules():
    """Two modules never import each other (a package importing its own
    submodules to register them is not a cycle)."""
    graph = _graph("emu")
    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a]
                     if a in graph.get(b, ()) and not b.startswith(a + ".")
                     and not a.startswith(b + ".")})
    assert not cycles, f"modules importing each other: {cycles}"


def test_cli_is_a_leaf():
    users = [mod for mod, deps in _graph("emu").items() if "emu.cli" in deps and mod != "emu.__main__"]
    assert not users, f"{users} import emu.cli"


#: target-neutral modules: they reach an architecture only through the
#: board's Target (``machine.target``), never by importing one (DESIGN §3)
NEUTRAL = ("emu.machine", "emu.accel.base", "emu.accel.interp", "emu.accel.tcg", "emu.accel.unicorn",
           "emu.cli",
           "emu.boards", "emu.exits", "emu.memory", "emu.devices", "emu.isa.target", "emu.isa.core",
           "emu.isa.ops", "emu.isa.debug_adapter", "emu.isa.unicorn_adapter", "emu.stepbench", "emu.bench",
           "emu.loader", "emu.debug",
           # the tools: their architecture's parts are the Target's
           "emu.diff", "emu.conformance", "emu.coverage", "emu.monitor", "emu.grade")


def test_generic_modules_import_no_target():
    for mod, path in modules("emu"):
        if not any(mod == n or mod.startswith(n + ".") for n in NEUTRAL):
            continue
        if mod.startswith("emu.boards."):       # a board names its target
            continue
        bad = [i for i in imports_of(path, mod)
               if i.startswith(("emu.isa.x86", "emu.isa.arm"))]
        assert not bad, f"{mod} imports {bad}"


#: the translator engine's parts (issue 12): each is generic, and they depend
#: on one another one way only -- the block cache knows nothing of how blocks
#: are made, block translation nothing of regions, and none of them of the
#: dispatcher that drives them
TCG_PARTS = ("emu.accel.tcg.tb_cache", "emu.accel.tcg.translate", "emu.accel.tcg.regions",
             "emu.accel.tcg.dispatch")


def test_translator_parts_are_generic_and_layered():
    graph = _graph("emu")
    for i, mod in enumerate(TCG_PARTS):
        assert mod in graph, f"{mod} is missing"
        assert any(mod.startswith(n + ".") for n in NEUTRAL), f"{mod} is not checked as generic"
        later = [m for m in TCG_PARTS[i + 1:] if m in graph[mod]]
        assert not later, f"{mod} imports {later}, which builds on it"
    assert set(graph["emu.accel.tcg"]) <= set(TCG_PARTS), "the package only gathers its parts"
