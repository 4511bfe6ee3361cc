"""Loop versioning by range: a counted loop whose pointers step by constants
runs its passes without their per-pass tests while one test at the loop's
entry shows none of them can fire.

A region's counted loop (:meth:`emu.ir.codegen.RegionCodegen._loop`) is
generated as ``for left in range(left, M - 1, -p):`` and a body.  A local
``x`` that the body steps once, as ``x = x + c`` (``x - c``), with c a
constant, followed by its wrap correction (``if x > N - 1: x -= N``, or
``if x < 0: x += N``, or the same folded into the condition of a jump:
``x > 0 or x and (x := x + N)``, ``x < K or x > N - 1 and (x := x - N) <
K``), and sets otherwise only after that and on a path that does not go
round again (the code around an enclosing loop), is an *induction local*:
its value in pass i is between ``x0`` and ``x0 + c * (i + 1)``.  For n
passes with no wrap (n = ``(N - 1 - x0) // c`` or ``x0 // c``, and no more
than the budget allows), the body without the wrap corrections does
exactly what the body does.  In that copy, a test that bails out of the
loop when an address over one induction local passes a segment's limit or
RAM's end (``A > K``) or touches a granule of translated code (``CP[A >>
6] and CB[A]``) is tested once for the whole range the address covers in
those n passes; when that range is clear the tests are left out too.
(Code is translated only outside the region's run, so a granule clear at
the loop's entry stays clear, as the region's own entry guard assumes.)

The loop becomes::

    while True:
        fast_n = <the passes no wrap can happen in>
        if fast_n > 0 and <the ranges are clear>:
            for left in range(left, max(M - 1, left - fast_n * p), -p):
                <the body without the tests>
            else:
                left -= p
                if left < M:
                    <the budget exit>
                fast_n = 0
            if e >= 0 or pc != d: break
            if fast_n: continue         # the body started the count again
        for left in range(left, M - 1, -p):       # the loop as it was: the rest
            ...

Any pass the copy cannot vouch for (a wrap, a range that touches code or
leaves RAM, the passes after the ones counted) runs the body as it was.
Everything here works on the generated text, line by line, as
:meth:`emu.ir.codegen.PyCodegen._fold_wrap` does.
"""

from __future__ import annotations

import re

from ..memory import GRANULE_SHIFT

FAST_N = "fast_n"

_STEP = re.compile(r"(r\d+) = \1 ([+-]) (\d+)$")
_WRAP_UP = re.compile(r"if (r\d+) > (\d+): \1 -= (\d+)$")
_WRAP_DOWN = re.compile(r"if (r\d+) < 0: \1 \+= (\d+)$")
_FOLD_DOWN = re.compile(r"(r\d+) > 0 or \1 and \(\1 := \1 \+ (\d+)\)")
_FOLD_UP = re.compile(r"((r\d+) < \d+) or \2 > (\d+) and \(\2 := \2 - (\d+)\) < \d+")
# an address over one induction local: [name +] x [+ k | - k]
_ADDR = re.compile(r"(?:([A-Za-z_]\w*) \+ )?(r\d+)(?: ([+-]) (\d+))?$")
_WALRUS = re.compile(r"\((\w+) := (.+)\)$")
_CODE1 = re.compile(rf"\(CP\[(.+) >> {GRANULE_SHIFT}\] and CB\[(.+)\]\)")
_CODEN = re.compile(rf"\(\(CP\[(.+) >> {GRANULE_SHIFT}\] or "
                    rf"CP\[\((\w+) \+ (\d+)\) >> {GRANULE_SHIFT}\]\) and "
                    r"CBF\(b'\\1', \2, \2 \+ (\d+)\) >= 0\)")
_ABOVE = re.compile(r"(.+) > (\w+)$")
_BAIL = re.compile(r"e = \d+; break")


def _indent(line: str) -> int:
    return (len(line) - len(line.lstrip(" "))) // 4


_TARGETS = re.compile(r"(?:^|[:;] *)([A-Za-z_][\w, ]*?) = (?!=)")


