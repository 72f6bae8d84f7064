"""Fonts under the project's control: the same outputs whatever fonts the machine has.

The central test builds the shipped cohort twice in fresh processes: once as a
clean machine would, once with impostor fonts visible to the system through
every route Typst and vl-convert could take (``FONTCONFIG_FILE``, ``~/.fonts``,
``$XDG_DATA_HOME/fonts``, ``TYPST_FONT_PATHS``).  The impostors carry the very
family names the documents ask for (a "Lato" that is really IBM Plex Serif and
so on), so a single system font reaching any output changes its bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cohorts import copy_project_sources

from analysis import config, fonts

pytestmark = pytest.mark.slow


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _rename(source: Path, target: Path, family: str) -> None:
    """Write ``source`` as a font whose family (and full / PostScript names) is ``family``."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(source))
    style = font["name"].getDebugName(2) or "Regular"
    for record in font["name"].names:
        if record.nameID in (1, 16):
            record.string = family
        elif record.nameID == 4:
            record.string = f"{family} {style}"
        elif record.nameID == 6:
            record.string = f"{family.replace(' ', '')}-{style.replace(' ', '')}"
    font.save(str(target))


def _impostors(folder: Path) -> Path:
    """Fonts named like the bundled ones (and vl-convert's Liberation Sans), with other glyphs."""
    folder.mkdir(parents=True)
    bundled = {(f.family, f.style, f.weight): f.path for f in fonts.bundled_fonts()}
    swap = {fonts.SANS: fonts.SERIF, fonts.SERIF: fonts.SANS, fonts.MONO: fonts.SANS}
    for (family, style, weight), path in bundled.items():
        donor = bundled.get((swap[family], style, weight)) or bundled[(swap[family], "normal", 400)]
        _rename(donor, folder / f"fake-{path.name}", family)
    mono = bundled[(fonts.MONO, "normal", 400)]
    _rename(mono, folder / "fake-LiberationSans.ttf", "Liberation Sans")
    return folder


def _build(outputs: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "analysis", "build", str(config.SYNTHETIC_DIR)]
    args += ["--outputs", str(outputs), "--label", "v"]
    return subprocess.run(
        args, cwd=config.PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
    )


def test_system_fonts_do_not_change_a_single_byte(tmp_path):
    fake = _impostors(tmp_path / "fake-fonts")
    home = tmp_path / "home"
    for sub in (".fonts", ".local/share/fonts"):
        shutil.copytree(fake, home / sub)
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><dir>{fake}</dir><dir>/usr/share/fonts</dir></fontconfig>\n",
        encoding="utf-8",
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FONTCONFIG", "TYPST"))}
    polluted = {
        **base,
        "FONTCONFIG_FILE": str(conf),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "TYPST_FONT_PATHS": str(fake),
    }
    clean = _build(tmp_path / "clean", base)
    assert clean.returncode == 0, clean.stderr
    dirty = _build(tmp_path / "dirty", polluted)
    assert dirty.returncode == 0, dirty.stderr

    a, b = _files(tmp_path / "clean" / "v"), _files(tmp_path / "dirty" / "v")
    assert a.keys() == b.keys()
    changed = sorted(k for k in a if a[k] != b[k])
    assert changed == [], f"outputs that depend on the machine's fonts: {changed}"
    # Every PDF is set in the bundled fonts only.
    for pdf in sorted((tmp_path / "clean" / "v").rglob("*.pdf")):
        names = set(re.findall(rb"/BaseFont\s*/[A-Z]{6}\+([A-Za-z-]+)", pdf.read_bytes()))
        assert names, pdf
        assert {n.split(b"-")[0] for n in names} <= {b"Lato", b"IBMPlexSerif", b"IBMPlexMono"}, (
            pdf.name,
            names,
        )


