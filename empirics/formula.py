"""A fixest-style model formula: ``y ~ x1 + x2 | fe1 + fe2 | endog ~ z1 + z2``.

Grammar (whitespace is free)::

    formula   := lhs "~" rhs [ "|" fixed_effects ] [ "|" endogenous "~" instruments ]
    rhs       := term ("+" term)*  |  "0" / "-1" to drop the intercept, "1" for only it
    term      := factor (":" factor)*  |  factor "*" factor   (a*b = a + b + a:b)
    factor    := NAME | l(NAME, k) | f(NAME, k) | d(NAME) | log(NAME) | i(NAME)

- ``l(x, k)`` is x lagged k periods within the entity (``l(x, -k)`` or ``f(x, k)`` a lead); a gap in
  the time index gives a missing lag, never the previous row (see :func:`data.lag`);
- ``d(x)`` is the first difference x - l(x, 1);
- ``log(x)`` the natural logarithm (non-positive values are an input error);
- ``i(x)`` dummies for the levels of x, the first level omitted.

The fixed-effects part lists columns whose levels are absorbed (``0`` means none). Without fixed
effects the model has an intercept named ``Intercept`` unless the right-hand side has ``0``/``-1``.

A parse error is an :class:`~robocarbon.empirics.errors.InputError` that quotes the formula and
points at the offending token.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field

from .errors import InputError

_FUNCS = {"l": 2, "f": 2, "d": 1, "log": 1, "i": 1}


@dataclass(frozen=True)
class Factor:
    """One variable, possibly transformed: kind in {"var", "lag", "log", "i", "diff"}."""

    kind: str
    var: str
    k: int = 0

    @property
    def name(self) -> str:
        if self.kind == "var":
            return self.var
        if self.kind == "lag":
            return f"l({self.var},{self.k})" if self.k >= 0 else f"f({self.var},{-self.k})"
        if self.kind == "diff":
            return f"d({self.var})"
        return f"{self.kind}({self.var})"


@dataclass(frozen=True)
class Term:
    factors: tuple[Factor, ...]

    @property
    def name(self) -> str:
        return ":".join(f.name for f in self.factors)


@dataclass(frozen=True)
class Formula:
    """A parsed formula."""

    text: str
    lhs: Factor
    terms: tuple[Term, ...]
    intercept: bool
    fixed_effects: tuple[str, ...] = ()
    endogenous: tuple[Term, ...] = ()
    instruments: tuple[Term, ...] = ()
    positions: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_iv(self) -> bool:
        return bool(self.endogenous)

    def variables(self) -> list[str]:
        """Every data column the formula refers to (outcome, regressors, FE, IV parts)."""
        out: list[str] = [self.lhs.var]
        for t in self.terms + self.endogenous + self.instruments:
            out += [f.var for f in t.factors]
        out += list(self.fixed_effects)
        return list(dict.fromkeys(out))

    def lags(self) -> list[Factor]:
        facs = [self.lhs] + [f for t in self.terms + self.endogenous + self.instruments for f in t.factors]
        return [f for f in facs if f.kind in ("lag", "diff")]

    def logs(self) -> list[str]:
        facs = [self.lhs] + [f for t in self.terms + self.endogenous + self.instruments for f in t.factors]
        return list(dict.fromkeys(f.var for f in facs if f.kind == "log"))


_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)|(?P<op>[~|+*:(),^-]))"
)


def _error(text: str, pos: int, msg: str) -> InputError:
    pointer = " " * pos + "^"
    return InputError(f"formula: {msg} at position {pos + 1}\n  {text}\n  {pointer}", column=None)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    toks = []
    pos = 0
    n = len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        val = m.group(kind)
        start = m.start(kind)
        toks.append((kind, val, start))
        pos = m.end()
    return toks


class _Parser:
    def __init__(self, text: str, toks: list[tuple[str, str, int]]):
        self.text = text
        self.toks = toks
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "", len(self.text))

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expect(self, val: str):
        t = self.take()
        if t[1] != val:
            what = "end of formula" if t[0] == "end" else repr(t[1])
            raise _error(self.text, t[2], f"expected {val!r}, found {what}")
        return t

    def factor(self) -> Factor:
        kind, val, pos = self.take()
        if kind != "name":
            what = "end of formula" if kind == "end" else repr(val)
            raise _error(self.text, pos, f"expected a variable name, found {what}")
        if self.peek()[1] != "(":
            return Factor("var", val)
        if val not in _FUNCS:
            raise _error(self.text, pos, f"unknown function {val!r} (use l, f, d, log, i)")
        self.take()
        k2, var, p2 = self.take()
        if k2 != "name":
            raise _error(self.text, p2, f"expected a variable name inside {val}(...)")
        k = 1
        if val in ("l", "f"):
            if self.peek()[1] == ",":
                self.take()
                k3, num, p3 = self.take()
                if k3 != "num" or not re.fullmatch(r"-?\d+", num):
                    raise _error(self.text, p3, f"the lag order of {val}() must be an integer")
                k = int(num)
            if val == "f":
                k = -k
            self.expect(")")
            return Factor("lag", var, k)
        self.expect(")")
        return Factor({"log": "log", "i": "i", "d": "diff"}[val], var)

    def term(self) -> list[Term]:
        facs = [self.factor()]
        while self.peek()[1] == ":":
            self.take()
            facs.append(self.factor())
        if self.peek()[1] == "*":
            self.take()
            right = [self.factor()]
            while self.peek()[1] == ":":
                self.take()
                right.append(self.factor())
            return [Term(tuple(facs)), Term(tuple(right)), Term(tuple(facs + right))]
        return [Term(tuple(facs))]

    def terms(self, stop: tuple[str, ...], allow_const: bool) -> tuple[list[Term], bool | None]:
        out: list[Term] = []
        intercept: bool | None = None
        first = True
        while True:
            kind, val, pos = self.peek()
            if not first:
                if val == "+":
                    self.take()
                    kind, val, pos = self.peek()
                elif not (val == "-1" or val == "-"):
                    break
            first = False
            if kind == "num" or val == "-":
                if not allow_const:
                    raise _error(self.text, pos, "a constant is not allowed here")
                self.take()
                if val == "-":
                    kind, val, pos = self.take()
                    val = "-" + val
                if val in ("0", "-1"):
                    intercept = False
                elif val == "1":
                    intercept = True
                else:
                    raise _error(self.text, pos, f"unexpected number {val}")
                continue
            out += self.term()
        if self.peek()[0] != "end" and self.peek()[1] not in stop:
            kind, val, pos = self.peek()
            raise _error(self.text, pos, f"unexpected {val!r}")
        return out, intercept


def _split_top(text: str) -> list[tuple[str, int]]:
    parts, depth, start = [], 0, 0
    for j, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append((text[start:j], start))
            start = j + 1
    parts.append((text[start:], start))
    return parts


def parse_formula(text: str) -> Formula:
    """Parse a formula string into a :class:`Formula` (raises InputError pointing at the token)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("formula: empty formula; expected something like 'y ~ x | entity + year'")
    return _parse_cached(text)


