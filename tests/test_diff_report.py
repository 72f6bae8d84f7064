"""``psma-rwe diff``: what a team re-submitting an abstract sees first, JSON and HTML.

Two builds are shared by the module: the shipped synthetic cohort (v1) and a
copy (v2) in which one non-responder's PSA before dose 2 falls below half of
baseline (PSA50 goes up by one) and one discontinuation reason is a
``<script>`` element.  A copy of v1 under another label is an identical
version; a copy with the displayed variables removed is a version built by
an earlier psma-rwe.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analysis import config
from analysis.build import MANIFEST, SOURCES, VARIABLES, build
from analysis.cli import app
from analysis.diff import Shown, diff_versions, word_diff
from analysis.diff_tables import read_table

SCRIPT = "<script>alert(1)</script>"


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _one_more_responder(data: Path, v1: Path) -> str:
    """Put a non-responder's last PSA before dose 2 at 30% of baseline; return the patient."""
    summary = _rows(v1 / "patient_summary.csv")
    patient = next(r for r in summary if not r["psa50_after_dose"] and r["best_psa_change_pct"])
    pid, baseline = patient["patient_id"], float(patient["baseline_psa"])
    doses = {
        int(r["dose_number"]): r["dose_date"]
        for r in _rows(data / "doses.csv")
        if r["patient_id"] == pid
    }
    rows = _rows(data / "measurements.csv")
    *_, target = (  # the last PSA before dose 2: its pre-dose value too (labs in results.json)
        r
        for r in rows
        if r["patient_id"] == pid and r["test"] == "psa" and doses[1] < r["measured_on"] <= doses[2]
    )
    target["value"] = f"{0.3 * baseline:.2f}"
    _write(data / "measurements.csv", rows)
    return pid


def _plant_script(data: Path) -> None:
    rows = _rows(data / "patients.csv")
    stopped = next(r for r in rows if r["treatment_status"] == "discontinued")
    stopped["discontinuation_reason"] = SCRIPT
    _write(data / "patients.csv", rows)


