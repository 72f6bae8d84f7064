"""Abstract length counting and version diffs, on hand-made inputs."""

from __future__ import annotations

import json

import pytest

from analysis.abstract import abstract_length, counts
from analysis.diff import diff_versions, flatten, resolve_version
from analysis.errors import PsmaRweError


def test_counts_by_hand():
    text = "Title  here\n\nBody text.\tMore"
    # non-space characters: Title(5) here(4) Body(4) text.(5) More(4) = 22
    assert counts(text) == {"chars_no_spaces": 22, "chars_with_spaces": 26, "words": 5}


@pytest.mark.parametrize(
    ("rule", "limit", "count", "within"),
    [
        ("chars-no-spaces", 22, 22, True),
        ("chars-no-spaces", 21, 22, False),
        ("chars-with-spaces", 26, 26, True),
        ("words", 4, 5, False),
    ],
)
def test_limit_rules(rule, limit, count, within):
    report = abstract_length("Title  here\n\nBody text.\tMore", limit, rule)
    assert (report["count"], report["within_limit"], report["rule"]) == (count, within, rule)


def test_unknown_rule_is_an_error():
    with pytest.raises(PsmaRweError, match="count-rule"):
        abstract_length("x", 10, "syllables")


def test_flatten_names_list_items_by_key():
    data = {
        "labs": [{"test": "psa", "dose_number": 2, "median": 5.0}],
        "regression": [{"term": "age", "method": "ml", "model": "univariable", "p_value": 0.5}],
        "psa_response": {"milestones": [{"after_dose": 1, "psa50_n": 2}], "psa50": {"n": 8}},
    }
    flat = flatten(data)
    assert flat["labs[psa/dose 2].median"] == 5.0
    assert flat["regression[age/ml/univariable].p_value"] == 0.5
    assert flat["psa_response.milestones[dose 1].psa50_n"] == 2
    assert flat["psa_response.psa50.n"] == 8


def _version(folder, results, abstract, inputs):
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "abstract.txt").write_text(abstract)
    import hashlib

    outputs = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in ("results.json", "abstract.txt")
    }  # as a build's manifest: diff verifies the files against it
    manifest = {"inputs": {k: {"sha256": v} for k, v in inputs.items()}, "outputs": outputs}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_diff_reports_inputs_values_and_text(tmp_path):
    a = _version(
        tmp_path / "v1",
        {"psa50": {"n": 8, "pct": 38.1}, "cohort": {"n": 21}},
        "A title\n\nResults\n\nPSA50 in 8 (38.1%).\n",  # headings between blank lines
        {"data/patients.csv": "aa", "data/doses.csv": "bb", "report/old.qmd": "cc"},
    )
    b = _version(
        tmp_path / "v2",
        {"psa50": {"n": 9, "pct": 40.9}, "cohort": {"n": 22}},
        "A title\n\nResults\n\nPSA50 in 9 (40.9%).\n",
        {"data/patients.csv": "aa", "data/doses.csv": "b2", "report/new.qmd": "dd"},
    )
    d = diff_versions(a, b)
    assert d.inputs == (
        ("data/doses.csv", "changed"),
        ("report/new.qmd", "added"),
        ("report/old.qmd", "removed"),
    )
    assert d.values == (("cohort.n", 21, 22), ("psa50.n", 8, 9), ("psa50.pct", 38.1, 40.9))
    (paragraph,) = d.paragraphs  # the changed line, word by word
    assert paragraph.where == "Results"
    assert paragraph.words == (("=", "PSA50 in"), ("-", "8 (38.1%)."), ("+", "9 (40.9%)."))
    # no variables.yml, no manifest summary: the displayed numbers cannot be compared
    assert d.shown == () and d.shown_source == "none" and "variables.yml" in d.shown_note


def test_resolve_version_by_label_or_path(tmp_path):
    v = _version(tmp_path / "out" / "lbl", {}, "", {})
    assert resolve_version("lbl", tmp_path / "out") == v
    assert resolve_version(str(v), tmp_path / "elsewhere") == v
    with pytest.raises(PsmaRweError, match="no built version"):
        resolve_version("missing", tmp_path / "out")
