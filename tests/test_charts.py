"""The figures (analysis/charts.py), checked through their Vega-Lite specs, not pixels."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from analysis import charts, charts_draw, config
from analysis.analyze import run_analysis
from analysis.load import load_cohort
from analysis.results import LabPoint, Milestone, PatientResult, PsaCoursePoint
from tests.handmade import handmade_cohort

# --- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    """Results of the five-patient hand-made cohort (P1..P5; P2 not PSA-evaluable)."""
    return run_analysis(load_cohort(handmade_cohort(tmp_path_factory.mktemp("handmade")))).results


def _patient(no, best, m50, m90, doses, status):
    return PatientResult(
        patient_no=no,
        baseline_psa=None if best is None else 50.0,
        best_psa_change_pct=best,
        psa50_after_dose=m50,
        psa90_after_dose=m90,
        psa50_confirmed=None if best is None else m50 is not None,
        doses_received=doses,
        treatment_status=status,
        responder=m50 is not None,
    )


def _lab(test, label, unit, dose, n, median, q1, q3):
    return LabPoint(test, label, unit, dose, n, median, q1, q3, n, 0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def built(handmade):
    """Hand-built results: capped bars and points, six doses, two not evaluable, labs."""
    patients = (
        _patient(1, 245.5, None, None, 2, "discontinued"),  # capped at +100
        _patient(2, -95.0, 1, 3, 6, "completed"),
        _patient(3, None, None, None, 1, "discontinued"),  # not evaluable
        _patient(4, -60.0, 2, None, 4, "ongoing"),
        _patient(5, 12.5, None, None, 3, "discontinued"),
        _patient(6, -99.0, 1, 1, 6, "completed"),
        _patient(7, 100.0, None, None, 2, "discontinued"),  # exactly +100: not capped
        _patient(8, None, None, None, 2, "ongoing"),  # not evaluable
    )
    course = (
        PsaCoursePoint(1, 1, 245.5, False),
        PsaCoursePoint(1, 2, 310.0, False),  # clipped at +200
        PsaCoursePoint(2, 1, -55.0, True),
        PsaCoursePoint(2, 3, -95.0, True),
        PsaCoursePoint(4, 2, -60.0, True),
        PsaCoursePoint(5, 1, 12.5, False),
        PsaCoursePoint(6, 1, -99.0, True),
        PsaCoursePoint(7, 1, 100.0, False),
    )
    milestones = tuple(
        Milestone(k, a, b, round(100 * a / 8, 1), round(100 * b / 8, 1), None, None)
        for k, a, b in ((1, 2, 1), (2, 3, 1), (3, 3, 2), (4, 3, 2), (5, 3, 2), (6, 3, 2))
    )
    labs = (
        _lab("hemoglobin", "Hemoglobin", "g/dL", 1, 6, 12.0, 11.0, 13.0),
        _lab("hemoglobin", "Hemoglobin", "g/dL", 2, 5, 11.5, 10.5, 12.5),
        _lab("platelets", "Platelets", "×10⁹/L", 1, 6, 210.0, 180.0, 250.0),
        _lab("platelets", "Platelets", "×10⁹/L", 2, 4, 190.0, 150.0, 220.0),
        _lab("ldh", "LDH", "U/L", 1, 3, 250.0, 200.0, 300.0),
        _lab("psa", "PSA", "ng/mL", 1, 6, 80.0, 20.0, 120.0),  # not drawn by default
    )
    return dataclasses.replace(
        handmade,
        cohort=dataclasses.replace(handmade.cohort, n_patients=8, max_dose_number=6),
        psa_response=dataclasses.replace(
            handmade.psa_response,
            milestones=milestones,
            psa50=dataclasses.replace(handmade.psa_response.psa50, n=3, pct=37.5, denominator=8),
        ),
        patients=patients,
        psa_course=course,
        labs=labs,
    )


@pytest.fixture(scope="module")
def specs(handmade, built):
    """{(which, name): Vega-Lite dict} for both result sets."""
    out = {}
    for which, results in (("handmade", handmade), ("built", built)):
        for name, chart in charts.chart_specs(results).items():
            out[which, name] = chart.to_dict()
    return out


# --- helpers -------------------------------------------------------------------


def _layers(spec):
    """Every unit spec (with mark) in a layered / concatenated spec, depth first.

    A child without data of its own gets its parent's (Vega-Lite inheritance).
    """
    if "mark" in spec:
        yield spec
    for key in ("layer", "concat", "hconcat", "vconcat"):
        for child in spec.get(key, []):
            if "data" not in child and "data" in spec:
                child = {**child, "data": spec["data"]}
            yield from _layers(child)


def _mark(layer) -> str:
    mark = layer["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def _values(spec, layer):
    """The data rows of a layer, after its filter transforms (datum.x / datum.x == 'y')."""
    name = layer.get("data", {}).get("name")
    rows = list(spec["datasets"][name]) if name else []
    for t in layer.get("transform", []):
        expr = t.get("filter")
        if isinstance(expr, dict):  # alt.datum.group == "..."
            expr = expr.get("expr", expr)
        rows = [r for r in rows if _eval_filter(expr, r)]
    return rows


def _eval_filter(expr: str, row: dict) -> bool:
    m = re.fullmatch(r"\(?datum\.(\w+) === '([^']*)'\)?", expr)
    if m:
        return row[m.group(1)] == m.group(2)
    py = re.sub(r"datum\.(\w+)", r"row['\1']", expr)
    py = py.replace("!row", "not row").replace("&&", "and").replace("||", "or")
    return bool(eval(py, {}, {"row": row}))


def _find(spec, mark, **encoded):
    """Layers with this mark whose encodings use the given fields (channel=field)."""
    found = []
    for layer in _layers(spec):
        if _mark(layer) != mark:
            continue
        enc = layer.get("encoding", {})
        if all(enc.get(ch, {}).get("field") == f for ch, f in encoded.items()):
            found.append(layer)
    return found


def _rule_values(spec) -> set[float]:
    values = set()
    for layer in _layers(spec):
        if _mark(layer) == "rule":
            y = layer["encoding"]["y"]
            if "datum" in y:
                values.add(y["datum"])
            else:
                values.update(r[y["field"]] for r in _values(spec, layer))
    return values


def _title_text(spec) -> tuple[str, list[str]]:
    title = spec["title"]
    sub = title.get("subtitle", [])
    return title["text"], [sub] if isinstance(sub, str) else sub


# --- general ---------------------------------------------------------------------


def test_chart_names_titles_and_theme(specs):
    for which in ("handmade", "built"):
        for name in charts.CHART_NAMES:
            spec = specs[which, name]
            text, subtitle = _title_text(spec)
            assert text and subtitle, name
            assert spec["config"]["font"] == charts.FONT
            assert spec["config"]["font"].startswith("Lato,")
    for layer in _layers(specs["built", "waterfall"]):
        assert "tooltip" in layer["encoding"] or _mark(layer) in {"rule", "text"}


def test_no_identifiers_or_dates_in_any_spec(specs, handmade):
    ids = re.compile(r"\bP\d+\b|PT-|patient_id")
    date = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b")
    for key, spec in specs.items():
        text = json.dumps(spec, ensure_ascii=False)
        assert not ids.search(text), key
        assert not date.search(text), key
    # the hand-made cohort's ids really are P1..P5
    assert [p.patient_no for p in handmade.patients] == [1, 2, 3, 4, 5]


def test_every_character_of_every_chart_is_in_the_bundled_font(specs):
    """No glyph falls back to another font: each character is in Lato's character map."""
    from fontTools.ttLib import TTFont

    from analysis import fonts

    (regular,) = [f.path for f in fonts.bundled_fonts() if f.path.name == "Lato-Regular.ttf"]
    cmap = TTFont(str(regular)).getBestCmap()
    for key, spec in specs.items():
        text = json.dumps(spec, ensure_ascii=False)
        missing = sorted({c for c in text if ord(c) > 127 and ord(c) not in cmap})
        assert not missing, (key, missing)
    lab_titles = json.dumps(specs["built", "labs"], ensure_ascii=False)
    assert "×10⁹/L" in lab_titles and "10^9" not in lab_titles


