"""The abstract's title and closing sentence: ``study.abstract.title`` / ``closing-sentence``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis import config
from analysis.abstract import CLOSING_SENTENCE, front_variables
from analysis.build import build
from analysis.errors import PsmaRweError

ROOT = Path(__file__).resolve().parents[1]
TITLES = {"neutral": "PSA response by dose: a cohort", "result": "Early PSA decline: a cohort"}


def test_neutral_title_and_no_closing_sentence_by_default():
    front = front_variables({"titles": TITLES}, "Project title", evident_early=True)
    assert front == {"title": TITLES["neutral"], "closing": "", "references": "false"}


def test_result_title_and_closing_sentence_when_chosen():
    settings = {"title": "result", "titles": TITLES, "closing-sentence": True}
    front = front_variables(settings, "Project title", evident_early=True)
    assert front == {"title": TITLES["result"], "closing": CLOSING_SENTENCE, "references": "false"}


def test_result_title_only_when_the_data_show_it():
    settings = {"title": "result", "titles": TITLES}
    assert front_variables(settings, "x", evident_early=False)["title"] == TITLES["neutral"]


def test_project_title_is_the_neutral_one_without_titles():
    assert front_variables({}, "Project title", evident_early=True)["title"] == "Project title"


@pytest.mark.parametrize(
    ("settings", "key"),
    [({"title": "catchy"}, "study.abstract.title"), ({"closing-sentence": "yes"}, "closing")],
)
def test_bad_settings_are_refused(settings, key):
    with pytest.raises(PsmaRweError, match=key):
        front_variables(settings, "x", evident_early=True)


@pytest.mark.slow
def test_both_settings_change_the_built_abstract(tmp_path):
    """The shipped project (neutral, no closing) and a copy set to result + closing."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("report", "_extensions"):
        shutil.copytree(ROOT / name, project / name)
    quarto = (ROOT / "_quarto.yml").read_text(encoding="utf-8")
    assert "    title: neutral\n" in quarto and "    closing-sentence: false\n" in quarto
    texts = {}
    for form, closing in (("neutral", "false"), ("result", "true")):
        (project / "_quarto.yml").write_text(
            quarto.replace("    title: neutral\n", f"    title: {form}\n").replace(
                "    closing-sentence: false\n", f"    closing-sentence: {closing}\n"
            ),
            encoding="utf-8",
        )
        report = build(
            config.SYNTHETIC_DIR, label=form, outputs=tmp_path / "out", project_dir=project
        )
        texts[form] = (report.path / "abstract.txt").read_text(encoding="utf-8")
    neutral, result = texts["neutral"], texts["result"]
    assert neutral.startswith("PSA response by dose to lutetium Lu 177")
    assert result.startswith("Early PSA decline with lutetium Lu 177")
    assert CLOSING_SENTENCE not in neutral
    assert result.rstrip().endswith(CLOSING_SENTENCE)
