"""MathML (presentation) from sympy objects, for equations that render offline in a browser.

The report renders every equation from the same sympy object that the theory tests verify
(:func:`robocarbon.theory.ledger.equation_exprs`), so what the reader sees is what was checked.
The output is MathML Core (``<math>`` with ``mrow``, ``mi``, ``mo``, ``mn``, ``mfrac``,
``msup``, ``msub``, ``msubsup``, ``msqrt``, ``mtable``...), which Chromium, Firefox and Safari
render natively, without JavaScript or fonts from the network.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from typing import Any

import sympy
from sympy.printing.mathml import MathMLPresentationPrinter

MATHML_NS = "http://www.w3.org/1998/Math/MathML"

# elements of MathML Core (https://www.w3.org/TR/mathml-core/); anything else is rewritten or
# rejected, because a browser would render it as a bare mrow (no fences, no layout)
CORE_ELEMENTS = frozenset(
    "math annotation annotation-xml maction merror mfrac mi mmultiscripts mn mo mover mpadded "
    "mphantom mprescripts mroot mrow ms mspace msqrt mstyle msub msubsup msup mtable mtd mtext "
    "mtr munder munderover semantics none".split()
)

_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*|#x[0-9A-Fa-f]+|#[0-9]+);")
_KEEP = {"lt", "gt", "amp", "quot", "apos"}


def _entities_to_chars(text: str) -> str:
    """Replace HTML named and numeric entities by their characters (except the XML five)."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in _KEEP:
            return m.group(0)
        char = html.unescape(m.group(0))
        if char == m.group(0):  # unknown entity: keep it visible rather than break the XML
            return "&amp;" + name + ";"
        return html.escape(char, quote=False)

    return _ENTITY.sub(repl, text)


def _fix_text_nodes(text: str) -> str:
    """Escape stray ``<``/``>`` characters printed inside token elements (e.g. ``<mo>></mo>``)."""
    return re.sub(
        r"<(mo|mi|mn|mtext)>([^<]*?)</\1>",
        lambda m: f"<{m.group(1)}>" + m.group(2).replace(">", "&gt;") + f"</{m.group(1)}>",
        text.replace("<mo><</mo>", "<mo>&lt;</mo>").replace("<mo><=</mo>", "<mo>&lt;=</mo>"),
    )


def _rewrite_noncore(elem: ET.Element) -> None:
    """Rewrite non-Core elements in place: ``mfenced`` becomes an ``mrow`` with ``mo`` fences."""
    for child in list(elem):
        _rewrite_noncore(child)
    tag = elem.tag.split("}")[-1]
    if tag == "mfenced":
        open_, close = elem.get("open", "("), elem.get("close", ")")
        seps = elem.get("separators", ",")
        kids = list(elem)
        for k in kids:
            elem.remove(k)
        elem.tag = "mrow"
        elem.attrib.clear()
        first = ET.SubElement(elem, "mo")
        first.text = open_
        for i, k in enumerate(kids):
            if i:
                sep = ET.SubElement(elem, "mo")
                sep.text = seps[min(i - 1, len(seps) - 1)] if seps else ","
            elem.append(k)
        last = ET.SubElement(elem, "mo")
        last.text = close
    elif tag == "mml:mfenced":  # pragma: no cover - sympy never prefixes
        raise ValueError("unexpected prefixed element")


