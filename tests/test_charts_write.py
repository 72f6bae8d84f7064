"""Drawing the figures: the SVG memo, PDFs made from the drawn SVG, charts drawn in workers."""

from __future__ import annotations

import pytest

from analysis import charts, charts_draw, charts_write, fonts
from analysis.analyze import run_analysis
from analysis.load import load_cohort
from tests.handmade import handmade_cohort


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return run_analysis(load_cohort(handmade_cohort(tmp_path_factory.mktemp("handmade")))).results


@pytest.fixture(scope="module")
def specs(results):
    return {name: chart.to_dict() for name, chart in charts.chart_specs(results).items()}


class _Counting:
    """vl-convert, counting the charts it draws."""

    def __init__(self, real):
        self.real = real
        self.drawn = 0

    def vegalite_to_svg(self, spec, **kwargs):
        self.drawn += 1
        return self.real.vegalite_to_svg(spec, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def counting(monkeypatch):
    charts_draw._SVG_MEMO.clear()
    proxy = _Counting(fonts.vl_convert())
    monkeypatch.setattr(charts.fonts, "vl_convert", lambda *a, **k: proxy)
    yield proxy
    charts_draw._SVG_MEMO.clear()


def test_pdf_is_vl_converts_pdf_of_the_spec(specs):
    # to_pdf converts the SVG that to_svg drew; vegalite_to_pdf draws and converts
    # itself.  A vl-convert whose two paths part ways fails here.
    vlc = fonts.vl_convert()
    for name, spec in specs.items():
        expected = charts.stable_pdf(vlc.vegalite_to_pdf(spec, vl_version=charts.VL_VERSION))
        assert charts.to_pdf(spec) == expected, name


def test_a_spec_is_drawn_once_for_its_svg_and_pdf(specs, counting):
    spec = specs["milestones"]
    svg = charts.to_svg(spec)
    assert charts.to_svg(spec) == svg
    assert charts.to_pdf(spec).startswith(b"%PDF-")
    assert counting.drawn == 1
    changed = {**spec, "width": 123}
    assert charts.to_svg(changed) != svg
    assert counting.drawn == 2


def test_the_memo_follows_the_registered_fonts(specs, counting, monkeypatch):
    spec = specs["milestones"]
    charts.to_svg(spec)
    monkeypatch.setattr(charts.fonts, "vl_font_dirs", lambda: frozenset({"/another/font/folder"}))
    charts.to_svg(spec)
    assert counting.drawn == 2


def test_the_memo_keeps_the_latest_specs_only(specs, counting, monkeypatch):
    monkeypatch.setattr(charts_draw, "_SVG_MEMO_SIZE", 2)
    spec = specs["milestones"]
    for width in (100, 110, 120):
        charts.to_svg({**spec, "width": width})
    assert len(charts_draw._SVG_MEMO) == 2
    charts.to_svg({**spec, "width": 100})  # the oldest was dropped: drawn again
    assert counting.drawn == 4


def test_workers_write_the_same_files(results, tmp_path):
    from analysis.workers import Pool

    charts_draw._SVG_MEMO.clear()
    serial = charts_write.write_figures(results, tmp_path / "serial")
    with Pool(2, warm=("analysis.charts_write:warm",)) as pool:
        pooled = charts_write.write_figures(results, tmp_path / "pooled", pool=pool)
    assert list(serial) == list(pooled)
    assert sorted(p.name for p in (tmp_path / "serial").iterdir()) == sorted(
        p.name for p in (tmp_path / "pooled").iterdir()
    )
    assert not (tmp_path / "_results.pickle").exists()  # the hand-over file is gone
    written = {p.stem for p in (tmp_path / "pooled").glob("*.svg")}
    assert charts_write.figure_stems(results) == written  # known before drawing
    for name, files in serial.items():
        assert list(files) == list(pooled[name])
        for kind, path in files.items():
            assert path.read_bytes() == pooled[name][kind].read_bytes(), (name, kind)


@pytest.fixture(scope="module")
def synthetic_results():
    from analysis import config

    return run_analysis(load_cohort(config.SYNTHETIC_DIR)).results


@pytest.mark.parametrize("cohort", ["handmade", "synthetic"])
def test_every_chart_the_build_draws_is_valid_vega_lite(cohort, results, synthetic_results):
    # chart_spec skips Altair's schema check: it is made here instead.
    results = results if cohort == "handmade" else synthetic_results
    names = charts_write.figure_names(results)
    assert names[: len(charts.CHART_NAMES)] == list(charts.CHART_NAMES)
    assert len(set(names)) == len(names)
    for name in names:
        chart = charts_write.build_chart(name, results)
        assert charts_write.chart_spec(chart) == chart.to_dict(validate=True), name
    with pytest.raises(KeyError, match="no chart named 'pie'"):
        charts_write.build_chart("pie", results)


def test_a_failing_chart_fails_the_whole_write(results, tmp_path, monkeypatch):
    def broken(spec):
        raise RuntimeError("vl-convert exploded")

    monkeypatch.setattr(charts, "to_pdf", broken)
    with pytest.raises(RuntimeError, match="vl-convert exploded"):
        charts_write.write_figures(results, tmp_path / "out")


def test_a_chart_a_worker_cannot_write_fails_the_write(results, tmp_path):
    from analysis.workers import Pool

    out = tmp_path / "figures"
    (out / "waterfall.svg").mkdir(parents=True)  # a folder where the file goes
    with Pool(2) as pool, pytest.raises(OSError, match="waterfall"):
        charts_write.write_figures(results, out, pool=pool)
    assert not (tmp_path / "_results.pickle").exists()


def test_chart_spec_has_no_row_limit_and_keeps_small_specs():
    """A 10,000-patient cohort's Kaplan-Meier steps exceed Altair's 5,000 rows."""
    import altair as alt
    import pandas as pd

    from analysis.charts_write import chart_spec

    before = (alt.data_transformers.active, dict(alt.data_transformers.options))
    with alt.data_transformers.enable("default", max_rows=5000):
        big = alt.Chart(pd.DataFrame({"x": range(6000), "y": range(6000)})).mark_line()
        spec = chart_spec(big.encode(x="x:Q", y="y:Q"))
        assert len(next(iter(spec["datasets"].values()))) == 6000
        small = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_point().encode(x="x:Q")
        assert chart_spec(small) == small.to_dict()
        with pytest.raises(alt.MaxRowsError):  # Altair's own limit is left as it was
            big.encode(x="x:Q", y="y:Q").to_dict()
    assert (alt.data_transformers.active, dict(alt.data_transformers.options)) == before
