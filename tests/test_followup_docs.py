"""The documents show the follow-up results of results.json, or say they were not provided."""

from __future__ import annotations

import html
import json
import re
import zipfile

import pytest
from cohorts import minimal_cohort
from pypdf import PdfReader

from analysis import config, followup_docs
from analysis.build import build
from analysis.tables_followup import median_ci, months

pytestmark = pytest.mark.slow


def _text(path) -> str:
    if path.suffix == ".pdf":
        raw = " ".join(p.extract_text() for p in PdfReader(str(path)).pages)
    elif path.suffix == ".docx":
        with zipfile.ZipFile(path) as z:
            raw = re.sub(r"<[^>]+>", "", z.read("word/document.xml").decode("utf-8"))
    else:
        raw = html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))
    return " ".join(raw.replace("\u00ad", "").split())


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    report = build(config.SYNTHETIC_DIR, label="v", outputs=tmp_path_factory.mktemp("o"))
    return report.path, json.loads((report.path / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def without(tmp_path_factory):
    root = tmp_path_factory.mktemp("none")
    report = build(minimal_cohort(root / "data"), label="v", outputs=root / "o")
    return report.path, json.loads((report.path / "results.json").read_text(encoding="utf-8"))


def test_results_json_has_the_follow_up_keys(synthetic):
    _, r = synthetic
    s = r["survival"]
    assert set(s) >= {"os", "psa_pfs", "rpfs", "follow_up_median_months"}
    for key in ("os", "psa_pfs", "rpfs"):
        assert set(s[key]) == {
            "n", "events", "median_months", "median_ci_low", "median_ci_high",
            "rate_6m", "rate_6m_ci_low", "rate_6m_ci_high",
            "rate_12m", "rate_12m_ci_low", "rate_12m_ci_high", "at_risk",
        }  # fmt: skip
    lm = r["landmark"]
    assert lm["n_included"] + lm["n_excluded_died"] + lm["n_excluded_censored"] == 21
    assert sum(g["n"] for g in lm["groups"]) == lm["n_included"]
    assert sum(d["n"] for d in r["discontinuation"]) == r["cohort"]["by_status"]["discontinued"]


def test_every_document_shows_the_survival_medians_of_results_json(synthetic):
    path, r = synthetic
    os_ = r["survival"]["os"]
    pfs = r["survival"]["psa_pfs"]
    os_text = median_ci(os_["median_months"], os_["median_ci_low"], os_["median_ci_high"])
    pfs_text = f"{months(pfs['median_months'])} months"
    for doc in ("abstract.txt", "abstract.pdf", "abstract.html", "abstract.docx"):
        text = _text(path / doc)
        assert f"OS {months(os_['median_months'])} months" in text, doc
        assert pfs_text in text, doc
    for doc in ("supplement.html", "supplement.pdf", "supplement.docx"):
        text = _text(path / doc)
        assert os_text in text, doc  # the survival table
        assert "Follow-up and survival" in text
        lm = r["landmark"]
        assert f"{lm['n_included']} patients alive and followed at week {lm['weeks']}" in text
    poster = _text(path / "poster.pdf")
    assert f"OS {months(os_['median_months'])} months" in poster
    assert len(PdfReader(str(path / "poster.pdf")).pages) == 1
    assert len(PdfReader(str(path / "abstract.pdf")).pages) == 1


def test_the_data_cutoff_is_in_methods(synthetic):
    path, r = synthetic
    assert r["survival"]["data_cutoff"] == "2024-01-31"
    assert "data cut-off of 2024-01-31" in _text(path / "supplement.html")


def test_without_follow_up_each_document_says_so(without):
    path, r = without
    assert "os" not in r["survival"] and "landmark" not in r
    sentence = followup_docs.NOT_PROVIDED
    for doc in ("abstract.txt", "poster.pdf", "supplement.html", "supplement.pdf"):
        assert sentence in _text(path / doc), doc
    assert not (path / "tables" / "landmark.html").exists()


def test_dosing_and_discontinuation_counts_read_as_table_1s(synthetic):
    """Tables S10 and S11 printed "3 (14.3)" where every other table prints
    "3 (14.3%)"; their counts and percentages are those of results.json."""
    path, r = synthetic
    expected = {
        "dosing": [f"{c['n']} ({c['pct']:.1f}%)" for c in r["dosing"]["distribution"]],
        "discontinuation": [f"{d['n']} ({d['pct']:.1f}%)" for d in r["discontinuation"]],
    }
    for name, cells in expected.items():
        text = _text(path / "tables" / f"{name}.html")
        assert cells and all(cell in text for cell in cells), (name, cells)
        assert not re.search(r"\b\d+ \(\d+\.\d\)", text), name
