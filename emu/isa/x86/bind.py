"""Semantics bound to one decoded instruction's operands, for the interpreter.

A semantic function is written once, against the Ops interface, for any
operands: ``ops.read(i.ops[0])`` asks ``ConcreteOps.read`` which kind of
operand it is on every execution, ``i.size`` is read from the instruction
each time, and every read, write and flag record is a method call.  The
interpreter runs the same few instructions millions of times, so when an
instruction is decoded it gets a *bound* form of its semantic function
(``insn.run``), made from that function's own source:

* ``ops.read(i.ops[k])`` of a general register becomes
  ``(r[n] >> shift) & mask``, of an immediate its value, of memory the
  RAM read of ``ConcreteOps.read``'s fast path (no paging, inside the
  segment's limit and RAM) or else ``ops.load(seg, ea, size)``;
* ``ops.write(i.ops[k], v)`` of a general register becomes
  ``r[n] = (r[n] & keep) | ((v & mask) << shift)`` (``emu.isa.x86.insn.Reg``),
  of memory ``ops.store(seg, ea, size, v)``; ``ops.ea`` the address sum of
  the operand's own base, index and displacement;
* ``ops.set_cc``, ``ops.get_cf``, ``ops.cond``, ``ops.jump``,
  ``ops.branch``, ``ops.get_reg``, ``ops.set_reg`` and ``ops.select`` (of
  two plain values) become their ``ConcreteOps`` bodies, arguments
  evaluated first as a call evaluates them;
* ``i.size``, ``i.osize``, ``i.asize``, ``i.cc`` and ``i.next_ip`` are the
  instruction's values.

Everything else -- memory operands, segment registers, the other Ops
methods -- stays the call it was, so the bound form does exactly what the
function does on ``ConcreteOps`` (:mod:`emu.isa.x86.concrete`, whose
``read``, ``write`` and ``set_cc`` these rewrites copy).  The translator
keeps tracing ``insn.handler`` itself.

The source is rewritten once per process for each (function, operand
kinds): the result is a factory taking the operands' fields, so binding an
instruction is one call, and every machine shares the factories.  A
function whose source cannot be read, whose source file no longer compiles
to the function's own code (edited since the import), or that has nothing
to rewrite runs as it is.
"""

from __future__ import annotations

import __future__
import ast
import copy
import inspect
import linecache
import textwrap

from . import flags as F
from .concrete import _UNPACK
from .insn import IMM, MEM, REG

#: the Insn fields a bound form reads once, at binding time
_FIELDS = ("size", "osize", "asize", "cc", "next_ip")
#: the tables a bound form reads (``ConcreteOps``'s own)
_TABLES = {"MASK": F.MASK, "CONDS": F.CONDS, "CARRY": F.CARRY}


