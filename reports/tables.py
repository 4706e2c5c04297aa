"""Tables for the report: Markdown, LaTeX (booktabs), CSV and HTML from ``Result.tidy()``.

Every cell is computed from an estimator's :meth:`Result.tidy` (coefficients, standard
errors, p-values) plus the count and fit attributes of the same ``Result``; no number is typed
in. The paper's own printed numbers, for the "paper beside ours" tables, come from the package
copy of ``published.json`` (Huang and Jiang, Tables 1-3) held by :mod:`robocarbon.empirics.paper`,
and the significance stars follow its rule (:func:`robocarbon.empirics.paper.verdicts.stars`).
"""

from __future__ import annotations

import html as _html
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from robocarbon.empirics.paper import load_published  # noqa: F401 - the one copy of the printed numbers
from robocarbon.empirics.paper.verdicts import STAR_LEVELS, stars, stars_count  # noqa: F401 - the paper's rule


#: Significant digits of every printed estimate and standard error.
SIG_DIGITS = 3
#: Beyond this many decimals a number is printed in scientific notation.
MAX_DECIMALS = 6


def _decimals_needed(x: float, sig: int) -> int:
    """Decimals that show ``sig`` significant digits of the nonzero ``x``."""
    return sig - 1 - math.floor(math.log10(abs(x)))


def fmt(x: Any, digits: int = 3, *, sig: int = SIG_DIGITS, decimals: int | None = None,
        sci: bool | None = None) -> str:
    """The one formatter of every number in tables and report prose.

    Parameters
    ----------
    x
        The value; ``None`` and non-finite values print blank, strings pass through, booleans
        print ``yes``/``no``, integers print with thousands separators.
    digits
        The minimum number of decimals (the paper's tables print 3).
    sig
        The minimum number of significant digits; a float gets
        ``max(digits, decimals for sig significant digits)`` decimals, so a nonzero number never
        prints as zero. Beyond :data:`MAX_DECIMALS` decimals it prints in scientific notation
        (``-2.79e-06``).
    decimals
        Force this many decimals (used by :func:`fmt_pair` to print an estimate and its SE alike);
        ``None`` derives them from ``x``.
    sci
        Accepted for backward compatibility and ignored: tiny numbers always print in scientific
        notation rather than as zero.

    Examples
    --------
    >>> fmt(0.0157), fmt(-2.785e-06), fmt(12.5), fmt(0.0)
    ('0.0157', '-2.79e-06', '12.500', '0.000')
    """
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    xf = float(x)
    if not math.isfinite(xf):
        return ""
    if xf == 0:
        return f"{0.0:.{max(digits, 0)}f}"  # no "-0.000"
    d = decimals if decimals is not None else max(digits, _decimals_needed(xf, sig))
    if d == "sci" or d > MAX_DECIMALS:
        return f"{xf:.{sig - 1}e}"
    out = f"{xf:.{max(d, 0)}f}"
    if float(out) == 0:  # forced decimals too few for this number
        return f"{xf:.{sig - 1}e}"
    return out


def pair_decimals(values: Sequence[Any], digits: int = 3, *, sig: int = SIG_DIGITS) -> Any:
    """Decimals shared by related numbers (an estimate and its SE): enough for ``sig``
    significant digits of each nonzero one, at least ``digits``; ``"sci"`` beyond
    :data:`MAX_DECIMALS`."""
    d = digits
    for v in values:
        try:
            vf = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(vf) and vf != 0:
            d = max(d, _decimals_needed(vf, sig))
    return "sci" if d > MAX_DECIMALS else d


def fmt_pair(estimate: Any, std_error: Any, digits: int = 3, *, sig: int = SIG_DIGITS) -> tuple[str, str]:
    """An estimate and its standard error with the same decimals (or both scientific), each
    with at least ``sig`` significant digits; never a nonzero number as zero.

    >>> fmt_pair(-2.785e-06, 1.2e-06)
    ('-2.79e-06', '1.20e-06')
    >>> fmt_pair(0.5, 0.0123)
    ('0.5000', '0.0123')
    """
    d = pair_decimals([estimate, std_error], digits, sig=sig)
    return fmt(estimate, digits, sig=sig, decimals=d), fmt(std_error, digits, sig=sig, decimals=d)