# --- waterfall -------------------------------------------------------------------


def test_waterfall_bars_values_and_order(specs, handmade):
    spec = specs["handmade", "waterfall"]
    (bars,) = _find(spec, "bar", x="patient_no", y="best_change_plot", color="response")
    rows = _values(spec, bars)
    # P2 (patient 2) has no baseline PSA: left out; the others sorted increase → decrease.
    assert [r["patient_no"] for r in rows] == [4, 1, 5, 3]
    assert bars["encoding"]["x"]["sort"] == [4, 1, 5, 3]
    assert bars["encoding"]["x"]["type"] == "ordinal"
    assert bars["encoding"]["y"]["type"] == "quantitative"
    assert bars["encoding"]["color"]["type"] == "nominal"
    assert bars["encoding"]["y"]["title"] == "Best PSA change from baseline (%)"
    expected = {p.patient_no: p.best_psa_change_pct for p in handmade.patients}
    for r in rows:
        assert r["best_change"] == pytest.approx(expected[r["patient_no"]])
    assert {r["patient_no"]: r["response"] for r in rows} == {
        4: "No PSA50",
        1: "PSA90",
        5: "PSA90",
        3: "PSA90",
    }
    assert bars["encoding"]["color"]["scale"]["domain"] == ["PSA90", "PSA50 only", "No PSA50"]
    assert _rule_values(spec) == {-50, -90, 0}
    labels = [r["label"] for layer in _find(spec, "text", y="y") for r in _values(spec, layer)]
    assert labels == ["−50% (PSA50)", "−90% (PSA90)"]
    assert "1 not PSA-evaluable" in " ".join(_title_text(spec)[1])


