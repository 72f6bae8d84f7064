"""The PDF poster's column balance, handed to the HTML poster so that both show the same.

The PDF poster (``typst/poster.typ``, ``poster-flow``) measures its units and
chooses which optional figures it keeps, how wide its figures are and where
its columns break; it records the choice as ``<psma-poster-flow>`` metadata.
The HTML poster balances itself in the browser (``filters/layout.lua``'s
script), but the browser sets type a little larger than Typst, so on its own
it left out figures the PDF kept.  When a build renders both, the PDF's
choice (:func:`plan`) is written into the HTML page (:func:`embed`, as the
``data-plan`` of its ``div.poster-flow``): the page's script then keeps the
same units, at the same figure width, in the same columns, and only sets its
type a little smaller where the browser's lines run longer.  An HTML poster
rendered alone keeps its own balance.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import warnings
from pathlib import Path

#: Where a poster's PDF render leaves its plan, in its work folder.
PLAN_FILE = "poster.plan.json"

_FLOW_DIV = re.compile(rb'<div class="poster-flow"[^>]*')
#: In the Typst source of a poster balanced by ``poster-flow`` (filters/layout.lua).
FLOW_CALL = "#poster-flow(("


def plan(flow: dict) -> dict:
    """The part of ``<psma-poster-flow>`` the HTML page follows.

    Parameters
    ----------
    flow : dict
        The metadata's value: ``dropped`` (optional units left out, the last
        first), ``bounds`` (the kept units' column breaks), ``gaps`` (the
        space between consecutive kept units, as ``"39.6pt"``) and
        ``figure-scale``.

    Returns
    -------
    dict
        ``{"dropped": int, "bounds": [int, ...], "gaps": [pt, ...],
        "figure-scale": float}``.
    """
    return {
        "dropped": int(flow["dropped"]),
        "bounds": [int(b) for b in flow["bounds"]],
        "gaps": [round(float(str(g).removesuffix("pt")), 2) for g in flow["gaps"]],
        "figure-scale": float(flow["figure-scale"]),
    }


def query(typ: Path, project_dir: Path) -> dict | None:
    """The plan of the poster compiled from ``typ`` (None for a document that is no poster).

    Called right after the PDF's compile in the same process, Typst answers
    from its cache in a few milliseconds.
    """
    import typst

    from analysis import fonts

    typ = Path(typ)
    try:
        found = json.loads(
            typst.query(
                str(typ),
                "<psma-poster-flow>",
                field="value",
                root=str(project_dir),
                font_paths=fonts.typst_fonts(fonts.font_set(project_dir), typ.parent / "fonts"),
            )
        )
    except (typst.TypstError, RuntimeError, ValueError) as exc:
        # the HTML poster then balances itself, as one rendered alone
        warnings.warn(f"{typ.name}: the poster's balance could not be read: {exc}", stacklevel=2)
        return None
    return plan(found[0]) if found else None


def save(typ: Path, project_dir: Path, path: Path) -> dict | None:
    """:func:`query`, written as JSON to ``path`` when the document is a poster."""
    found = query(typ, project_dir)
    if found is not None:
        Path(path).write_text(json.dumps(found, sort_keys=True), encoding="utf-8")
    return found


def embed(page: Path, plan_path: Path) -> bool:
    """Write the plan saved at ``plan_path`` into the HTML poster ``page``.

    Returns whether the page changed (False when there is no plan, or the page
    has no ``div.poster-flow``: a poster laid out with explicit column breaks).
    """
    plan_path, page = Path(plan_path), Path(page)
    if not plan_path.is_file():
        return False
    value = json.dumps(json.loads(plan_path.read_text(encoding="utf-8")), sort_keys=True)
    data = page.read_bytes()
    attr = f' data-plan="{html_lib.escape(value, quote=True)}"'.encode("ascii")
    out, n = _FLOW_DIV.subn(lambda m: m.group(0) + attr, data, count=1)
    if n == 0:
        return False
    page.write_bytes(out)
    return True