@dataclass
class Table:
    """A rendered table: display cells for humans, a numeric long frame for machines.

    Attributes
    ----------
    name
        File stem, e.g. ``"table2"`` (gives ``tables/table2.tex`` and ``tables/table2.csv``).
    title
        Caption.
    display
        DataFrame of strings: the table as printed (first column = row labels).
    data
        Numeric long-form DataFrame written to CSV (the computed values, full precision).
    notes
        Footnotes (which R-squared, clustering, stars...).
    """

    name: str
    title: str
    display: pd.DataFrame
    data: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    # -------------------------------------------------------------- renderers
    def to_markdown(self) -> str:
        cols = [str(c) for c in self.display.columns]
        esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
        lines = [f"**{self.title}**", "", "| " + " | ".join(esc(c) for c in cols) + " |"]
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|")
        for row in self.display.itertuples(index=False):
            lines.append("| " + " | ".join(esc(v) for v in row) + " |")
        if self.notes:
            lines.append("")
            lines.extend(f"*{n}*" for n in self.notes)
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        cols = [str(c) for c in self.display.columns]
        spec = "l" + "c" * (len(cols) - 1)
        out = [
            "% generated by robocarbon replicate; requires \\usepackage{booktabs}",
            "\\begin{table}[htbp]",
            "\\centering",
            f"\\caption{{{latex_caption(self.title)}}}",
            f"\\label{{tab:{self.name}}}",
            f"\\begin{{tabular}}{{{spec}}}",
            "\\toprule",
            " & ".join(latex_escape(c) for c in cols) + " \\\\",
            "\\midrule",
        ]
        for row in self.display.itertuples(index=False):
            out.append(" & ".join(latex_escape(v) for v in row) + " \\\\")
        out.append("\\bottomrule")
        out.append("\\end{tabular}")
        if self.notes:
            out.append("\\par\\smallskip\\footnotesize " + " ".join(latex_escape(n) for n in self.notes))
        out.append("\\end{table}")
        return "\n".join(out) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        self.data.to_csv(buf, index=False, float_format="%.10g")
        return buf.getvalue()

    def to_html(self) -> str:
        cols = [str(c) for c in self.display.columns]
        h = [f'<table class="results" id="tab-{_html.escape(self.name)}">',
             f"<caption>{_html.escape(self.title)}</caption>", "<thead><tr>"]
        text_col = [i > 0 and not all(_numeric_cell(v) for v in self.display.iloc[:, i]) for i in range(len(cols))]
        h += [("<th>" if not text_col[i] else '<th class="txt">') + f"{_html.escape(c)}</th>"
              for i, c in enumerate(cols)]
        h.append("</tr></thead><tbody>")
        for row in self.display.itertuples(index=False):
            cells = [f'<th scope="row">{_html.escape(str(row[0]))}</th>']
            cells += [("<td>" if _numeric_cell(v) else '<td class="txt">') + f"{_html.escape(str(v))}</td>"
                      for v in row[1:]]
            h.append("<tr>" + "".join(cells) + "</tr>")
        h.append("</tbody></table>")
        if self.notes:
            h.append('<p class="notes">' + "<br>".join(_html.escape(n) for n in self.notes) + "</p>")
        return "\n".join(h)


_NUMERIC_CELL = re.compile(r"^[-+(]?[\d.,]+(e[-+]?\d+)?\)?\**$|^$")


def _numeric_cell(v: Any) -> bool:
    return bool(_NUMERIC_CELL.match(str(v).strip()))


_LATEX_TEXT = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
               "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
               "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\ldots{}",
               "\u00a0": "~", "§": r"\S{}", "é": r"\'e", "è": r"\`e", "ü": r'\"u', "ö": r'\"o',
               "ä": r'\"a', "á": r"\'a", "í": r"\'i", "ó": r"\'o", "ú": r"\'u", "ñ": r"\~n"}