class _Rewriter(ast.NodeTransformer):
    """Rewrites the body of ``def f(ops, i)`` for operand kinds ``kinds``;
    ``params`` collects the factory's parameter names, ``count`` the
    rewrites made."""

    def __init__(self, ops_name: str, insn_name: str, kinds: tuple):
        self.o = ops_name
        self.i = insn_name
        self.kinds = kinds
        self.params: dict[str, tuple] = {}    # name -> (what, k, field)
        self.count = 0
        self.uses_r = False
        self.uses_s = False
        self.uses_mem = False

    # -- helpers ---------------------------------------------------------------------
    def _is_ops_call(self, node, method: str, nargs: int) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == method and isinstance(node.func.value, ast.Name)
                and node.func.value.id == self.o and len(node.args) == nargs and not node.keywords)

    def _operand(self, node):
        """k for ``i.ops[k]`` (a constant k within the operands), else None."""
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "ops" and isinstance(node.value.value, ast.Name)
                and node.value.value.id == self.i and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, int) and 0 <= node.slice.value < len(self.kinds)):
            return node.slice.value
        return None

    def _param(self, what: str, k: int, field: str) -> ast.Name:
        name = f"_b_{what}{k}_{field}" if k >= 0 else f"_b_{what}_{field}"
        self.params[name] = (what, k, field)
        return ast.Name(id=name, ctx=ast.Load())

    def _table(self, name: str) -> ast.Name:
        self.params[f"_b_{name}"] = ("table", -1, name)
        return ast.Name(id=f"_b_{name}", ctx=ast.Load())

    def _state(self, field: str) -> ast.Attribute:
        self.uses_s = True
        return ast.Attribute(value=ast.Name(id="_b_s", ctx=ast.Load()), attr=field, ctx=ast.Load())

    @staticmethod
    def _simple(node) -> bool:
        """An expression that reads nothing that may change: a name or a constant."""
        return isinstance(node, (ast.Name, ast.Constant))

    def _ea(self, k: int):
        """``ConcreteOps.ea`` of memory operand k: (disp + r[base] +
        r[index] * scale) & amask, the terms its shape has."""
        self.uses_r = True
        _, has_base, has_index, _ = self.kinds[k]
        a = self._param("op", k, "disp")
        if has_base:
            a = ast.BinOp(left=a, op=ast.Add(),
                          right=ast.Subscript(value=ast.Name(id="_b_r", ctx=ast.Load()),
                                              slice=self._param("op", k, "base"), ctx=ast.Load()))
        if has_index:
            a = ast.BinOp(left=a, op=ast.Add(), right=ast.BinOp(
                left=ast.Subscript(value=ast.Name(id="_b_r", ctx=ast.Load()),
                                   slice=self._param("op", k, "index"), ctx=ast.Load()),
                op=ast.Mult(), right=self._param("op", k, "scale")))
        return ast.BinOp(left=a, op=ast.BitAnd(), right=self._param("op", k, "amask"))

    def _mem_read(self, k: int):
        """ConcreteOps.read of memory operand k: RAM at once when no paging
        and the access is within the segment's limit and RAM, else
        load(seg, ea, size) (which faults, pages or exits)."""
        self.uses_mem = True
        one = self.kinds[k][3]
        ram = "_b_mm[_b_p]" if one else f"_b_UNPACK{k}(_b_mm, _b_p)[0]"
        o = self.o
        expr = ast.parse(
            f"({ram} if ((_b_a := EA) + SIZE <= (_b_g := _b_segs[SEG]).fast_limit + 1 and {o}.plain"
            f" and (_b_p := (_b_g.base + _b_a) & {o}.amask) + SIZE <= {o}.ram_size)"
            f" else {o}.load(SEG, _b_a, SIZE))", mode="eval").body
        fill = {"EA": self._ea(k), "SIZE": self._param("op", k, "size"), "SEG": self._param("op", k, "seg")}
        if not one:
            self.params[f"_b_UNPACK{k}"] = ("unpack", k, "size")

        class Fill(ast.NodeTransformer):
            def visit_Name(self, node):
                return copy.deepcopy(fill[node.id]) if node.id in fill else node
        return Fill().visit(expr)

    def _ops_call(self, method: str, args: list):
        return ast.Call(func=ast.Attribute(value=ast.Name(id=self.o, ctx=ast.Load()), attr=method,
                                           ctx=ast.Load()), args=args, keywords=[])

    def _kind(self, k: int):
        shape = self.kinds[k]
        return shape[0] if isinstance(shape, tuple) else shape

    def _reg_value(self, k: int):
        self.uses_r = True
        return ast.BinOp(
            left=ast.BinOp(left=ast.Subscript(value=ast.Name(id="_b_r", ctx=ast.Load()),
                                              slice=self._param("op", k, "n"), ctx=ast.Load()),
                           op=ast.RShift(), right=self._param("op", k, "shift")),
            op=ast.BitAnd(), right=self._param("op", k, "mask"))

    # -- rewrites --------------------------------------------------------------------
    def visit_Attribute(self, node):
        if (isinstance(node.value, ast.Name) and node.value.id == self.i and node.attr in _FIELDS
                and isinstance(node.ctx, ast.Load)):
            self.count += 1
            return self._param("insn", -1, node.attr)
        return self.generic_visit(node)

    def visit_Call(self, node):
        if self._is_ops_call(node, "read", 1) or self._is_ops_call(node, "ea", 1):
            k = self._operand(node.args[0])
            kind = None if k is None else self._kind(k)
            if node.func.attr == "ea":
                rewrite = self._ea if kind == MEM else None
            else:
                rewrite = {REG: self._reg_value, MEM: self._mem_read,
                           IMM: lambda k: self._param("op", k, "value")}.get(kind)
            if rewrite is None:
                return self.generic_visit(node)
            self.count += 1
            return rewrite(k)
        if self._is_ops_call(node, "cond", 1):
            cc = self.visit(node.args[0])
            if self._simple(cc):
                # CONDS[cc_op << 4 | cc](cc_res, cc_a, cc_b, cc_size, fl)
                self.count += 1
                index = ast.BinOp(left=ast.BinOp(left=self._state("cc_op"), op=ast.LShift(),
                                                 right=ast.Constant(4)), op=ast.BitOr(), right=cc)
                return ast.Call(func=ast.Subscript(value=self._table("CONDS"), slice=index, ctx=ast.Load()),
                                args=[self._state(f) for f in ("cc_res", "cc_a", "cc_b", "cc_size", "fl")],
                                keywords=[])
            node.args[0] = cc
            return node
        if self._is_ops_call(node, "get_cf", 0):
            # CARRY[cc_op](cc_res, cc_a, cc_b, fl)
            self.count += 1
            return ast.Call(func=ast.Subscript(value=self._table("CARRY"), slice=self._state("cc_op"),
                                               ctx=ast.Load()),
                            args=[self._state(f) for f in ("cc_res", "cc_a", "cc_b", "fl")], keywords=[])
        if self._is_ops_call(node, "get_reg", 2):
            # r[n] & MASK[size]
            self.count += 1
            self.uses_r = True
            n, size = (self.visit(a) for a in node.args)
            return ast.BinOp(left=ast.Subscript(value=ast.Name(id="_b_r", ctx=ast.Load()), slice=n,
                                                ctx=ast.Load()),
                             op=ast.BitAnd(), right=ast.Subscript(value=self._table("MASK"), slice=size,
                                                                  ctx=ast.Load()))
        if self._is_ops_call(node, "select", 3):
            c, a, b = (self.visit(x) for x in node.args)
            if self._simple(a) and self._simple(b):
                self.count += 1
                return ast.IfExp(test=c, body=a, orelse=b)
            node.args = [c, a, b]
            return node
        return self.generic_visit(node)

    def visit_Expr(self, node):
        call = node.value
        if self._is_ops_call(call, "write", 2):
            k = self._operand(call.args[0])
            if k is not None and self._kind(k) == MEM:
                # ConcreteOps.write of a memory operand: v, then store(seg, ea, size, v)
                self.count += 1
                value = self.visit(call.args[1])
                return [ast.Assign(targets=[ast.Name(id="_b_v", ctx=ast.Store())], value=value),
                        ast.Expr(value=self._ops_call("store", [
                            self._param("op", k, "seg"), self._ea(k), self._param("op", k, "size"),
                            ast.Name(id="_b_v", ctx=ast.Load())]))]
            if k is not None and self.kinds[k] == REG:
                self.count += 1
                self.uses_r = True
                value = self.visit(call.args[1])
                n = self._param("op", k, "n")
                # v first, then r[n]: ConcreteOps.write's order
                return [
                    ast.Assign(targets=[ast.Name(id="_b_v", ctx=ast.Store())], value=value),
                    ast.Assign(
                        targets=[ast.Subscript(value=ast.Name(id="_b_r", ctx=ast.Load()), slice=n,
                                               ctx=ast.Store())],
                        value=ast.BinOp(
                            left=ast.BinOp(left=ast.Subscript(value=ast.Name(id="_b_r", ctx=ast.Load()),
                                                              slice=n, ctx=ast.Load()),
                                           op=ast.BitAnd(), right=self._param("op", k, "keep")),
                            op=ast.BitOr(),
                            right=ast.BinOp(
                                left=ast.BinOp(left=ast.Name(id="_b_v", ctx=ast.Load()), op=ast.BitAnd(),
                                               right=self._param("op", k, "mask")),
                                op=ast.LShift(), right=self._param("op", k, "shift"))))]
        if self._is_ops_call(call, "jump", 1):
            # s.rip = ip
            self.count += 1
            self.uses_s = True
            return ast.Assign(targets=[ast.Attribute(value=ast.Name(id="_b_s", ctx=ast.Load()), attr="rip",
                                                     ctx=ast.Store())],
                              value=self.visit(call.args[0]))
        if self._is_ops_call(call, "branch", 2):
            # both arguments first, then: if c: s.rip = target
            self.count += 1
            self.uses_s = True
            c, t = (self.visit(a) for a in call.args)
            return [ast.Assign(targets=[ast.Tuple(elts=[ast.Name(id="_b_c", ctx=ast.Store()),
                                                        ast.Name(id="_b_t", ctx=ast.Store())], ctx=ast.Store())],
                               value=ast.Tuple(elts=[c, t], ctx=ast.Load())),
                    ast.If(test=ast.Name(id="_b_c", ctx=ast.Load()),
                           body=[ast.Assign(targets=[ast.Attribute(value=ast.Name(id="_b_s", ctx=ast.Load()),
                                                                   attr="rip", ctx=ast.Store())],
                                            value=ast.Name(id="_b_t", ctx=ast.Load()))],
                           orelse=[])]
        if self._is_ops_call(call, "set_reg", 3):
            # ConcreteOps.set_reg: n, size, v first; a 32/64-bit write keeps nothing
            self.count += 1
            self.uses_r = True
            args = [self.visit(a) for a in call.args]
            head = ast.Assign(targets=[ast.Tuple(elts=[ast.Name(id=v, ctx=ast.Store())
                                                       for v in ("_b_n", "_b_z", "_b_v")], ctx=ast.Store())],
                              value=ast.Tuple(elts=args, ctx=ast.Load()))
            mask = self._table("MASK")
            rest = ast.parse("if _b_z >= 4:\n    _b_r[_b_n] = _b_v & _b_MASK[_b_z]\n"
                             "else:\n    _b_m = _b_MASK[_b_z]\n"
                             "    _b_r[_b_n] = (_b_r[_b_n] & ~_b_m) | (_b_v & _b_m)\n").body[0]
            assert mask.id == "_b_MASK"
            return [head, rest]
        if self._is_ops_call(call, "set_cc", 5):
            self.count += 1
            self.uses_s = True
            args = [self.visit(a) for a in call.args]
            fields = ("cc_op", "cc_res", "cc_a", "cc_b", "cc_size")
            return ast.Assign(
                targets=[ast.Tuple(elts=[ast.Attribute(value=ast.Name(id="_b_s", ctx=ast.Load()),
                                                       attr=f, ctx=ast.Store()) for f in fields],
                                   ctx=ast.Store())],
                value=ast.Tuple(elts=args, ctx=ast.Load()))
        return self.generic_visit(node)