def test_waterfall_caps_bars_above_100(specs):
    spec = specs["built", "waterfall"]
    (bars,) = _find(spec, "bar", x="patient_no", y="best_change_plot")
    rows = {r["patient_no"]: r for r in _values(spec, bars)}
    assert sorted(rows) == [1, 2, 4, 5, 6, 7]  # 3 and 8 not evaluable
    assert bars["encoding"]["x"]["sort"] == [1, 7, 5, 4, 2, 6]
    assert rows[1]["best_change_plot"] == 100 and rows[1]["best_change"] == 245.5
    assert rows[1]["capped"] and rows[1]["cap_label"] == "+246%"
    assert rows[7]["best_change_plot"] == 100 and not rows[7]["capped"]
    assert rows[4]["response"] == "PSA50 only"
    capped_layers = [
        layer
        for layer in _layers(spec)
        if any("capped" in str(t) for t in layer.get("transform", []))
    ]
    assert capped_layers and all(
        [r["patient_no"] for r in _values(spec, layer)] == [1] for layer in capped_layers
    )
    subtitle = " ".join(_title_text(spec)[1])
    assert "2 not PSA-evaluable" in subtitle and "capped at +100%" in subtitle
    assert bars["encoding"]["y"]["scale"]["domain"] == [-100, 100]


# --- PSA course ------------------------------------------------------------------


def assert_rows_close(got: list[tuple], expected: list[tuple]) -> None:
    """Rows equal field by field, floats to pytest.approx's default tolerance.

    ``pytest.approx`` compares flat sequences only (pytest 9 refuses tuples
    nested in a list), so each row is compared on its own.
    """
    assert len(got) == len(expected), (got, expected)
    for g, e in zip(got, expected, strict=True):
        assert len(g) == len(e), (g, e)
        for a, b in zip(g, e, strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b), (g, e)
            else:
                assert a == b, (g, e)


def test_psa_course_lines(specs, handmade):
    spec = specs["handmade", "psa_course"]
    lines = _find(spec, "line", x="after_dose", y="pct_change_plot", color="group")
    assert len(lines) == 2 and all(
        ln["encoding"]["detail"]["field"] == "patient_no" for ln in lines
    )
    rows = [r for ln in lines for r in _values(spec, ln)]
    course = sorted(
        (r["patient_no"], r["after_dose"], r["pct_change"]) for r in rows if r["after_dose"]
    )
    assert_rows_close(
        course, sorted((c.patient_no, c.after_dose, c.pct_change) for c in handmade.psa_course)
    )
    baselines = sorted((r["patient_no"], r["pct_change"]) for r in rows if r["baseline"])
    assert baselines == [(1, 0.0), (3, 0.0), (4, 0.0), (5, 0.0)]
    groups = {r["patient_no"]: r["group"] for r in rows}
    assert groups == {
        1: charts.RESPONDER,
        3: charts.RESPONDER,
        4: charts.NON_RESPONDER,
        5: charts.RESPONDER,
    }
    colour = lines[0]["encoding"]["color"]["scale"]
    assert colour["domain"] == [charts.RESPONDER, charts.NON_RESPONDER]
    assert colour["range"][1] == charts.NONRESP_GREY
    assert _rule_values(spec) == {-50, -90, 0}
    assert lines[0]["encoding"]["y"]["title"] == "PSA change from baseline (%)"