_LATEX_MATH = {"<": "<", ">": ">", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "≈": r"\approx",
               "×": r"\times", "−": "-", "±": r"\pm", "·": r"\cdot", "→": r"\rightarrow",
               "←": r"\leftarrow", "∞": r"\infty", "√": r"\surd", "°": r"^{\circ}", "∑": r"\sum",
               "∂": r"\partial", "∈": r"\in", "|": "|", "ϵ": r"\epsilon", "ϑ": r"\vartheta",
               "⁰": "^{0}", "¹": "^{1}", "²": "^{2}", "³": "^{3}", "⁴": "^{4}", "⁵": "^{5}",
               "⁶": "^{6}", "⁷": "^{7}", "⁸": "^{8}", "⁹": "^{9}", "⁻": "^{-}", "⁺": "^{+}",
               "₀": "_{0}", "₁": "_{1}", "₂": "_{2}", "₃": "_{3}", "₄": "_{4}", "₅": "_{5}",
               "₆": "_{6}", "₇": "_{7}", "₈": "_{8}", "₉": "_{9}", "ᵢ": "_{i}", "ₜ": "_{t}"}
_GREEK_LATEX = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
                "lamda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
                "omega"}
_GREEK_UPPER_LATEX = {"gamma", "delta", "theta", "lamda", "xi", "pi", "sigma", "upsilon", "phi", "psi", "omega"}
_COMBINING = {"\u0302": r"\hat", "\u0303": r"\tilde", "\u0304": r"\bar", "\u0307": r"\dot"}
# "p<0.01", "p < 0.05", "p>=0.1": printed as one math expression
_P_CUT = re.compile(r"\b([pPtFN])\s*(<=|>=|<|>|≤|≥)\s*(\d+(?:\.\d+)?)")


def _greek(ch: str) -> str | None:
    import unicodedata

    name = unicodedata.name(ch, "")
    for prefix, upper in (("GREEK SMALL LETTER ", False), ("GREEK CAPITAL LETTER ", True)):
        if name.startswith(prefix):
            word = name[len(prefix):].lower().replace("final ", "")
            if word.endswith(" symbol"):
                word = word[:-7]
                return "\\var" + ("epsilon" if word == "lunate epsilon" else word)
            if upper:
                if word in _GREEK_UPPER_LATEX:
                    return "\\" + word.capitalize().replace("Lamda", "Lambda")
                return None  # capital alpha etc. look like Latin letters
            if word in _GREEK_LATEX:
                return "\\" + word.replace("lamda", "lambda")
    return None


def _math_of(ch: str) -> str | None:
    if ch in _LATEX_MATH:
        return _LATEX_MATH[ch]
    return _greek(ch)


def latex_escape(s: Any) -> str:
    """Text for a LaTeX document in pure ASCII: special characters escaped, Greek letters,
    relations (``<``, ``≤``), super- and subscripts in math mode (``$\\gamma$``, ``$p<0.01$``),
    accents and dashes as LaTeX commands; any other non-ASCII character is transliterated."""
    import unicodedata

    s = str(s)
    s = _P_CUT.sub(lambda m: "\x00" + m.group(1) + _LATEX_MATH.get(m.group(2), m.group(2))
                   .replace("<=", r"\leq").replace(">=", r"\geq") + m.group(3) + "\x01", s)
    out: list[str] = []
    math: list[str] = []  # pending math-mode tokens

    def flush() -> None:
        if math:
            out.append("$" + " ".join(math).replace(" ^", "^").replace(" _", "_") + "$")
            math.clear()

    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\x00":  # a whole p<0.01 expression
            j = s.index("\x01", i)
            flush()
            out.append("$" + s[i + 1:j] + "$")
            i = j + 1
            continue
        nxt = s[i + 1] if i + 1 < len(s) else ""
        if nxt in _COMBINING:
            base = _math_of(ch) or (ch if ch.isascii() and ch.isalnum() else None)
            if base is not None:
                math.append(f"{_COMBINING[nxt]}{{{base}}}")
                i += 2
                continue
        m = _math_of(ch)
        if m is not None:
            math.append(m)
            i += 1
            continue
        flush()
        if ch in _LATEX_TEXT:
            out.append(_LATEX_TEXT[ch])
        elif ch.isascii():
            out.append(ch)
        elif unicodedata.category(ch).startswith("M"):
            pass  # a combining mark without a base we can set
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
            out.append("".join(_LATEX_TEXT.get(c, c) for c in plain) if plain else "?")
        i += 1
    flush()
    return "".join(out)


