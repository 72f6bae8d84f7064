"""The offline Vega runtime is cached per vl-convert version, and the file stays the same."""

from __future__ import annotations

import pytest

from analysis import charts, fonts


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PSMA_RWE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_second_call_reads_the_cache(cache, monkeypatch):
    first = charts.runtime_html()
    assert first.startswith('<script id="vega-runtime">') and len(list(cache.iterdir())) == 2
    vlc = fonts.vl_convert()

    def refuse(*a, **k):
        raise AssertionError("the bundle was made again")

    monkeypatch.setattr(vlc, "javascript_bundle", refuse)
    assert charts.runtime_html() == first


def test_a_tampered_cache_is_not_used(cache):
    first = charts.runtime_html()
    (html,) = cache.glob("*.html")
    html.write_text('<script id="vega-runtime">alert(1)</script>\n', encoding="utf-8")
    assert charts.runtime_html() == first  # hash mismatch: made again and rewritten
    assert html.read_text(encoding="utf-8") == first


def test_an_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PSMA_RWE_CACHE", str(blocker / "cache"))
    assert charts.runtime_html().startswith('<script id="vega-runtime">')