def test_psa_course_clips_above_200(specs):
    spec = specs["built", "psa_course"]
    rows = [r for ln in _find(spec, "line", y="pct_change_plot") for r in _values(spec, ln)]
    clipped = [r for r in rows if r["capped"]]
    assert [(r["patient_no"], r["after_dose"], r["pct_change"]) for r in clipped] == [
        (1, 1, 245.5),
        (1, 2, 310.0),
    ]
    assert all(r["pct_change_plot"] == 200 for r in clipped)
    assert max(r["pct_change_plot"] for r in rows) == 200
    assert "+200%" in " ".join(_title_text(spec)[1])
    triangles = [
        layer
        for layer in _layers(spec)
        if isinstance(layer["mark"], dict) and layer["mark"].get("shape") == "triangle-up"
    ]
    assert sum(len(_values(spec, t)) for t in triangles) == 2


# --- milestones ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["handmade", "built"])
def test_milestones_equal_results(specs, handmade, built, which):
    results = {"handmade": handmade, "built": built}[which]
    spec = specs[which, "milestones"]
    (bars,) = _find(spec, "bar", x="after_dose", y="pct", color="measure")
    assert bars["encoding"]["xOffset"]["field"] == "measure"
    got = {(r["after_dose"], r["measure"]): (r["n"], r["pct"]) for r in _values(spec, bars)}
    expected = {}
    for m in results.psa_response.milestones:
        expected[m.after_dose, "PSA50"] = (m.psa50_n, m.psa50_pct)
        expected[m.after_dose, "PSA90"] = (m.psa90_n, m.psa90_pct)
    assert got == expected
    (labels,) = _find(spec, "text", x="after_dose", y="pct", text="n")
    assert len(_values(spec, labels)) == 2 * len(results.psa_response.milestones)
    assert "% of all" in bars["encoding"]["y"]["title"]


def test_milestone_subtitle_states_the_finding(specs):
    assert (
        "2 of 3 responders reached PSA50 by dose 1, all 3 by dose 2."
        in _title_text(specs["handmade", "milestones"])[1]
    )


# --- swimmer ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["handmade", "built"])
def test_swimmer_bars_equal_doses(specs, handmade, built, which):
    results = {"handmade": handmade, "built": built}[which]
    spec = specs[which, "swimmer"]
    (bars,) = _find(spec, "bar", x="start", x2="end", y="patient_no", color="status")
    rows = _values(spec, bars)
    for p in results.patients:
        mine = [r for r in rows if r["patient_no"] == p.patient_no]
        assert len(mine) == p.doses_received
        assert max(r["end"] for r in mine) == p.doses_received
        assert {r["status"] for r in mine} == {charts.STATUS_LABELS[p.treatment_status]}
    order = bars["encoding"]["y"]["sort"]
    assert order == charts.swimmer_order(results)
    doses = {p.patient_no: p.doses_received for p in results.patients}
    assert [doses[n] for n in order] == sorted(doses.values(), reverse=True)


def test_swimmer_markers(specs, built):
    spec = specs["built", "swimmer"]
    (points,) = _find(spec, "point", x="x", y="patient_no", shape="marker")
    got = sorted((r["patient_no"], r["marker"], r["x"]) for r in _values(spec, points))
    expected = []
    for p in built.patients:
        if p.psa50_after_dose:
            expected.append((p.patient_no, charts.MARK_PSA50, p.psa50_after_dose - 0.7))
        if p.psa90_after_dose:
            expected.append((p.patient_no, charts.MARK_PSA90, p.psa90_after_dose - 0.3))
        if p.treatment_status == "ongoing":
            expected.append((p.patient_no, charts.MARK_ONGOING, p.doses_received + 0.2))
    assert_rows_close(got, sorted(expected))
    shapes = points["encoding"]["shape"]["scale"]
    assert dict(zip(shapes["domain"], shapes["range"], strict=True))[charts.MARK_ONGOING] == (
        "triangle-right"
    )


# --- labs ------------------------------------------------------------------------