_TABLE_PREFIX = re.compile(r"^\s*Table\s+([A-Za-z]?\d+[a-z]?)\s*(?:\(([^)]*)\))?\s*[.:]?\s*", re.IGNORECASE)


def latex_caption(title: str) -> str:
    """The caption text: LaTeX prints "Table n:" itself, so a leading "Table 2." of the title
    moves to the end as the paper's number ("Baseline (paper's Table 2)"): the caption starts
    with the table's own number once."""
    title = str(title)
    m = _TABLE_PREFIX.match(title)
    if m and title[m.end():].strip():
        where = f"paper's Table {m.group(1)}" + (f", {m.group(2)}" if m.group(2) else "")
        title = f"{title[m.end():].rstrip('. ')} ({where})"
    return latex_escape(title)


# ---------------------------------------------------------------------------- regression tables
def _r2(res: Any, which: str) -> float | None:
    return getattr(res, which, None)


def regression_table(
    name: str,
    title: str,
    models: Sequence[tuple[str, Any]],
    *,
    terms: Sequence[str] | None = None,
    term_labels: Mapping[str, str] | None = None,
    rows_extra: Mapping[str, Sequence[Any]] | None = None,
    r2: str = "r2_with_fe",
    digits: int = 3,
    notes: Sequence[str] = (),
) -> Table:
    """Coefficients (standard errors in parentheses, stars) side by side, one column per model.

    Parameters
    ----------
    models
        ``(column label, Result)`` pairs; the cells come from ``Result.tidy()``.
    terms
        Terms to show, in order (default: every term of every model, first-seen order).
    term_labels
        Display names per term.
    rows_extra
        Extra rows below the coefficients (e.g. ``{"Controls": ["no", "yes"]}``), one value per
        model.
    r2
        Which R-squared to print, ``"r2_with_fe"`` or ``"r2_within"`` (named in the notes).
    """
    tidies = [(lab, res.tidy()) for lab, res in models]
    if terms is None:
        seen: list[str] = []
        for _, t in tidies:
            seen += [x for x in t["term"] if x not in seen]
        terms = seen
    term_labels = dict(term_labels or {})
    cols = ["", *[lab for lab, _ in models]]
    rows: list[list[str]] = []
    long = []
    for term in terms:
        est_row = [term_labels.get(term, term)]
        se_row = [""]
        for (lab, t), (_, res) in zip(tidies, models):
            hit = t[t["term"] == term]
            if hit.empty:
                est_row.append("")
                se_row.append("")
                continue
            r = hit.iloc[0]
            e_txt, se_txt = fmt_pair(r["estimate"], r["std_error"], digits)
            est_row.append(e_txt + stars(r["p_value"]))
            se_row.append(f"({se_txt})" if se_txt else "")
            long.append({"model": lab, **{k: r[k] for k in t.columns}})
        rows += [est_row, se_row]
    for key, vals in (rows_extra or {}).items():
        rows.append([key, *[fmt(v) for v in vals]])
    rows.append(["Observations", *[fmt(int(res.nobs)) for _, res in models]])
    r2_label = "R² (within)" if r2 == "r2_within" else "R² (with fixed effects)"
    rows.append([r2_label, *[fmt(_r2(res, r2), 3) for _, res in models]])
    for lab, res in models:
        long.append({"model": lab, "term": "_nobs", "estimate": float(res.nobs)})
        v = _r2(res, r2)
        long.append({"model": lab, "term": f"_{r2}", "estimate": np.nan if v is None else float(v)})
    display = pd.DataFrame(rows, columns=cols)
    data = pd.DataFrame(long)
    all_notes = list(notes) + [
        "Standard errors in parentheses; *** p<0.01, ** p<0.05, * p<0.10.",
        f"{r2_label} is printed.",
    ]
    return Table(name, title, display, data, all_notes)