@lru_cache(maxsize=256)
def _parse_cached(text: str) -> Formula:
    if not text.strip():
        raise InputError("formula: empty formula; expected something like 'y ~ x | entity + year'")
    toks = _tokenize(text)
    depth = 0
    for kind, val, pos in toks:
        if val == "(":
            depth += 1
        elif val == ")":
            depth -= 1
            if depth < 0:
                raise _error(text, pos, "unbalanced ')'")
    if depth != 0:
        raise _error(text, len(text.rstrip()), "missing ')'")
    p = _Parser(text, toks)
    lhs_fac = p.factor()
    if lhs_fac.kind == "i":
        raise _error(text, toks[0][2], "the outcome cannot be i(...)")
    p.expect("~")
    terms, intercept = p.terms(("|",), allow_const=True)
    fes: list[str] = []
    endog: list[Term] = []
    insts: list[Term] = []
    nbar = 0
    while p.peek()[1] == "|":
        bar = p.take()
        nbar += 1
        if nbar > 2:
            raise _error(text, bar[2], "at most two '|' (fixed effects, then endogenous ~ instruments)")
        # is this part an IV part? look for '~' before the next '|'
        j = p.i
        has_tilde = False
        while j < len(toks) and toks[j][1] != "|":
            if toks[j][1] == "~":
                has_tilde = True
            j += 1
        if has_tilde:
            if endog:
                raise _error(text, bar[2], "two IV parts")
            et, _ = p.terms(("~",), allow_const=False)
            if not et:
                raise _error(text, p.peek()[2], "no endogenous regressor before '~'")
            p.expect("~")
            it, _ = p.terms(("|",), allow_const=False)
            if not it:
                raise _error(text, p.peek()[2], "no instrument after '~'")
            endog, insts = et, it
        else:
            if endog:
                raise _error(text, bar[2], "the fixed effects must come before the IV part")
            kind, val, pos = p.peek()
            if val == "0":
                p.take()
            else:
                while True:
                    kind, val, pos = p.take()
                    if kind != "name":
                        what = "end of formula" if kind == "end" else repr(val)
                        raise _error(text, pos, f"expected a fixed-effect column name, found {what}")
                    if p.peek()[1] == "(":
                        raise _error(text, p.peek()[2], "fixed effects must be plain column names")
                    fes.append(val)
                    if p.peek()[1] == "+":
                        p.take()
                        continue
                    break
            if p.peek()[0] != "end" and p.peek()[1] != "|":
                raise _error(text, p.peek()[2], f"unexpected {p.peek()[1]!r} in the fixed effects")
    if p.peek()[0] != "end":
        raise _error(text, p.peek()[2], f"unexpected {p.peek()[1]!r}")
    # deduplicate terms, keep order
    seen: dict[str, Term] = {}
    for t in terms:
        seen.setdefault(t.name, t)
    terms = list(seen.values())
    if intercept is None:
        intercept = not fes
    if fes:
        intercept = False  # absorbed by the fixed effects
    names = [t.name for t in terms]
    for t in endog:
        if t.name in names:
            raise InputError(f"formula: {t.name!r} is both exogenous and endogenous\n  {text}")
    for t in insts:
        if t.name in names:
            raise InputError(
                f"formula: {t.name!r} is an included regressor; list only excluded instruments "
                f"after '~'\n  {text}"
            )
    if len(set(fes)) != len(fes):
        raise InputError(f"formula: a fixed effect is listed twice\n  {text}")
    return Formula(
        text=text,
        lhs=lhs_fac,
        terms=tuple(terms),
        intercept=bool(intercept),
        fixed_effects=tuple(fes),
        endogenous=tuple(endog),
        instruments=tuple(insts),
    )
