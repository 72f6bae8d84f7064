"""Real Quarto and the embedded renderer give the same version.

Runs only when ``quarto`` is on PATH (skipped with the reason otherwise): builds
``data/synthetic`` with both renderers and compares the list of files in the
two version folders, the page count and page size of every PDF, the set of
numbers printed in every document (PDF and HTML text), and the caption labels
and cross-reference texts ("Table S1:", "Figure S2") of every HTML and DOCX
document, in document order.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from analysis import build, config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("quarto") is None,
        reason="quarto is not on PATH: the parity check needs real Quarto (quarto.org)",
    ),
]

_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def _numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(text))


def _pdf(path: Path) -> tuple[int, set[tuple[float, float]], set[str]]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    sizes = {
        (round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages
    }
    text = " ".join(p.extract_text() or "" for p in reader.pages)
    return len(reader.pages), sizes, _numbers(text)


def _html_numbers(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"data:[^\"')\s]+", " ", text)  # embedded images and fonts
    return _numbers(html.unescape(re.sub(r"<[^>]+>", " ", text)))


#: A caption label or a reference's text: "Table S1:", "Figure 2", "Tables S3".
_LABEL = re.compile(r"(?:Table|Figure)s?\s+S?\d+[:.]?")


def _html_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"data:[^\"')\s]+", " ", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _docx_text(path: Path) -> str:
    xml = zipfile.ZipFile(path).read("word/document.xml").decode("utf-8")
    paragraphs = re.findall(r"<w:p\b.*?</w:p>", xml, flags=re.S)
    runs = (re.findall(r"<w:t\b[^>]*>(.*?)</w:t>", p, flags=re.S) for p in paragraphs)
    return "\n".join(html.unescape("".join(r)) for r in runs)


def _labels(text: str) -> list[str]:
    # Quarto writes a no-break space after "Table", the embedded renderer a space
    return [" ".join(m.split()) for m in _LABEL.findall(text)]


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    out = tmp_path_factory.mktemp("parity")
    kwargs = {"project_dir": config.PROJECT_DIR, "outputs": out}
    embedded = build.build(config.SYNTHETIC_DIR, label="embedded", renderer="embedded", **kwargs)
    quarto = build.build(config.SYNTHETIC_DIR, label="quarto", renderer="quarto", **kwargs)
    return embedded.path, quarto.path


def test_both_versions_hold_the_same_files(versions):
    embedded, quarto = versions

    def listing(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    assert listing(embedded) == listing(quarto)


@pytest.mark.parametrize("doc", sorted(build.DOC_FORMATS))
def test_pdfs_have_the_same_pages_and_numbers(versions, doc):
    embedded, quarto = (_pdf(v / f"{doc}.pdf") for v in versions)
    assert embedded[0] == quarto[0], "page count"
    assert embedded[1] == quarto[1], "page size (pt)"
    assert embedded[2] == quarto[2], "numbers printed"


@pytest.mark.parametrize("doc", sorted(build.DOC_FORMATS))
def test_html_documents_print_the_same_numbers(versions, doc):
    embedded, quarto = (_html_numbers(v / f"{doc}.html") for v in versions)
    assert embedded == quarto


@pytest.mark.parametrize(
    "doc,fmt",
    [(d, f) for d, fs in sorted(build.DOC_FORMATS.items()) for f in fs if f in ("html", "docx")],
)
def test_captions_and_references_are_labelled_alike(versions, doc, fmt):
    """The same "Table S1:" / "Figure S1" labels and reference texts in the same
    order (the supplement's number-prefix S in Quarto's HTML and Word too)."""
    text = _html_text if fmt == "html" else _docx_text
    embedded, quarto = (_labels(text(v / f"{doc}.{fmt}")) for v in versions)
    assert embedded, "no caption labels found"
    assert embedded == quarto


@pytest.mark.parametrize("doc", sorted(build.DOC_FORMATS))
def test_html_documents_embed_the_same_lato_subsets(versions, doc):
    """Quarto's HTML gets the embedded renderer's Lato subsets (analysis/render/webfonts.py):
    the poster and the supplement's in-page charts; the abstract only the
    superscript digits of its "¹⁷⁷Lu"."""
    style = re.compile(r'<style id="psma-webfonts">.*?</style>', re.DOTALL)
    embedded, quarto = (
        style.findall((v / f"{doc}.html").read_text(encoding="utf-8")) for v in versions
    )
    assert len(embedded) == 1
    families = set(re.findall(r'font-family: "([^"]+)"', embedded[0]))
    assert families == (
        {"psma-superscripts"} if doc == "abstract" else {"Lato", "psma-superscripts"}
    )
    assert quarto == embedded


def _optional_figure_captions() -> list[str]:
    """The captions of the poster's ``.poster-optional`` figures (report/poster.qmd)."""
    qmd = (config.REPORT_DIR / "poster.qmd").read_text(encoding="utf-8")
    return re.findall(r"(?m)^::: \{\.poster-optional\}\n!\[([^\]]+)\]", qmd)