def _fingerprint(code) -> tuple:
    """What a function's compiled body is, apart from where it stands: its
    bytecode, names and constants (nested code objects by their own)."""
    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars,
            tuple(_fingerprint(c) if inspect.iscode(c) else (type(c), c) for c in code.co_consts))


def _same_code(fn) -> bool:
    """Whether the source file ``inspect.getsource`` reads for ``fn``
    (through linecache, refreshed) still compiles to ``fn``'s own code: a file
    edited since its module was imported is not bound, so a bound form is
    never other semantics than the function it stands for.  The whole file is
    compiled, as the import compiled it (a name's origin, e.g. an import,
    changes the bytecode the compiler picks)."""
    code = fn.__code__
    filename = code.co_filename
    linecache.checkcache(filename)
    text = "".join(linecache.getlines(filename, fn.__globals__))
    made = _file_codes(filename, text, code.co_flags & _FUTURE_FLAGS).get(
        (code.co_name, code.co_firstlineno))
    return made is not None and _fingerprint(made) == _fingerprint(code)


_FILE_CODES: dict[tuple, dict] = {}


def _file_codes(filename: str, text: str, flags: int) -> dict:
    """(name, first line) -> code object, for every function compiled from
    ``text`` (cached per file text)."""
    key = (filename, text, flags)
    found = _FILE_CODES.get(key)
    if found is None:
        found = {}
        todo = [compile(text, filename, "exec", flags=flags, dont_inherit=True)]
        while todo:
            c = todo.pop()
            found[(c.co_name, c.co_firstlineno)] = c
            todo.extend(k for k in c.co_consts if inspect.iscode(k))
        _FILE_CODES[key] = found
    return found