@pytest.fixture(scope="session")
def outputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("diff-report")
    out = root / "outputs"
    build(config.SYNTHETIC_DIR, label="v1", outputs=out)
    data = root / "data"
    shutil.copytree(config.SYNTHETIC_DIR, data)
    _one_more_responder(data, out / "v1")
    _plant_script(data)
    build(data, label="v2", outputs=out)
    shutil.copytree(out / "v1", out / "v1-again")
    old = out / "v1-old-style"  # as built before versions kept the displayed values
    shutil.copytree(out / "v1", old)
    manifest = json.loads((old / MANIFEST).read_text(encoding="utf-8"))
    for name in list(manifest["outputs"]):
        if name == VARIABLES or name.startswith(f"{SOURCES}/"):
            (old / name).unlink()
            del manifest["outputs"][name]
    (old / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return out


def run(outputs: Path, *args: str):
    result = CliRunner().invoke(app, ["diff", *args, "--outputs", str(outputs)])
    return result


def _psa50(outputs: Path, label: str) -> str:
    summary = json.loads((outputs / label / MANIFEST).read_text(encoding="utf-8"))["summary"]
    return f"{summary['psa50_pct']:.1f}%"


@pytest.mark.slow
def test_the_version_keeps_what_its_documents_displayed(outputs):
    manifest = json.loads((outputs / "v1" / MANIFEST).read_text(encoding="utf-8"))
    for name in ("abstract.qmd", "poster.qmd"):
        assert f"{SOURCES}/report/{name}" in manifest["outputs"], name
    assert (
        VARIABLES in manifest["outputs"] and f"{SOURCES}/followup/poster.md" in manifest["outputs"]
    )
    assert not (outputs / "v1" / "report").exists()  # the version keeps its own layout


@pytest.mark.slow
def test_the_first_number_is_the_abstracts_psa50_rate_as_displayed(outputs):
    result = run(outputs, "v1", "v2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    section = next(i for i, ln in enumerate(lines) if ln.startswith("Numbers in the abstract"))
    first = lines[section + 1]
    old, new = _psa50(outputs, "v1"), _psa50(outputs, "v2")
    assert old != new
    assert first.strip().startswith("PSA50"), first
    assert re.search(rf"\b{re.escape(old)}.* → .*\b{re.escape(new)}", first), first
    assert "abstract" in first
    # as displayed: the old and new strings are verbatim in the two abstracts
    number = json.loads(run(outputs, "v1", "v2", "--format", "json").output)["numbers"]
    shown = number["changed"][0]
    assert number["source"] == "variables" and shown["kind"] == "number"
    assert shown["old"] in (outputs / "v1" / "abstract.txt").read_text(encoding="utf-8")
    assert shown["new"] in (outputs / "v2" / "abstract.txt").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_default_view_is_short_and_all_adds_every_value(outputs):
    short = run(outputs, "v1", "v2")
    full = run(outputs, "v1", "v2", "--all")
    assert short.exit_code == 0 and full.exit_code == 0, (short.output, full.output)
    quartile = re.compile(r"^\s*labs\[psa/dose 2\]\.(q1|q3|median): ", re.M)
    assert len(short.output.splitlines()) < 80, short.output
    assert not quartile.search(short.output)
    assert "--all lists every one" in short.output
    assert quartile.search(full.output), full.output
    n = len(json.loads(run(outputs, "v1", "v2", "--format", "json").output)["results"]["values"])
    assert f"results.json: {n:,} values changed" in full.output
    assert len(full.output.splitlines()) > n
    # the order a re-submitting team needs: numbers, abstract, tables, inputs, results
    heads = [
        short.output.index(h)
        for h in ("Numbers in the abstract", "\nAbstract", "\nTables", "\nInputs", "results.json")
    ]
    assert heads == sorted(heads)
    assert "data/measurements.csv changed" in short.output
    assert re.search(r"Length: .*characters excluding spaces.*2,000", short.output)
    assert "Abstract Table 1" in short.output and "row After dose" in short.output


@pytest.mark.slow
def test_json_has_every_section(outputs):
    result = run(outputs, "v1", "v2", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) >= {"format", "old", "new", "identical", "numbers", "abstract", "tables"}
    assert set(doc) >= {"inputs", "results"}
    assert doc["format"] == "psma-rwe-diff/1" and doc["identical"] is False
    assert (doc["old"]["label"], doc["new"]["label"]) == ("v1", "v2")
    assert doc["abstract"]["changed"] and doc["abstract"]["paragraphs"]
    for side in ("old", "new"):
        length = doc["abstract"]["length"][side]
        assert length["limit"] == 2000 and length["count"] > 0
    tables = {t["name"]: t for t in doc["tables"]}
    # Table 1 of the abstract; the poster shows the milestones as a figure, not this table
    assert tables["milestones_compact"]["numbers"] == {"abstract": 1}
    assert any(c["row"] == "After dose 2" for c in tables["milestones_compact"]["cells"])
    added = [c for c in tables["discontinuation"]["cells"] if c["old"] is None]
    assert [c["row"] for c in added] == [SCRIPT]  # the data's string, exactly
    assert {"name": "data/measurements.csv", "change": "changed"} in doc["inputs"]
    assert doc["results"]["changed"] == len(doc["results"]["values"]) > 0


@pytest.mark.slow
def test_html_page_is_offline_escaped_and_side_by_side(outputs, tmp_path):
    page_file = tmp_path / "diff.html"
    result = run(outputs, "v1", "v2", "--html", str(page_file))
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["diff.html"]  # no temporary file left
    page = page_file.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert html.escape(SCRIPT) in page
    for load in ("src=", "<link", "url(", "@import", "<iframe", "<object"):
        assert load not in page.lower(), load
    assert not re.search(r"https?://", page)
    old, new = _psa50(outputs, "v1"), _psa50(outputs, "v2")
    shown = re.search(r'<td class="old">([^<]*)</td><td class="new">([^<]*)</td>', page)
    assert shown and old in shown.group(1) and new in shown.group(2), shown
    assert "<del>" in page and "<ins>" in page
    assert "Abstract Table 1" in page


@pytest.mark.slow
@pytest.mark.parametrize("inside", ["v2/diff.html", "v2/tables/diff.html"])
def test_html_is_never_written_inside_a_version(outputs, inside):
    target = outputs / inside
    result = run(outputs, "v1", "v2", "--html", str(target))
    assert result.exit_code == 2, result.output
    assert "version folder" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not target.exists()


@pytest.mark.slow
def test_identical_versions_say_no_changes(outputs):
    result = run(outputs, "v1", "v1-again")
    assert result.exit_code == 0, result.output
    assert "no changes" in result.output
    assert len(result.output.strip().splitlines()) <= 3
    doc = json.loads(run(outputs, "v1", "v1-again", "--format", "json").output)
    assert doc["identical"] is True and doc["tables"] == [] and doc["results"]["values"] == []


@pytest.mark.slow
def test_a_version_without_displayed_values_falls_back_on_the_manifest(outputs):
    result = run(outputs, "v1-old-style", "v2")
    assert result.exit_code == 0, result.output
    old, new = _psa50(outputs, "v1"), _psa50(outputs, "v2")
    assert "rebuild it" in result.output
    assert re.search(
        rf"PSA50 response: \d+ \({re.escape(old)}\) → \d+ \({re.escape(new)}\)", result.output
    )
    assert "Abstract Table 1" in result.output  # tables and text do not need the variables


@pytest.mark.slow
def test_a_bad_format_is_one_line(outputs):
    result = run(outputs, "v1", "v2", "--format", "xml")
    assert result.exit_code == 2 and "expected text or json" in result.output
    assert "Traceback" not in result.output


# --- fast, hand-made -------------------------------------------------------------------


def test_word_diff_marks_only_the_changed_words():
    assert word_diff("PSA50 in 8 (38.1%) of 21", "PSA50 in 9 (42.9%) of 21") == (
        ("=", "PSA50 in"),
        ("-", "8 (38.1%)"),
        ("+", "9 (42.9%)"),
        ("=", "of 21"),
    )


def test_read_table_keys_columns_by_id_and_names_indented_rows():
    fragment = """
    <table><thead>
    <tr><td class="gt_heading gt_title">T</td></tr>
    <tr><th id="t-Char">Characteristic</th>
        <th id="t-resp">Responders, N = 8<sup class="gt_footnote_marks">a</sup></th></tr>
    </thead><tbody>
    <tr><th scope="row" id="t-stub-1" class="gt_stub">Race</th>
        <td headers="t-stub-1 t-resp"></td></tr>
    <tr><th scope="row" id="t-stub-2" class="gt_stub">\u00a0\u00a0\u00a0\u00a0&lt;b&gt;</th>
        <td headers="t-stub-2 t-resp">6 (75.0%)</td></tr>
    </tbody><tfoot><tr><td>n (%)</td></tr></tfoot></table>"""
    table = read_table(fragment)
    assert table.title == "T" and table.stub_head == "Characteristic"
    assert table.headers["t-resp"] == "Responders, N = 8"
    assert table.rows[1][0] == "Race › <b>"
    assert table.rows[1][2] == {("t-resp",): "6 (75.0%)"}
    assert table.notes == ("n (%)",)


def _handmade(folder: Path, variables: str, abstract: str, poster: str, fragment: str) -> Path:
    """A version folder with only what the displayed numbers need, and its manifest."""
    files = {
        VARIABLES: variables,
        f"{SOURCES}/report/abstract.qmd": abstract,
        f"{SOURCES}/report/poster.qmd": poster,
        f"{SOURCES}/followup/poster.md": fragment,
        "results.json": "{}",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    digests = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in files}
    (folder / MANIFEST).write_text(json.dumps({"inputs": {}, "outputs": digests}))
    return folder


def test_displayed_numbers_follow_the_sources(tmp_path):
    abstract = (
        "---\ntitle: x\n---\nPSA50 occurred in {{< var psa50.n >}} ({{< var psa50.pct >}}%;"
        " 95% CI {{< var psa50.ci_low >}}–{{< var psa50.ci_high >}}) in\n"
        "{{< var cohort.patients >}}. {{< var prose.a >}} {{< var prose.b >}}\n"
    )
    poster = "**{{< var psa50.pct >}}%** had PSA50.\n\n{{< include ../followup/poster.md >}}\n"
    values = (
        "psa50: {{n: '{n}', pct: '{pct}', ci_low: '{lo}', ci_high: '{hi}'}}\n"
        "cohort: {{patients: 21 patients}}\n"
        "prose: {{a: '{a}', b: The same sentence in both.}}\n"
    )
    old = _handmade(
        tmp_path / "old",
        values.format(n=8, pct=38.1, lo=18.1, hi=61.6, a="Of the 8 responders, 6 went on."),
        abstract,
        poster,
        "## Survival\n\nMedian OS 14.7 months.\n",
    )
    new = _handmade(
        tmp_path / "new",
        values.format(n=9, pct=42.9, lo=21.8, hi=66.0, a="Of the 9 responders, 7 went on."),
        abstract,
        poster,
        "## Survival\n\nMedian OS 15.0 months.\n",
    )
    d = diff_versions(old, new)
    assert d.shown_source == "variables"
    keys = ("psa50.n", "psa50.pct", "psa50.ci_low", "psa50.ci_high")

    assert d.shown == (
        Shown(
            "PSA50 response",
            keys,
            ("abstract", "poster"),  # the poster's "38.1%" is part of the abstract's
            "number",
            "8 (38.1%; 95% CI 18.1–61.6)",
            "9 (42.9%; 95% CI 21.8–66.0)",
        ),
        Shown(
            "prose: a",  # a sentence: never joined to the next one, compared word by word
            ("prose.a",),
            ("abstract",),
            "text",
            "Of the 8 responders, 6 went on.",
            "Of the 9 responders, 7 went on.",
        ),
        Shown(
            "Survival block",
            (f"include:{SOURCES}/followup/poster.md",),
            ("poster",),
            "text",
            "Median OS 14.7 months.",
            "Median OS 15.0 months.",
        ),
    )