def test_lab_panels(specs, built):
    spec = specs["built", "labs"]
    panels = spec["concat"]
    assert [p["title"]["text"] for p in panels] == ["Hemoglobin", "Platelets", "LDH"]  # no ALP
    bands = _find(spec, "area", x="dose_number", y="q1", y2="q3")
    assert [b["encoding"]["y"]["title"] for b in bands] == [
        "Hemoglobin (g/dL)",
        "Platelets (×10⁹/L)",
        "LDH (U/L)",
    ]
    for band, test in zip(bands, ["hemoglobin", "platelets", "ldh"], strict=True):
        expected = [
            (p.dose_number, p.median, p.q1, p.q3, p.n) for p in built.labs if p.test == test
        ]
        got = [
            (r["dose_number"], r["median"], r["q1"], r["q3"], r["n"]) for r in _values(spec, band)
        ]
        assert got == expected
        assert "n" in [t["field"] for t in band["encoding"]["tooltip"]]
    # CTCAE grade-2 lines from results.definitions
    assert _rule_values(spec) == {10.0, 75.0}


def test_labs_without_values(handmade):
    results = dataclasses.replace(handmade, labs=())
    spec = charts.lab_trajectories(results).to_dict()
    assert "No laboratory values" in json.dumps(spec, ensure_ascii=False)
    assert charts.to_svg(spec).startswith("<svg")


def test_nothing_evaluable_still_draws(handmade):
    patients = tuple(
        dataclasses.replace(
            p, best_psa_change_pct=None, psa50_after_dose=None, psa90_after_dose=None
        )
        for p in handmade.patients
    )
    results = dataclasses.replace(handmade, patients=patients, psa_course=())
    for name, chart in charts.chart_specs(results).items():
        assert charts.to_svg(chart.to_dict()).startswith("<svg"), name
    text = " ".join(_title_text(charts.waterfall(results).to_dict())[1])
    assert "0 of 5 patients" in text and "5 not PSA-evaluable" in text


# --- outputs ---------------------------------------------------------------------


def test_interactive_fragment_is_offline_and_holds_the_spec(specs):
    spec = specs["built", "waterfall"]
    html = charts.interactive_html("waterfall", spec)
    assert '<div id="fig-waterfall-interactive"' in html
    assert "http" not in html and "//cdn" not in html and "src=" not in html
    assert "vegaEmbed(" in html and '"actions":false' in html and '"renderer":"svg"' in html
    m = re.search(r"var spec = (\{.*\});\n", html)
    assert json.loads(m.group(1)) == charts.embed_spec(spec)
    assert "$schema" in spec and "$schema" not in charts.embed_spec(spec)
    # a "</script>" inside a string cannot close the element
    tricky = {"title": "a </script><b> & c"}
    frag = charts.interactive_html("x", tricky)
    assert frag.count("</script>") == 1
    assert json.loads(re.search(r"var spec = (\{.*\});\n", frag).group(1)) == tricky


