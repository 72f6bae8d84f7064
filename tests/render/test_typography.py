"""filters/typography.lua and filters/nuclides.lua: radionuclides' mass numbers
superscript ("¹⁷⁷Lu-PSMA-617", as journals print it) in the text, the title and the
HTML tables, and nothing else that looks alike."""

from __future__ import annotations

import subprocess

import pytest

from analysis.render.extension import bundled_dir
from analysis.render.pipeline import pandoc_path

FILTERS = bundled_dir() / "filters"


def _pandoc(args: list[str], text: str = "") -> str:
    return subprocess.run(
        [pandoc_path(), *args], input=text, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize(
    ("written", "printed"),
    [
        ("177Lu-PSMA-617", "¹⁷⁷Lu-PSMA-617"),
        ("(68Ga-PSMA-11)", "(⁶⁸Ga-PSMA-11)"),
        ("18F-DCFPyL", "¹⁸F-DCFPyL"),
        ("225Ac,", "²²⁵Ac,"),
        ("131I", "¹³¹I"),
        # not a radionuclide of the list, or not a whole word part: left alone
        ("1177Lu", "1177Lu"),
        ("177Lux", "177Lux"),
        ("A177Lu", "A177Lu"),
        ("12F", "12F"),
        ("99mTc", "99mTc"),
        ("PSMA-617", "PSMA-617"),
        ("¹⁷⁷Lu", "¹⁷⁷Lu"),  # written so already
    ],
)
def test_mass_numbers_of_radionuclides_are_superscript(written, printed):
    out = _pandoc(
        ["-f", "markdown", "-t", "plain", f"--lua-filter={FILTERS / 'typography.lua'}"],
        f"Given {written} here.\n",
    )
    assert out.strip() == f"Given {printed} here."


def test_the_title_is_set_alike():
    out = _pandoc(
        [
            "-f",
            "markdown",
            "-t",
            "html",
            "--standalone",
            f"--lua-filter={FILTERS / 'typography.lua'}",
        ],
        '---\ntitle: "Dose by dose with 177Lu-PSMA-617"\n---\nText.\n',
    )
    assert "<title>Dose by dose with ¹⁷⁷Lu-PSMA-617</title>" in out


def test_html_tables_change_their_text_not_their_tags(tmp_path):
    script = tmp_path / "check.lua"
    script.write_text(
        f'local n = dofile("{(FILTERS / "nuclides.lua").as_posix()}")\n'
        "print(n.superscript_html("
        '\'<td data-x="177Lu" class="gt_row">Before 177Lu-PSMA-617</td>\'))\n',
        encoding="utf-8",
    )
    out = _pandoc(["lua", str(script)])
    assert out.strip() == '<td data-x="177Lu" class="gt_row">Before ¹⁷⁷Lu-PSMA-617</td>'