def _sets(line: str, name: str) -> bool:
    """Does the statement ``line`` (stripped) assign the local ``name``?"""
    if re.search(rf"(?<![\w.]){name} *(?:=(?!=)|\+=|-=|\*=|//=|&=|\|=|\^=|<<=|>>=|:=)", line):
        return True
    return any(name in (t.strip() for t in m.group(1).split(","))
               for m in _TARGETS.finditer(line))


def _split_or(cond: str) -> list:
    """``cond``'s terms joined by a top-level ``or``."""
    terms, depth, start, i = [], 0, 0, 0
    while i < len(cond):
        ch = cond[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and cond.startswith(" or ", i):
            terms.append(cond[start:i])
            start = i + 4
            i += 4
            continue
        i += 1
    terms.append(cond[start:])
    return terms


def _block_end(lines: list, i: int) -> int:
    """The index after the block the compound statement at ``lines[i]`` opens."""
    ind = _indent(lines[i])
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > ind):
        j += 1
    return j


def _inductions(body: list) -> dict:
    """The body's induction locals: name -> (step c, wrap modulus N, the
    index of its step line)."""
    found = {}
    for i, line in enumerate(body):
        m = _STEP.fullmatch(line.strip())
        if m is None:
            continue
        x, sign, c = m.group(1), m.group(2), int(m.group(3))
        if c == 0:
            continue
        step = c if sign == "+" else -c
        nxt = body[i + 1].strip() if i + 1 < len(body) else ""
        up, down = _WRAP_UP.fullmatch(nxt), _WRAP_DOWN.fullmatch(nxt)
        if up and up.group(1) == x and int(up.group(3)) == int(up.group(2)) + 1 and step > 0:
            mod = int(up.group(3))
        elif down and down.group(1) == x and step < 0:
            mod = int(down.group(2))
        elif nxt.startswith("if ") and nxt.endswith(":"):
            cond = nxt[3:-1]
            fu, fd = _FOLD_UP.fullmatch(cond), _FOLD_DOWN.fullmatch(cond)
            if fd and fd.group(1) == x and step < 0:
                mod = int(fd.group(2))
            elif fu and fu.group(2) == x and step > 0 and int(fu.group(4)) == int(fu.group(3)) + 1:
                mod = int(fu.group(4))
            else:
                continue
        else:
            continue
        if x in found:          # stepped twice: not one
            found[x] = None
            continue
        found[x] = (step, mod, i)
    return {x: v for x, v in found.items() if v is not None}


def _without_wraps(body: list, ind: dict, where: list | None = None) -> list:
    """The body with the wrap corrections of the induction locals ``ind``
    left out (their folded forms reduced to the plain test); ``where`` gets
    each body line's index in the result."""
    out = []
    for i, line in enumerate(body):
        if where is not None:
            where.append(len(out))
        s = line.strip()
        pre = line[:len(line) - len(line.lstrip(" "))]
        up, down = _WRAP_UP.fullmatch(s), _WRAP_DOWN.fullmatch(s)
        w = up or down
        if w and w.group(1) in ind and ind[w.group(1)][2] == i - 1:
            continue
        if s.startswith("if ") and s.endswith(":") and i >= 1:
            cond = s[3:-1]
            fu, fd = _FOLD_UP.fullmatch(cond), _FOLD_DOWN.fullmatch(cond)
            if fd and fd.group(1) in ind and ind[fd.group(1)][2] == i - 1:
                line = f"{pre}if {fd.group(1)} > 0:"
            elif fu and fu.group(2) in ind and ind[fu.group(2)][2] == i - 1:
                line = f"{pre}if {fu.group(1)}:"
        out.append(line)
    return out