def frame_table(name: str, title: str, frame: pd.DataFrame, *, digits: int = 3,
                notes: Sequence[str] = ()) -> Table:
    """A table from a computed DataFrame (first column = row label), numbers formatted."""
    disp = frame.copy()
    for c in disp.columns:
        disp[c] = [fmt(v, digits) for v in disp[c]]
    return Table(name, title, disp.astype(str), frame.reset_index(drop=True), list(notes))


# ---------------------------------------------------------------------------- paper beside ours
def beside_table(name: str, title: str, rows: Sequence[Mapping[str, Any]], *, digits: int = 3,
                 notes: Sequence[str] = ()) -> Table:
    """The "paper beside ours" table: quantity, published, ours, difference (ours - published).

    ``rows`` are dicts with ``quantity``, ``published`` and ``ours`` (floats; ``ours`` may be
    None when not computed, then the difference is blank).
    """
    recs = []
    for r in rows:
        pub = r.get("published")
        ours = r.get("ours")
        diff = None if (pub is None or ours is None or not np.isfinite(ours)) else float(ours) - float(pub)
        recs.append({"quantity": r["quantity"], "published": pub, "ours": ours, "difference": diff})
    data = pd.DataFrame(recs, columns=["quantity", "published", "ours", "difference"])
    # counts (N, stars) are printed as integers
    is_count = [isinstance(r.get("published"), (int, np.integer)) and not isinstance(r.get("published"), bool)
                for r in rows]

    def cell(v: Any, count: bool) -> str:
        if count and v is not None and np.isfinite(v):
            return fmt(int(round(float(v))))
        return fmt(v, digits)

    disp = pd.DataFrame(
        {
            "Quantity": data["quantity"],
            "Paper": [cell(v, c) for v, c in zip(data["published"], is_count)],
            "Ours": [cell(v, c) for v, c in zip(data["ours"], is_count)],
            "Difference": [cell(v, c) for v, c in zip(data["difference"], is_count)],
        }
    )
    return Table(name, title, disp, data, list(notes) + [
        "Paper: the number printed in Huang and Jiang; Ours: computed in this run; "
        "Difference = ours - paper."
    ])


def beside_wide_table(name: str, title: str, rows: Sequence[Mapping[str, Any]], *, stats: Sequence[str],
                      digits: int = 3, notes: Sequence[str] = ()) -> Table:
    """The "paper beside ours" table with one row per item and, per statistic, the paper's
    number, ours and the difference side by side. ``rows`` are dicts with ``item``, ``stat``,
    ``published`` and ``ours``; the CSV keeps the long form with the difference."""
    long = beside_table(name, title, [{"quantity": f"{r['item']} {r['stat']}", **r} for r in rows],
                        digits=digits).data
    long.insert(0, "stat", [r["stat"] for r in rows])
    long.insert(0, "item", [r["item"] for r in rows])
    items = list(dict.fromkeys(r["item"] for r in rows))
    cols = [""]
    for st in stats:
        cols += [f"{st}: paper", f"{st}: ours", f"{st}: diff"]
    disp = []
    for it in items:
        line = [it]
        for st in stats:
            hit = long[(long["item"] == it) & (long["stat"] == st)]
            if hit.empty:
                line += ["", "", ""]
            else:
                r = hit.iloc[0]
                line += [fmt(r["published"], digits), fmt(r["ours"], digits), fmt(r["difference"], digits)]
        disp.append(line)
    return Table(name, title, pd.DataFrame(disp, columns=cols), long.drop(columns=["quantity"]),
                 list(notes) + ["paper: printed in Huang and Jiang; ours: computed in this run; "
                                "diff = ours - paper."])