class _Printer(MathMLPresentationPrinter):
    """sympy's presentation printer with readable function names, piecewise cases and ln."""

    def _print_Function(self, e):
        name = self.mathml_tag(e)
        if isinstance(e, sympy.core.function.AppliedUndef):
            name = e.func.__name__  # keep the case: gamma_L, not gamma_l
        if name == "log":
            head = self.dom.createElement("mi")
            head.appendChild(self.dom.createTextNode("ln"))
        elif name in ("exp",):
            return super()._print_Function(e)
        else:
            # a Symbol of the same name gets greek letters and subscripts (gamma_m -> γ_m)
            head = self._print(sympy.Symbol(name))
        mrow = self.dom.createElement("mrow")
        mrow.appendChild(head)
        mrow.appendChild(self._paren_comma_separated(*e.args))
        return mrow

    def _print_Piecewise(self, e):
        mrow = self.dom.createElement("mrow")
        brace = self.dom.createElement("mo")
        # a scaled brace: stretching needs a font with an OpenType MATH table, which a reader
        # may not have, so the brace is sized by the number of cases instead
        brace.setAttribute("stretchy", "false")
        brace.setAttribute("form", "prefix")
        brace.setAttribute("mathsize", f"{1.1 * len(e.args) + 0.2:.1f}em")
        brace.appendChild(self.dom.createTextNode("{"))
        mrow.appendChild(brace)
        table = self.dom.createElement("mtable")
        table.setAttribute("columnalign", "left left")
        for expr, cond in e.args:
            tr = self.dom.createElement("mtr")
            td1 = self.dom.createElement("mtd")
            td1.setAttribute("style", "text-align: left")
            td1.appendChild(self._print(expr))
            td2 = self.dom.createElement("mtd")
            td2.setAttribute("style", "text-align: left")
            inner = self.dom.createElement("mrow")
            txt = self.dom.createElement("mtext")
            txt.appendChild(self.dom.createTextNode("otherwise" if cond == sympy.true else "if\u2003"))
            inner.appendChild(txt)
            if cond != sympy.true:
                inner.appendChild(self._print(cond))
            td2.appendChild(inner)
            tr.appendChild(td1)
            tr.appendChild(td2)
            table.appendChild(tr)
        mrow.appendChild(table)
        return mrow


def _sympy_mathml(expr: Any, printer: str = "presentation") -> str:
    return _Printer({"ln_notation": True}).doprint(expr)


def to_mathml(expr: Any, *, display: str = "block", label: str | None = None) -> str:
    """Presentation MathML for a sympy object, wrapped in ``<math>``.

    Parameters
    ----------
    expr
        Any sympy object (expression, ``Eq``, relational); plain Python numbers are sympified.
    display
        ``"block"`` (own line) or ``"inline"``.
    label
        Optional accessible label (``aria-label``), e.g. the paper's equation number.

    Returns
    -------
    str
        A well-formed ``<math xmlns="http://www.w3.org/1998/Math/MathML" display="...">``
        element using only MathML Core elements.

    Notes
    -----
    Uses ``sympy.printing.mathml.mathml(expr, printer="presentation")``; HTML named entities
    (``&InvisibleTimes;``) become characters so the result is also valid XML, and the
    deprecated ``mfenced`` becomes ``mrow`` with explicit ``mo`` fences.
    """
    if display not in ("block", "inline"):
        raise ValueError(f"display must be 'block' or 'inline', got {display!r}")
    expr = sympy.sympify(expr)
    if isinstance(expr, sympy.Tuple):  # a list of equations: one line, comma separated
        body = '<mo separator="true">,</mo><mspace width="1em"></mspace>'.join(
            _sympy_mathml(e) for e in expr.args)
        body = f"<mrow>{body}</mrow>"
    else:
        body = _sympy_mathml(expr, printer="presentation")
    body = _fix_text_nodes(_entities_to_chars(body))
    root = ET.fromstring(f'<math xmlns="{MATHML_NS}">{body}</math>')
    # ElementTree attaches the namespace to every tag; strip it for the HTML serialisation
    for el in root.iter():
        el.tag = el.tag.split("}")[-1]
    _rewrite_noncore(root)
    for el in root.iter():  # plain letters render with any font (no double-struck e and d)
        if el.text in ("\u2147", "\u2146"):
            el.text = {"\u2147": "e", "\u2146": "d"}[el.text]
    bad = sorted({el.tag for el in root.iter()} - CORE_ELEMENTS)
    if bad:
        raise ValueError(f"MathML for {expr!s:.60} uses non-Core elements {bad}")
    inner = "".join(ET.tostring(child, encoding="unicode") for child in root)
    attrs = f' display="{display}"' + (f' aria-label="{html.escape(label)}"' if label else "")
    return f'<math xmlns="{MATHML_NS}"{attrs}>{inner}</math>'


def equation_block(printed: Any, derived: Any, *, eq_id: str) -> dict[str, str]:
    """MathML for one ledger equation: the paper's printed form and the derived form."""
    out = {"id": str(eq_id)}
    out["printed"] = to_mathml(printed, label=f"equation ({eq_id}) as printed") if printed is not None else ""
    out["derived"] = to_mathml(derived, label=f"equation ({eq_id}) as derived") if derived is not None else ""
    return out


def to_latex(expr: Any) -> str:
    """LaTeX for the Markdown report (the same sympy object)."""
    return sympy.latex(sympy.sympify(expr))