class _Ranges:
    """The ranges the fast copy's addresses cover, and the tests of them made
    once at the loop's entry."""

    def __init__(self, ind: dict, limit: dict, invariant):
        self.ind = ind
        self.limit = limit              # x -> the first line that sets x otherwise
        self.invariant = invariant      # (name, line) -> True when it holds its entry value there
        self.guards = []
        self.at = 0                     # the line of the test being looked at

    def _span(self, addr: str):
        """(lowest, highest) source text of ``addr`` over the fast passes, or None."""
        m = _ADDR.fullmatch(addr)
        if m is None or m.group(2) not in self.ind or self.at >= self.limit[m.group(2)]:
            return None
        base, x = m.group(1), m.group(2)
        if base is not None and not self.invariant(base, self.at):
            return None
        step = self.ind[x][0]
        moved = f"{x} + {step} * {FAST_N}" if step > 0 else f"{x} - {-step} * {FAST_N}"

        def at(v):
            text = v if base is None else f"{base} + {v}"
            if m.group(3):
                text = f"{text} {m.group(3)} {m.group(4)}"
            return text
        lo, hi = (at(x), at(f"({moved})")) if step > 0 else (at(f"({moved})"), at(x))
        return lo, hi, m.group(3) == "-"

    def _bound(self, k: str) -> bool:
        """Is ``k`` a number, or a name that holds its entry value at the test?"""
        return k.isdigit() or re.fullmatch(r"[A-Za-z_]\w*", k) is not None and self.invariant(k, self.at)

    def term(self, t: str, alias: dict):
        """A term of a bail's condition made false for every fast pass by a
        test at entry: (the assignment it made, if any) -- or None.
        ``alias``: the names the condition's terms before it assigned (``(p
        := E)``), to their expressions."""
        t = t.strip()
        m = _CODE1.fullmatch(t)
        size = 1
        if m is None:
            m = _CODEN.fullmatch(t)
            if m is not None:
                size = int(m.group(4))
                if int(m.group(3)) != size - 1:
                    return None
        if m is not None:
            addr, keep = m.group(1), None
            w = _WALRUS.fullmatch(addr)
            if w is not None:
                keep, addr = (w.group(1), w.group(2)), w.group(2)
                alias[keep[0]] = addr
            name = keep[0] if keep is not None else addr
            if m.group(2) != name:
                return None
            span = self._span(alias.get(addr, addr))
            if span is None:
                return None
            lo, hi, neg = span
            test = (f'CP.find(b"\\1", ({lo}) >> {GRANULE_SHIFT}, '
                    f'({hi} + {size - 1} >> {GRANULE_SHIFT}) + 1) < 0')
            if neg:
                test = f"{lo} >= 0 and {test}"
            self.guards.append(test)
            return keep or ()
        m = _ABOVE.fullmatch(t)
        if m is None:
            return None
        addr, keep = m.group(1), None
        w = _WALRUS.fullmatch(addr)
        if w is not None:
            keep, addr = (w.group(1), w.group(2)), w.group(2)
            alias[keep[0]] = addr
        if not self._bound(m.group(2)):
            return None
        span = self._span(alias.get(addr, addr))
        if span is None:
            return None
        self.guards.append(f"{span[1]} <= {m.group(2)}")
        return keep or ()


def _drop_tests(body: list, ranges: _Ranges) -> list:
    """The fast copy's bails whose tests the entry's range tests cover, left out."""
    out, i = [], 0
    while i < len(body):
        line = body[i]
        s = line.strip()
        pre = line[:len(line) - len(line.lstrip(" "))]
        if s.startswith("if ") and s.endswith(":"):
            # (a bail out of the loop: left out when the entry's tests show its
            # condition cannot hold)
            end = _block_end(body, i)
            after = body[end].strip() if end < len(body) else ""
            last = body[end - 1].strip() if end > i + 1 else ""
            if not after.startswith(("else", "elif")) and _BAIL.fullmatch(last):
                ranges.at = i
                kept, sets, alias = [], [], {}
                for t in _split_or(s[3:-1]):
                    r = ranges.term(t, alias)
                    if r is None:
                        kept.append(t)
                    elif r:
                        sets.append(r)
                if len(kept) < len(_split_or(s[3:-1])):
                    out.extend(f"{pre}{p} = {e}" for p, e in sets)
                    if kept:
                        out.append(f"{pre}if {' or '.join(kept)}:")
                        out.extend(body[i + 1:end])
                    i = end
                    continue
        out.append(line)
        i += 1
    return out


