"""Assembling a great-tables table and turning it into the fragment the documents include.

HTML
----
The fragment is ``GT.as_raw_html()`` (``inline_css=False``: inlining needs the
optional ``css-inline`` package and would bloat every cell; ``make_page=False``:
a fragment, not a page) post-processed deterministically:

* the ``<style>`` block is rewritten so that every selector starts with the
  table's id (great-tables 1.1 emits ``#id thead, tbody, tfoot, tr, td, th``
  and `` tr {...}``, which restyle the whole page), rules for classes the
  fragment does not use are dropped, and duplicate rules are removed;
* footnote marks are wrapped in ``<sup>``, so that pandoc's HTML reader keeps
  them as superscripts (Typst ``#super[a]``, DOCX superscript) instead of
  gluing them to the text ("N = 5" + mark "1" would read "N = 51"); marks are
  lowercase letters, as in AMA style, so they never look like digits;
* tfoot rows are reordered: footnotes (marked) first, then source notes, as in
  gt and gtsummary; note text is wrapped so that it never widens the table;
* bold heading rows (tab_style) also get ``<strong>``, which pandoc keeps;
* indentation of level rows is made of no-break spaces rather than CSS, so it
  survives ``pandoc -f html`` (it becomes ``~`` in Typst).

No images, SVG or nested tables: pandoc reads each fragment into one native
table (title as a spanning header row, notes as footer rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analysis.tables_format import NBSP

if TYPE_CHECKING:
    from collections.abc import Sequence

    from great_tables import GT

#: Fixed id of every table, by name (the name is the file stem in :func:`write_tables`).
#: Not ``tbl-...``: the documents wrap each fragment in a ``::: {#tbl-...}`` div that
#: carries the cross-reference id, and an HTML page must not hold the same id twice.
TABLE_IDS: dict[str, str] = {
    "table1": "gt-table1",
    "table1_compact": "gt-table1-compact",
    "prior_therapy": "gt-prior-therapy",
    "psa_response": "gt-psa-response",
    "milestones": "gt-milestones",
    "milestones_compact": "gt-milestones-compact",
    "labs": "gt-labs",
    "toxicity": "gt-toxicity",
    "regression": "gt-regression",
    # follow-up tables (analysis.tables_followup), made when their data are present
    "survival": "gt-survival",
    "landmark": "gt-landmark",
    "discontinuation": "gt-discontinuation",
    "dosing": "gt-dosing",
}

#: One indentation step of a stub label (four no-break spaces ≈ 1 em).
INDENT = NBSP * 4


@dataclass
class _Frame:
    """Rows of a table under construction: stub labels, cells, and row flags."""

    columns: Sequence[str]

    def __post_init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self.bold: list[int] = []
        self.muted: list[int] = []

    def add(self, label: str, level: int = 0, **cells: str) -> int:
        unknown = set(cells) - set(self.columns)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)}")
        row = {"label": INDENT * level + label}
        row.update({c: cells.get(c, "") for c in self.columns})
        self.rows.append(row)
        return len(self.rows) - 1

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["label", *self.columns], dtype=object)


def _css(table_id: str) -> str:
    """Journal look: black rules top/below labels/bottom, no body lines, compact rows."""
    t = f"#{table_id}"
    return "\n".join(
        [
            # a floor on the width, so that the notes of a two-column table stay readable
            f"{t} .gt_table {{ margin-left: 0; margin-right: auto; color: #111111;"
            " min-width: 30em; }",
            f"{t} .gt_heading {{ text-align: left; }}",
            f"{t} .gt_title {{ font-weight: bold; font-size: 105%; padding-bottom: 6px; }}",
            f"{t} .gt_col_heading {{ font-weight: bold; vertical-align: bottom;"
            " padding-top: 4px; padding-bottom: 4px; }",
            f"{t} .gt_column_spanner {{ font-weight: bold; padding-top: 4px;"
            " padding-bottom: 2px; }",
            f"{t} .gt_row {{ padding-top: 2px; padding-bottom: 2px; }}",
            f"{t} .gt_row, {t} .gt_stub, {t} .gt_col_heading, {t} .gt_title, {t} .gt_footnote,"
            f" {t} .gt_sourcenote {{ padding-left: 6px; padding-right: 6px; }}",
            f"{t} .gt_footnote, {t} .gt_sourcenote {{ font-size: 85%; padding-top: 1px;"
            " padding-bottom: 1px; color: #333333; }",
            # notes wrap to the width the columns give the table instead of widening it
            f"{t} .gt_sourcenote .gt_from_md, {t} .gt_footnote .gt_note {{ display: block;"
            " width: 0; min-width: 100%; }",
            f"{t} .gt_footnotes {{ color: #333333; }}",
            f"{t} .gt_footnote_marks {{ font-size: 75%; font-style: normal;"
            " vertical-align: super; line-height: 0; white-space: nowrap; }",
            f"{t} tfoot tr:first-child td {{ padding-top: 4px; }}",
        ]
    )


def _gt(
    f: _Frame,
    name: str,
    title: str | None,
    labels: dict[str, str],
    stubhead: str = "",
    center: Iterable[str] = (),
) -> GT:
    """A GT with the house style, column labels and title; stub = ``label``."""
    from great_tables import GT, loc, style

    table_id = TABLE_IDS[name]
    rule = "#111111"
    gt = (
        GT(f.frame(), rowname_col="label", id=table_id)
        .tab_stubhead(stubhead)
        .cols_label(cases=labels)
        .cols_align("left", columns=list(f.columns))
        .tab_options(
            table_font_names=[
                "Helvetica Neue",
                "Helvetica",
                "Arial",
                "Liberation Sans",
                "DejaVu Sans",
                "sans-serif",
            ],
            table_font_size="13px",
            table_font_color="#111111",
            table_border_top_style="none",
            table_border_bottom_style="none",
            heading_align="left",
            heading_border_bottom_style="solid",
            heading_border_bottom_width="1.5px",
            heading_border_bottom_color=rule,
            column_labels_border_top_style="none",
            column_labels_border_bottom_style="solid",
            column_labels_border_bottom_width="1px",
            column_labels_border_bottom_color=rule,
            column_labels_font_weight="bold",
            table_body_hlines_style="none",
            table_body_border_top_style="solid",
            table_body_border_top_width="1px",
            table_body_border_top_color=rule,
            table_body_border_bottom_style="solid",
            table_body_border_bottom_width="1.5px",
            table_body_border_bottom_color=rule,
            stub_border_style="none",
            row_group_border_top_style="none",
            row_group_border_bottom_style="none",
            row_group_font_weight="bold",
            data_row_padding="2px",
            source_notes_font_size="85%",
            source_notes_padding="1px",
            footnotes_marks="letters",
            container_padding_y="6px",
        )
        .opt_css(_css(table_id))
    )
    if title:
        gt = gt.tab_header(title=title)
    center = list(center)
    if center:
        gt = gt.cols_align("center", columns=center)
    if f.bold:
        gt = gt.tab_style(style.text(weight="bold"), loc.stub(rows=f.bold))
    if f.muted:
        gt = gt.tab_style(style.text(color="#555555"), loc.stub(rows=f.muted))
        gt = gt.tab_style(style.text(color="#555555"), loc.body(rows=f.muted))
    return gt


def _notes(gt: GT, notes: Iterable[str]) -> GT:
    for note in notes:
        gt = gt.tab_source_note(note)
    return gt


# --- HTML post-processing ---------------------------------------------------------

_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_MARK = re.compile(r'<span class="gt_footnote_marks" style="[^"]*">([^<]*)</span>')
_TFOOT = re.compile(r"<tfoot>(.*?)</tfoot>", re.S)
_TFOOT_ROW = re.compile(r'<tr class="(gt_sourcenotes|gt_footnotes)">.*?</tr>', re.S)
_BOLD_STUB = re.compile(r'(<th style="font-weight: bold;" scope="row"[^>]*>)([^<]*)(</th>)')
_FOOTNOTE_CELL = re.compile(r'(<td class="gt_footnote" colspan="\d+">)(.*?)(</td>)', re.S)
_CLASS_ATTR = re.compile(r'class="([^"]*)"')
_SELECTOR_CLASS = re.compile(r"\.([A-Za-z_][\w-]*)")


def scope_css(css: str, table_id: str, used_classes: set[str] | None = None) -> str:
    """Prefix every selector with ``#table_id`` and drop unused and repeated rules.

    Parameters
    ----------
    css : str
        Plain CSS rules (no ``@`` rules, no nesting).
    table_id : str
        The id of the element that holds the table.
    used_classes : set of str, optional
        Class names present in the fragment: a selector naming any other class
        is dropped, and so is a rule left without selectors.  ``None`` keeps
        every selector.

    Returns
    -------
    str
        One rule per line, in the original order.
    """
    if "@" in css:
        raise ValueError("CSS with @-rules cannot be scoped by this function")
    prefix = f"#{table_id}"
    leftover = _RULE.sub("", css).strip()
    if leftover:
        raise ValueError(f"unparsed CSS: {leftover[:60]!r}")
    out: list[str] = []
    seen: set[str] = set()
    for selectors, body in _RULE.findall(css):
        scoped = []
        for sel in (s.strip() for s in selectors.split(",")):
            if not sel:
                continue
            if used_classes is not None and any(
                c not in used_classes for c in _SELECTOR_CLASS.findall(sel)
            ):
                continue
            if not (sel == prefix or sel.startswith((prefix + " ", prefix + ".", prefix + ":"))):
                sel = f"{prefix} {sel}"
            scoped.append(sel)
        declarations = " ".join(d.strip() + ";" for d in body.split(";") if d.strip())
        if not scoped or not declarations:
            continue
        rule = f"{', '.join(scoped)} {{ {declarations} }}"
        if rule not in seen:
            seen.add(rule)
            out.append(rule)
    return "\n".join(out)


def _footer(tfoot: str) -> str:
    """Footnotes (marked) before source notes, as in gt and gtsummary; note text wrapped."""
    rows = _TFOOT_ROW.findall(tfoot)
    matches = [m.group(0) for m in _TFOOT_ROW.finditer(tfoot)]
    if _TFOOT_ROW.sub("", tfoot).strip():
        raise ValueError("unexpected great-tables output: unknown rows in <tfoot>")
    ordered = [row for kind, row in zip(rows, matches, strict=True) if kind == "gt_footnotes"]
    ordered += [row for kind, row in zip(rows, matches, strict=True) if kind != "gt_footnotes"]
    ordered = [_FOOTNOTE_CELL.sub(r'\1<span class="gt_note">\2</span>\3', row) for row in ordered]
    return "\n".join(ordered)


def to_html(gt: GT) -> str:
    """The fragment of one table: ``as_raw_html()`` with scoped CSS and ``<sup>`` marks."""
    table_id = gt._options.table_id.value
    if not table_id:
        raise ValueError("the table needs a fixed id: GT(..., id=...)")
    html = gt.as_raw_html(inline_css=False, make_page=False)
    if not html.lstrip().startswith(f'<div id="{table_id}"'):
        raise ValueError("unexpected great-tables output: no wrapper <div> with the table id")
    html = _MARK.sub(r'<sup class="gt_footnote_marks">\1</sup>', html)
    html = _TFOOT.sub(lambda m: f"<tfoot>{_footer(m.group(1))}</tfoot>", html)
    # headings made bold with tab_style(): <strong> too, which pandoc keeps (Typst, DOCX)
    html = _BOLD_STUB.sub(r"\1<strong>\2</strong>\3", html)
    styles = _STYLE.findall(html)
    if len(styles) != 1:
        raise ValueError(f"expected one <style> block, found {len(styles)}")
    body = _STYLE.sub("", html, count=1)
    used = {c for attr in _CLASS_ATTR.findall(body) for c in attr.split()}
    css = scope_css(styles[0], table_id, used)
    html = _STYLE.sub(lambda _: f"<style>\n{css}\n</style>", html, count=1)
    lines = [line.rstrip() for line in html.strip().splitlines()]
    return "\n".join(line for line in lines if line) + "\n"
