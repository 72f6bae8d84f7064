"""Embedded renderer: Quarto-style ``.qmd`` sources to HTML, PDF and DOCX without Quarto.

The Quarto CLI cannot be installed here, so this package renders the same
sources with pandoc (the binary shipped in ``pypandoc-binary``) plus Lua
filters for HTML and DOCX, and pandoc's Typst writer plus the ``typst``
Python package for PDF.  Only the subset of Quarto the project uses is
supported; anything else is pandoc markdown as pandoc reads it.

Usage::

    from analysis.render import render_document
    paths = render_document(project_dir, "report/poster.qmd", out_dir)
    # {"html": out_dir/"poster.html", "pdf": out_dir/"poster.pdf", "docx": ...}

Supported Quarto features
-------------------------
Shortcodes (expanded by a Python pre-pass, :mod:`analysis.render.shortcodes`)
    ``{{< include path >}}``: a leading ``/`` means the project root; other
    paths are relative to the including file (Quarto's rule) and, if no
    such file exists, to the project root (our fallback), so both
    ``../tables/x.html`` and ``tables/x.html`` work from ``report/``.  An
    ``.html`` file included on a line of its own becomes one raw HTML block.
    ``{{< var key.sub >}}`` (``_variables.yml``), ``{{< meta key >}}``
    (front matter over ``_quarto.yml``'s format-independent keys) — values
    come out as plain text (HTML-escaped); an unknown key is an error naming
    the key and the file.  ``{{< pagebreak >}}``; ``{{{< ... >}}}`` escapes.
Conditional content (``filters/conditional.lua``)
    ``.content-visible`` / ``.content-hidden`` divs, spans and code blocks
    with ``when-format`` / ``unless-format``: ``html``; ``pdf`` and ``typst``
    (both mean the Typst PDF); ``docx``.
Cross-references (``filters/crossref.lua``)
    ``![Caption](x.svg){#fig-x}``, ``::: {#fig-x}`` divs, ``::: {#tbl-x}``
    divs with the caption as last paragraph (holding a great-tables fragment
    or a pipe table), pipe tables with ``: Caption {#tbl-x}``.  ``@fig-x`` /
    ``@tbl-x`` / ``[@fig-a; @fig-b]`` / ``-@fig-x`` become linked "Figure n" /
    "Figures 1 and 2" / "n"; captions "Figure n: ...".  Unknown references
    and duplicate ids are errors.  The poster's PDF is numbered by Typst, as
    Quarto's: captions unlabelled, a show rule numbering figures and tables,
    references as Typst refs, so that only what the balance places is
    numbered (a reference into a ``.poster-optional`` div is an error,
    ``layout.lua``).  A table's caption is the div's; the great-tables title
    is used only when the div has no caption or the title is it or starts
    with it and a sentence after it (a title and its subtitle; one caption,
    as in HTML, where the title row is hidden under the div caption).
    Metadata ``crossref``: Quarto's
    ``fig-title`` / ``tbl-title`` (caption words), ``fig-prefix`` /
    ``tbl-prefix`` (reference words), ``title-delim``, and our
    ``number-prefix`` (``"S"``: "Table S1", "Figure S1" in captions and
    references; the supplement sets it).
Article tables and figures (``typst/typst-template.typ``, ``article-tables``)
    In the article PDF tables are set in the body serif at 0.86 of the body
    size with tabular figures, never justified, at their natural width (left
    under the caption), numbers right-aligned, an indented stub row padded
    so that a wrapped line keeps its indent.  A great-tables table and its
    notes are one float (``#article-float``) when they fit on a page; a
    longer table stays in the flow and breaks only between row groups (a
    label row and its indented level rows), repeating its header rows.
    Figures float (``placement: auto``) so that text fills the pages.
Raw HTML tables (``filters/gt-tables.lua``)
    great-tables fragments stay raw in HTML (their CSS scoped to the table
    id, ``@import`` dropped); for Typst and DOCX they become native tables
    via ``pandoc.read(html, "html")``, with the ``gt_heading`` title and
    subtitle as the caption, tfoot notes as a small paragraph below, and
    footnote marks as superscripts.  Metadata ``table-notes``: ``all``
    (default), ``footnotes`` (source notes dropped; the poster's default) or
    ``none``, in every format.
Callouts (``filters/callouts.lua``)
    ``.callout-note|tip|important|warning|caution`` and ``.callout``; title
    from ``title=`` or a leading heading.  A box in HTML and Typst, a bold
    title and plain text in DOCX.  On the poster a callout has a title bar
    and larger type; ``callout-important`` is a solid box in the accent
    colour with large bold figures (key findings).
Poster layout (``filters/layout.lua``, ``typst/typst-template.typ``)
    Without column breaks (the project's poster) the body is balanced over
    the columns from measured heights: Typst ``#poster-flow`` measures each
    unit (a heading with its lead paragraphs and first figure or table, a
    callout, or one other block), splits them into columns by dynamic
    programming (even bottoms, no headless figure) and spreads each column's
    slack over its section gaps; ``::: {.poster-optional}`` divs are left
    out, last first, when the page cannot hold everything, and kept when
    the figures at 96% or 92% of the column width let it (never so narrow
    that chart text prints under 24 pt; the PDF only: the HTML poster
    shrinks no figure).  The HTML poster
    is one page of the poster's size in balanced CSS columns, scaled to fit
    the window (``templates/html.template``).
    An empty ``::: {.column-break}`` div at the top level starts the next
    poster column (Typst ``#poster-colbreak(n)``, a break to column n that
    is skipped when an earlier column already ran over into it; in HTML the
    body is cut into ``div.poster-column`` cells of a CSS grid);
    ``poster-columns="3"`` (or ``"3 4"``) limits it to posters with that
    many columns.  Dropped in other templates and in DOCX.  A ``.small`` div
    sets its content in smaller type (Typst and HTML).
Figures (``filters/figures.lua``)
    Paths resolved like includes; remote images are errors.  Typst uses the
    ``.pdf`` sibling of an ``.svg`` (Typst >= 0.14 places PDF images);
    DOCX uses a PNG rendered from the SVG with vl-convert.
Documents
    HTML: one self-contained file (the stylesheet ``css/report.css`` and the
    SVG charts placed in it by :mod:`analysis.render.offline`, anything else
    by pandoc's ``--embed-resources``; ``--mathml``, no CDN; the poster and
    in-page charts with subsets of the bundled Lato as ``data:`` URLs,
    :mod:`analysis.render.webfonts`),
    title block, TOC only with ``toc: true``.  PDF: ``typst/psma.typst``
    assembles the Quarto template partials ``typst/typst-template.typ`` (the
    library), ``page.typ`` and
    ``typst-show.typ``, which picks the article (default) or the poster
    (``format-template: poster``); typst-show.typ's header lists the metadata keys
    it reads (``papersize``, ``poster-size``, ``poster-columns``,
    ``accent-color``, ``conference``/``institution``/``contact`` for the
    poster's title band, ...).  DOCX: pandoc's writer, native tables, numbered
    captions as text.
Citations (pandoc's ``--citeproc``, as Quarto)
    ``[@key]`` with ``bibliography:`` and ``csl:`` in the front matter
    (paths relative to the document or the project); the list goes in a
    ``::: {#refs}`` div.  citeproc runs after the filters, so ``@fig-`` /
    ``@tbl-`` are cross-references first.  ``show-references: false``
    (ours; ``filters/citations.lua``) drops a document's citations and list,
    for conference abstracts without references.  The project's styles are
    ``report/psma-rwe.csl`` (numeric, AMA-like, superscript) and
    ``report/psma-rwe-poster.csl`` (its short form for posters); the items of
    a citation come in number order from ``filters/citations.lua`` (the
    styles have no ``<sort>``, whose collator costs citeproc 65 ms a render).
Long words (``filters/long-words.lua``)
    For Typst a word over 2,000 bytes is cut into adjacent pieces between two
    letters (same ``.typ`` text): pandoc's Typst writer is quadratic in the
    length of one word.
Plain text
    :func:`render_plain` writes the abstract as text (title, headings, body,
    tables as tab-separated rows) for submission systems and length checks.
Determinism
    SOURCE_DATE_EPOCH (the caller's, else 0) for pandoc; the same value as
    Typst's PDF timestamp; no random ids.  The same inputs give
    byte-identical HTML, PDF and DOCX.

Quarto and the embedded renderer
--------------------------------
``quarto render`` (``--renderer quarto``, :mod:`analysis.render.quarto`) reads
the same extension: the Typst partials, ``templates/html.template`` and the
CSS, and the filters listed in ``_extension.yml`` (``gt-tables.lua`` before
Quarto's own HTML-table parsing; ``callouts.lua`` drawing Quarto's Callout
nodes; ``number-prefix.lua``, which the embedded renderer does not run: Quarto
has no option for a number prefix, so once Quarto has written the float and
reference numbers of HTML and DOCX the filter puts ``number-prefix`` before
them, and Typst numbers Quarto's Typst floats with it, typst-template.typ).
Quarto does the shortcodes, conditional content and cross-references itself.
Measured with Quarto 1.9.38 on data/synthetic: the same files in the version,
the same page count and size of every PDF (poster 48 x 36 in, 36 x 48 in, A0
and A1 one page each; the supplement page for page), the same numbers in every
document, the same caption labels and reference texts ("Table S1:", "Figure
S2") in HTML and DOCX (Quarto's with a no-break space; in HTML a
``span.crossref-label`` under both, from ``number-prefix.lua`` under Quarto),
the same caption labels, caption starts and references in the poster PDFs at
48 x 36 in and 36 x 48 in.  What still differs:

* The poster's units measure alike under both (the same figures and
  ``.poster-optional`` units left out, at 36 x 48 in too: ``layout.lua``
  takes Quarto's drawn callouts out of their Div), except a table float, a
  few points shorter under Quarto (its notes are inside Quarto's figure);
  captions come out with Quarto's punctuation.  Both number only the
  figures placed (Typst numbers the poster's floats under both).
* Quarto runs Typst with the fonts of ``_psma/fonts`` and system fonts off
  (``TYPST_IGNORE_SYSTEM_FONTS``); its PDFs are not byte-identical to the
  embedded renderer's (other pandoc and Typst versions), and Quarto ignores
  SOURCE_DATE_EPOCH for its HTML.
* Word: the build post-processes Quarto's DOCX as its own
  (:func:`analysis.render.docx_layout.postprocess`); ``quarto render`` by hand does not.
* The embedded renderer supports only what the documents use: fig/tbl
  cross-references (captions above tables, below figures; Word captions as
  text), the var/meta/include/pagebreak shortcodes, ``when-format``
  conditions, callouts; no code execution, no other extensions.  A non-``/``
  include or image path that does not exist next to the including file falls
  back to the project root (Quarto fails).  ``.column-break`` divs and
  ``table-notes`` are ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["pandoc_version", "render_document", "render_plain"]


def render_document(
    project_dir: Path,
    source: str,
    out_dir: Path,
    formats: Sequence[str] = ("html", "pdf", "docx"),
    *,
    follow_pdf: bool = False,
) -> dict[str, Path]:
    """Render one ``.qmd`` of a Quarto-like project to HTML, PDF and/or DOCX.

    Parameters
    ----------
    project_dir : Path
        Folder with ``_quarto.yml``, ``_variables.yml``, the sources and the
        generated artifacts (``tables/``, ``figures/``).  Work files are
        written to ``project_dir/_render/`` (the generated ``.typ`` among them).
    source : str
        Path of the document relative to ``project_dir``, e.g.
        ``"report/abstract.qmd"``.
    out_dir : Path
        Where ``<stem>.html``, ``<stem>.pdf`` and ``<stem>.docx`` are written
        (created if missing).
    formats : sequence of str
        Any of ``"html"``, ``"pdf"``, ``"docx"``.
    follow_pdf : bool
        A poster's HTML rendered without its PDF still follows the PDF's column
        balance (:mod:`analysis.render.poster_plan`): the PDF is compiled into
        the work folder for it, and not returned (``psma-rwe preview``).

    Returns
    -------
    dict
        ``{format: path of the written file}``.

    Raises
    ------
    analysis.errors.PsmaRweError
        Unknown shortcode key, include or image not found, unknown
        cross-reference, invalid layout metadata, or pandoc/typst failing
        (their messages included).
    """
    from analysis.render.pipeline import render

    return render(Path(project_dir), source, Path(out_dir), formats, follow_pdf=follow_pdf)


def render_plain(project_dir: Path, source: str, out_path: Path) -> Path:
    """Render a document to plain text (the abstract a submission system takes).

    The same pre-pass and filters as :func:`render_document`, with pandoc's
    plain writer (output format name ``plain`` for ``when-format``): the
    title, section headings and body, no authors; each paragraph on one
    line; a table as its caption line and one tab-separated line per row
    (no rules that a character count would include); a figure as its caption.

    Returns
    -------
    Path
        ``out_path``, written as UTF-8.
    """
    from analysis.render.pipeline import render_plain as _render_plain

    return _render_plain(Path(project_dir), source, Path(out_path))


def pandoc_version() -> str:
    """Version of the pandoc binary the renderer runs (from pypandoc-binary)."""
    from analysis.render.pipeline import pandoc_version as _pandoc_version

    return _pandoc_version()