def version_loop(lines: list, top: int, budget: int, step: int, section: int) -> list | None:
    """The counted loop ``lines`` (as :meth:`RegionCodegen._loop` makes it,
    ``while True:`` at indentation ``top``; ``budget`` the section's
    ``max_path``, ``step`` the pass's instructions) with a fast copy in
    front -- or None when the body has no induction local."""
    pad = "    "
    if len(lines) < 4 or not lines[1].strip().startswith("for left in range("):
        return None
    i = 2
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > top + 1):
        i += 1
    if i >= len(lines) or lines[i].strip() != "else:":
        return None
    body, tail = lines[2:i], lines[i:]
    if any(ln.strip().startswith(("for ", "while ", "def ", "class ")) or FAST_N in ln for ln in body):
        return None
    # pointers (a local in an index, an address or a test) and counts (a wrap
    # folded into a jump's test): a value's wrap (an accumulator's) would end
    # the copy early
    ind = {}
    for x, v in _inductions(body).items():
        wrap = body[v[2] + 1].strip()
        rest = "\n".join(ln.strip() for j, ln in enumerate(body) if j not in (v[2], v[2] + 1))
        word = rf"(?<![\w.]){x}\b"
        if re.search(rf"\[[^\]\n]*{word}|:= [^)\n]*{word}|^if [^\n]*{word}", rest, re.M) \
                or not (_WRAP_UP.fullmatch(wrap) or _WRAP_DOWN.fullmatch(wrap)):
            ind[x] = v
    # an induction local is set only by its step until a pass sets it otherwise,
    # and a pass that does never goes round again (no continue after that)
    while True:
        where = []
        fast = _without_wraps(body, ind, where)
        limit = {}
        for x in list(ind):
            sets = [j for j, ln in enumerate(fast) if _sets(ln.strip(), x)]
            step_at = where[ind[x][2]]
            first = min((j for j in sets if j != step_at), default=len(fast))
            if step_at > first or any(
                    "continue" in ln for ln in fast[first:]):
                del ind[x]
                break
            limit[x] = first
        else:
            break
    if not ind:
        return None

    def invariant(name, at):
        # (set only after the test, by a pass that does not go round again)
        first = min((j for j, ln in enumerate(fast) if _sets(ln.strip(), name)), default=len(fast))
        return first > at and not any("continue" in ln for ln in fast[first:])
    ranges = _Ranges(ind, limit, invariant)
    fast = _drop_tests(fast, ranges)
    # worth it only when a pass's own line of code (not an arm of an if) loses a test
    base = top + 2
    if sum(_indent(ln) == base for ln in fast) >= sum(_indent(ln) == base for ln in body):
        return None
    # the else: of the loop: "left -= p", then the budget exit
    if len(tail) < 3 or tail[1].strip() != f"left -= {step}":
        return None
    exit_lines = [ln for ln in tail[2:] if _indent(ln) > top + 1]
    bounds = []
    for x, (c, mod, _) in sorted(ind.items()):
        if c > 0:
            bounds.append(f"{mod - 1} - {x}" if c == 1 else f"({mod - 1} - {x}) // {c}")
        else:
            bounds.append(x if c == -1 else f"{x} // {-c}")
    # and no more passes than the budget allows (the ranges tested stay short)
    bounds.append(f"(left - {budget}) // {step} + 1")
    n = f"min({', '.join(bounds)})"
    p0, p1, p2 = (pad * (top + k) for k in (1, 2, 3))
    out = [lines[0], f"{p0}{FAST_N} = {n}",
           f"{p0}if {' and '.join([f'{FAST_N} > 0'] + ranges.guards)}:",
           f"{p1}for left in range(left, max({budget - 1}, left - {FAST_N} * {step}), -{step}):"]
    out += [pad + ln for ln in fast]
    out += [f"{p1}else:", f"{p2}left -= {step}", f"{p2}if left < {budget}:"]
    out += [pad * 2 + ln for ln in exit_lines]
    out += [f"{p2}{FAST_N} = 0", f"{p1}if e >= 0 or pc != {section}: break", f"{p1}if {FAST_N}: continue"]
    return out + lines[1:]