def test_the_declared_families_are_the_files_families():
    """The names the templates and charts use are what Typst reads from the files."""
    entries = fonts.manifest_entries(
        [fonts.FontFile("", "", 0, f.path, f.source) for f in fonts.bundled_fonts()],
        embedded=False,
    )
    got = [(e["family"], e["style"], e["weight"]) for e in entries]
    assert got == [(f.family, f.style, f.weight) for f in fonts.bundled_fonts()]


def test_templates_and_charts_name_only_bundled_families():
    from analysis import charts

    # the library and the modules it imports (common.typ, poster.typ)
    typst_dir = config.PROJECT_DIR / "_extensions" / "psma-rwe" / "typst"
    typ = "\n".join(p.read_text(encoding="utf-8") for p in sorted(typst_dir.glob("*.typ")))
    named = set(re.findall(r"#let \w+-fonts = \(([^)]*)\)", typ))
    families = {s.strip().strip('"') for group in named for s in group.split(",") if s.strip()}
    assert families == {fonts.SANS, fonts.SERIF, fonts.MONO}
    assert charts.FONT.split(",")[0] == fonts.SANS


def test_vl_convert_cannot_see_system_fonts():
    """A family every Debian machine has (DejaVu) is not found; the bundled Lato is."""
    vlc = fonts.vl_convert()

    def embedded(family: str) -> set[bytes]:
        spec = {
            "data": {"values": [{"a": "Hello", "b": 1}]},
            "mark": "bar",
            "encoding": {"x": {"field": "a", "type": "nominal"}, "y": {"field": "b"}},
            "config": {"font": family},
        }
        pdf = vlc.vegalite_to_pdf(spec)
        return set(re.findall(rb"/BaseFont\s*/[A-Z]{6}\+([A-Za-z-]+)", pdf))

    assert embedded("Lato") == {b"Lato-Regular", b"Lato-Bold"}
    assert not any(n.startswith(b"DejaVu") for n in embedded("DejaVu Sans"))
    assert os.environ.get("FONTCONFIG_FILE") != "psma-rwe"  # environment restored


def _cjk_font() -> Path | None:
    for folder in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts")):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if path.suffix.lower() in {".ttc", ".ttf", ".otf"} and re.search(
                r"wqy|noto.*cjk|sourcehan|droidsansfallback", path.name, re.I
            ):
                return path
    return None


def test_project_fonts_cover_other_scripts_and_are_listed(tmp_path):
    """Chinese text from the data renders with a font placed in the project's fonts/."""
    from test_hardening import COHORTS

    from analysis.build import build

    cjk = _cjk_font()
    if cjk is None:
        pytest.skip("no CJK font on this machine (Debian: fonts-wqy-microhei; .ci/run installs it)")
    project = tmp_path / "project"
    copy_project_sources(project)
    shutil.copy2(config.QUARTO_PROJECT, project / "_quarto.yml")
    (project / "fonts").mkdir()
    shutil.copy2(cjk, project / "fonts" / cjk.name)
    data = COHORTS["mixed"](tmp_path / "data")
    report = build(data, label="v", outputs=tmp_path / "out", project_dir=project)

    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(str(report.path / "supplement.pdf")).pages)
    assert "中文" in text
    manifest = json.loads((report.path / "manifest.json").read_text(encoding="utf-8"))
    ours = [f for f in manifest["fonts"] if f["source"].startswith("project ")]
    assert ours and all(f["file"] == cjk.name for f in ours)
    assert ours[0]["sha256"] == hashlib.sha256(cjk.read_bytes()).hexdigest()
    assert ours[0]["family"]  # read from the file
    assert f"fonts/{cjk.name}" in manifest["inputs"]
    bundled = {
        (f["family"], f["file"]) for f in manifest["fonts"] if f["source"].startswith("PyPI")
    }
    assert (fonts.SANS, "Lato-Regular.ttf") in bundled
    embedded = [f for f in manifest["fonts"] if f["source"].startswith("embedded in typst")]
    assert "New Computer Modern Math" in {f["family"] for f in embedded}