def test_runtime_fragment():
    html = charts.runtime_html()
    assert html.startswith('<script id="vega-runtime">') and html.endswith("</script>\n")
    assert html.count("</script") == 1
    assert len(html) > 100_000
    assert "window.vegaEmbed=" in html.replace(" ", "")
    assert "<script src" not in html and "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_write_figures_is_deterministic(built, tmp_path):
    first = charts.write_figures(built, tmp_path / "a")
    second = charts.write_figures(built, tmp_path / "b")
    assert set(first) == {*charts.CHART_NAMES, "forest", charts.RUNTIME_NAME}
    expected_specs = {n: c.to_dict() for n, c in charts.chart_specs(built).items()}
    for name in charts.CHART_NAMES:
        files = first[name]
        poster = ["poster_pdf", "poster_svg"] if name in charts.POSTER_CHARTS else []
        assert sorted(files) == sorted(["html", "json", "pdf", "svg", *poster])
        assert files["svg"].name == f"{name}.svg" and files["json"].name == f"{name}.vl.json"
        assert files["html"].name == f"{name}-interactive.html"
        for kind, path in files.items():
            assert path.read_bytes() == second[name][kind].read_bytes(), (name, kind)
        assert files["pdf"].read_bytes().startswith(b"%PDF-")
        assert files["svg"].read_text(encoding="utf-8").startswith("<svg")
        if poster:
            assert files["poster_svg"].name == f"{name}-poster.svg"
            assert files["poster_pdf"].read_bytes().startswith(b"%PDF-")
        text = files["json"].read_text(encoding="utf-8")
        spec = json.loads(text)
        assert text == json.dumps(spec, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        assert spec == expected_specs[name]
    assert first["vega-runtime"]["html"].name == "vega-runtime.html"
    assert all(isinstance(p, Path) for files in first.values() for p in files.values())


def test_pdf_bytes_are_stable_and_valid(specs):
    pypdf = pytest.importorskip("pypdf")
    spec = specs["built", "labs"]  # two font faces, opacity: the case that used to vary
    outputs = set()
    for _ in range(4):
        charts_draw._SVG_MEMO.clear()  # drawn afresh each time, not taken from the memo
        outputs.add(charts.to_pdf(spec))
    assert len(outputs) == 1
    pdf = outputs.pop()
    assert b"/CreationDate" not in pdf and b"/ModDate" not in pdf and b"/ID" not in pdf
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Hemoglobin" in text and "Platelets" in text
    fonts = {
        str(f.get_object()["/BaseFont"]).split("+")[-1]
        for f in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert fonts <= {"Lato-Regular", "Lato-Bold"}


def test_svg_bytes_are_stable(specs):
    spec = specs["built", "swimmer"]
    first = charts.to_svg(spec)
    charts_draw._SVG_MEMO.clear()  # drawn afresh, not taken from the memo
    assert charts.to_svg(spec) == first
    assert 'font-family="Lato,' in charts.to_svg(spec)


# --- in a browser (slow) ---------------------------------------------------------


@pytest.mark.slow
def test_fragments_draw_offline_in_chromium(built, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium")
    paths = charts.write_figures(built, tmp_path)
    body = paths["vega-runtime"]["html"].read_text(encoding="utf-8")
    body += "".join(paths[n]["html"].read_text(encoding="utf-8") for n in charts.CHART_NAMES)
    page_file = tmp_path / "page.html"
    page_file.write_text(f"<!doctype html><meta charset='utf-8'><body>{body}</body>", "utf-8")
    requests, errors = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_file.as_uri())
        for name in charts.CHART_NAMES:
            page.wait_for_selector(f"#fig-{name}-interactive svg", timeout=10_000)
        browser.close()
    assert requests == [page_file.as_uri()]
    assert errors == []


def test_module_docstring_names_every_chart():
    doc = charts.__doc__ or ""
    for name in charts.CHART_NAMES:
        assert f"``{name}``" in doc


def test_poster_spec_grows_the_text_and_sets_the_width(built):
    from analysis import charts_poster as cp

    spec = charts.chart_specs(built)["waterfall"].to_dict()
    poster = cp.poster_spec(spec)
    assert "title" in spec and "title" not in poster
    assert min(cp.font_sizes(poster)) == pytest.approx(cp.POSTER_FONT_MIN)
    width, height = cp.rendered_size(poster)
    assert width == pytest.approx(cp.POSTER_CHART_WIDTH, abs=2)
    assert height < width
    assert poster["datasets"] == spec["datasets"]  # the data are untouched


def test_reference_labels_sit_at_the_plot_edge_whatever_its_width(built):
    layers = json.dumps(charts.chart_specs(built)["waterfall"].to_dict()["layer"])
    assert '"x": {"value": "width"}' in layers


def test_charts_are_built_without_altairs_from_dict(handmade, monkeypatch):
    """Every chart and its poster version gives its encodings as channel objects
    (``alt.Y("q3:Q")``, ``alt.YDatum(0)``), not shorthand strings or dicts: Altair
    turns those into channels with ``from_dict``, which rebuilds its table of the
    whole Vega-Lite schema each time (4 ms a call; 57 calls, a quarter of a second,
    per build of the shipped cohort).  The specs are the same either way."""
    import altair.utils.schemapi as schemapi

    from analysis import charts_poster, charts_write

    calls = []
    original = schemapi.SchemaBase.from_dict.__func__

    def counting(cls, dct, validate=True):
        calls.append(cls.__name__)
        return original(cls, dct, validate)

    shipped = run_analysis(load_cohort(config.SYNTHETIC_DIR)).results
    monkeypatch.setattr(schemapi.SchemaBase, "from_dict", classmethod(counting))
    drawn = set()
    for results in (handmade, shipped):
        for name in charts_write.figure_names(results):
            spec = charts_write.chart_spec(charts_write.build_chart(name, results))
            if name in charts.POSTER_CHARTS:
                charts_poster.poster_variant(name, spec, results)
            drawn.add(name)
    assert {"km", "landmark", "forest", "labs", "swimmer"} <= drawn
    assert calls == []