#: the __future__ compiler flags a function's module was compiled with
_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _factory(fn, kinds: tuple):
    """``make(insn, *free)`` -> the bound form of ``fn`` for operand kinds
    ``kinds``, or None when there is nothing to bind."""
    code = fn.__code__
    if code.co_argcount != 2 or fn.__defaults__ or code.co_flags & (inspect.CO_VARARGS
                                                                   | inspect.CO_VARKEYWORDS):
        return None
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    tree = ast.parse(src)
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef) or fdef.name != code.co_name or not _same_code(fn):
        return None
    ops_name, insn_name = (a.arg for a in fdef.args.args)
    rw = _Rewriter(ops_name, insn_name, kinds)
    body = []
    for stmt in fdef.body:
        new = rw.visit(stmt)
        body.extend(new if isinstance(new, list) else [new])
    if not rw.count:
        return None
    prologue = []
    if rw.uses_r:
        prologue.append(ast.parse(f"_b_r = {ops_name}.r").body[0])
    if rw.uses_s:
        prologue.append(ast.parse(f"_b_s = {ops_name}.s").body[0])
    if rw.uses_mem:
        prologue.append(ast.parse(f"_b_segs = {ops_name}.segs").body[0])
        prologue.append(ast.parse(f"_b_mm = {ops_name}.mm").body[0])
    fdef.body = prologue + body
    fdef.decorator_list = []
    free = code.co_freevars
    params = list(rw.params)
    maker = ast.FunctionDef(
        name="_make", args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=p) for p in params + list(free)],
                                         kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[fdef, ast.Return(value=ast.Name(id=fdef.name, ctx=ast.Load()))], decorator_list=[])
    module = ast.Module(body=[maker], type_ignores=[])
    ast.fix_missing_locations(module)
    space = {}
    exec(compile(module, f"<bound {code.co_filename}:{fdef.name}>", "exec"), fn.__globals__, space)
    make = space["_make"]
    cells = tuple(c.cell_contents for c in fn.__closure__ or ())
    specs = [rw.params[p] for p in params]

    def bind(insn):
        values = []
        for what, k, field in specs:
            if what == "unpack":
                values.append(_UNPACK[insn.ops[k].size])
            elif what == "table":
                values.append(_TABLES[field])
            else:
                values.append(getattr(insn, field) if what == "insn" else getattr(insn.ops[k], field))
        run = make(*values, *cells)
        run.__doc__ = fn.__doc__
        return run
    return bind


#: (semantic function, operand kinds) -> its factory (or None): made once
#: per process.  A factory is a pure function of the two -- the rewritten
#: source, compiled -- and keeps no state of a machine (its ``bind`` reads
#: only the instruction), so every machine shares it: a machine made after
#: another (a bench's second run, a test's) reads and compiles no source
#: for the instructions that one met.
_FACTORIES: dict[tuple, object] = {}


class Binder:
    """The bound forms of one machine's instructions (the factories are
    made once per semantic function and operand kinds, in ``_FACTORIES``);
    ``made``: the factories this binder had to make."""

    def __init__(self):
        self.made = 0

    def bind(self, insn):
        """``run(ops, insn)`` for the decoded ``insn``: its handler bound to
        its operands, or the handler itself."""
        fn = insn.handler
        kinds = tuple((MEM, o.base >= 0, o.index >= 0, o.size == 1) if o.kind == MEM else o.kind
                      for o in insn.ops)
        key = (fn, kinds)
        try:
            factory = _FACTORIES[key]
        except KeyError:
            factory = _FACTORIES[key] = _factory(fn, kinds)
            self.made += 1
        return fn if factory is None else factory(insn)