@pytest.fixture(scope="module")
def portrait_posters(tmp_path_factory):
    """The portrait poster (36 x 48 in: three columns that cannot hold every optional
    figure) as each renderer lays it out."""
    from cohorts import poster_work

    from analysis.render import quarto, render_document

    root = tmp_path_factory.mktemp("portrait")
    pdfs = {}
    for renderer in ("embedded", "quarto"):
        work = poster_work(config.SYNTHETIC_DIR, "36x48in", root / renderer)
        out = root / renderer / "out"
        out.mkdir()
        if renderer == "quarto":
            quarto.write_support(work)
            pdfs[renderer] = quarto.render(work, "report/poster.qmd", out, ("pdf",))["pdf"]
        else:
            pdfs[renderer] = render_document(work, "report/poster.qmd", out, ("pdf",))["pdf"]
    return pdfs


def test_a_portrait_poster_leaves_out_the_same_optional_figures(portrait_posters):
    """Both renderers measure the poster's units alike (typst-template.typ's
    poster-flow decides), so the same .poster-optional figures are left out."""
    from pypdf import PdfReader

    captions = _optional_figure_captions()
    assert len(captions) >= 2

    def kept(pdf: Path) -> list[bool]:
        reader = PdfReader(str(pdf))
        assert len(reader.pages) == 1
        text = " ".join(" ".join(p.extract_text() or "" for p in reader.pages).split())
        return [" ".join(c.split()[:5]) in text for c in captions]

    embedded, quarto = (kept(portrait_posters[r]) for r in ("embedded", "quarto"))
    assert embedded == quarto, dict(zip(captions, zip(embedded, quarto, strict=True), strict=True))


def _pdf_text(pdf: Path) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(p.extract_text() or "" for p in PdfReader(str(pdf)).pages).split())


def _pdf_captions(text: str) -> list[str]:
    """Each caption label with the caption's first words ("Table 1: Baseline
    characteristics. Characteristic")."""
    return re.findall(r"(?:Table|Figure) S?\d+: (?:\S+ ){0,3}", text)


def test_posters_number_their_floats_alike(versions, portrait_posters):
    """The poster PDFs label their figures and tables and refer to them alike: Typst
    numbers only what the balance places (the landscape and the portrait poster each
    leave out .poster-optional figures), with the same captions."""
    pairs = {
        "48x36in": (versions[0] / "poster.pdf", versions[1] / "poster.pdf"),
        "36x48in": (portrait_posters["embedded"], portrait_posters["quarto"]),
    }
    for size, pdfs in pairs.items():
        embedded, quarto = (_pdf_text(p) for p in pdfs)
        assert _labels(embedded) == _labels(quarto), size
        assert _pdf_captions(embedded) == _pdf_captions(quarto), size


@pytest.mark.parametrize("doc", sorted(build.DOC_FORMATS))
def test_html_caption_labels_are_set_alike(versions, doc):
    """Every HTML caption's label ("Table S1:") is a span.crossref-label, which
    css/report.css sets in bold, under Quarto (filters/number-prefix.lua) as in the
    embedded renderer (filters/crossref.lua)."""
    span = re.compile(r'<span class="crossref-label">(.*?)</span>', re.S)
    embedded, quarto = (
        [
            " ".join(html.unescape(s).split())
            for s in span.findall(v.joinpath(f"{doc}.html").read_text("utf-8"))
        ]
        for v in versions
    )
    assert embedded, "no caption labels found"
    assert embedded == quarto


def test_html_posters_number_the_figures_they_show_once(versions):
    """In the browser, each poster's shown captions read Figure 1, 2, ... and Table 1, ...
    (Quarto's figure has a "fig-x-caption-..." element inside "fig-x": the poster's
    script counted both, and Quarto's poster read Table 2, Figure 2, 4, 6, 8, 10)."""
    from test_browser import CHROMIUM, _browser_or_skip, open_poster

    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        labels = []
        for version in versions:
            page = open_poster(browser, version)
            labels.append(
                page.evaluate(
                    "(() => Array.from(document.querySelectorAll('.crossref-label'))"
                    ".filter(e => e.offsetParent !== null)"
                    ".map(e => e.textContent.replace(/\\s+/g, ' ').trim()))()"
                )
            )
            page.close()
        browser.close()
    for shown in labels:
        for kind in ("Figure", "Table"):
            of_kind = [t for t in shown if t.startswith(kind)]
            assert of_kind == [f"{kind} {n}:" for n in range(1, len(of_kind) + 1)], labels
    assert all(any(t.startswith("Table") for t in shown) for shown in labels)


def test_both_html_posters_follow_their_pdfs_plan(versions):
    """Each renderer writes its PDF poster's balance into its HTML poster
    (analysis/render/poster_plan.py; Quarto's Typst file is kept for it and then
    removed), with the same figures left out."""
    plans = []
    for version in versions:
        html = (version / "poster.html").read_text(encoding="utf-8")
        found = re.search(r'<div class="poster-flow"[^>]* data-plan="([^"]*)"', html)
        assert found, version.name
        plans.append(json.loads(found[1].replace("&quot;", '"')))
    assert plans[0]["dropped"] == plans[1]["dropped"], plans
    assert plans[0]["figure-scale"] == plans[1]["figure-scale"], plans
    assert not list((config.PROJECT_DIR / "report").glob("*.typ"))
