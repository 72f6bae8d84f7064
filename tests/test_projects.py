"""Study projects (analysis/projects.py): discovery, init, the extension check, the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from analysis import config, projects
from analysis.cli import app
from analysis.errors import PsmaRweError
from analysis.render import extension

runner = CliRunner()


def _write_project(folder: Path, study: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"title": "x"} if study is None else {"title": "x", "study": study}
    (folder / "_quarto.yml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    return folder


# --- discovery ------------------------------------------------------------------------


def test_the_nearest_project_upward_is_found(tmp_path):
    outer = _write_project(tmp_path / "outer", {"institution": "A"})
    inner = _write_project(outer / "studies" / "inner", {"institution": "B"})
    deep = inner / "report" / "drafts"
    deep.mkdir(parents=True)
    assert projects.find_project(deep) == inner.resolve()
    assert projects.find_project(outer / "studies") == outer.resolve()


def test_a_quarto_project_without_a_study_block_is_not_ours(tmp_path):
    ours = _write_project(tmp_path / "ours", {"institution": "A"})
    theirs = _write_project(ours / "website")  # plain Quarto project
    assert projects.find_project(theirs) == ours.resolve()


def test_no_project_upward_is_an_error_naming_the_folder(tmp_path):
    with pytest.raises(PsmaRweError, match=r"no psma-rwe project in .*psma-rwe init"):
        projects.find_project(tmp_path)


def test_discovery_starts_from_the_current_directory(tmp_path, monkeypatch):
    study = _write_project(tmp_path / "s", {"institution": "A"})
    monkeypatch.chdir(study)
    assert projects.resolve_project() == study.resolve()


def test_an_explicit_project_must_be_one(tmp_path):
    _write_project(tmp_path / "plain")
    with pytest.raises(PsmaRweError, match="no such folder"):
        projects.resolve_project(tmp_path / "missing")
    with pytest.raises(PsmaRweError, match="not a psma-rwe project"):
        projects.resolve_project(tmp_path / "plain")


def test_a_broken_quarto_yml_on_the_way_up_is_an_error(tmp_path):
    (tmp_path / "_quarto.yml").write_text("study: [unclosed\n", encoding="utf-8")
    with pytest.raises(PsmaRweError, match="invalid YAML"):
        projects.find_project(tmp_path)


def test_default_data_is_study_data_relative_to_the_project(tmp_path):
    a = _write_project(tmp_path / "a", {"data": "cohorts/v2.xlsx"})
    b = _write_project(tmp_path / "b", {"institution": "B"})
    c = _write_project(tmp_path / "c", {"data": 3})
    assert projects.default_data(a) == a / "cohorts" / "v2.xlsx"
    assert projects.default_data(b) == b / "data"
    with pytest.raises(PsmaRweError, match=r"study\.data is 3"):
        projects.default_data(c)


def test_the_repository_is_a_project_whose_default_data_is_the_synthetic_cohort():
    assert projects.is_project(config.PROJECT_DIR)
    assert projects.default_data(config.PROJECT_DIR).resolve() == config.SYNTHETIC_DIR.resolve()


# --- init -----------------------------------------------------------------------------


def test_init_writes_a_project_with_placeholders_and_no_cohort(tmp_path):
    files = {p.as_posix() for p in projects.init_project(tmp_path / "study")}
    study = tmp_path / "study"
    for expected in (
        "_quarto.yml",
        "report/abstract.qmd",
        "report/poster.qmd",
        "report/supplement.qmd",
        "_extensions/psma-rwe/_extension.yml",
        "data/README.md",
        "data/NOTE.md",
    ):
        assert expected in files
    assert not any(f.startswith("data/synthetic") for f in files)
    meta = yaml.safe_load((study / "_quarto.yml").read_text(encoding="utf-8"))
    example = yaml.safe_load((config.SKELETON_DIR / "_quarto.yml").read_text(encoding="utf-8"))
    assert meta["title"] == "Title of the study"
    assert meta["study"]["data"] == "data"
    assert "data-cutoff" not in meta["study"]  # the example's cut-off is commented out
    # Everything that is not the example study's own metadata is kept as shipped.
    for key in ("project", "poster-size", "papersize"):
        assert meta[key] == example[key]
    own = {"data", "institution", "conference", "contact", "data-cutoff", "abstract"}
    assert {k: v for k, v in meta["study"].items() if k not in own} == {
        k: v for k, v in example["study"].items() if k not in own
    }
    # The example's result-stating title is not carried into a new study.
    assert meta["study"]["abstract"]["titles"]["result"] == "Title that states the finding"
    ours = {k: v for k, v in meta["study"]["abstract"].items() if k != "titles"}
    assert ours == {k: v for k, v in example["study"]["abstract"].items() if k != "titles"}
    assert projects.is_project(study)
    # The copies are the shipped files, byte for byte.
    for rel in (
        "report/abstract.qmd",
        "_extensions/psma-rwe/typst/typst-template.typ",
        "data/README.md",
    ):
        assert (study / rel).read_bytes() == (config.SKELETON_DIR / rel).read_bytes()


def test_init_with_synthetic_keeps_the_example_and_copies_the_cohort(tmp_path):
    projects.init_project(tmp_path / "study", with_synthetic=True)
    study = tmp_path / "study"
    assert (study / "_quarto.yml").read_bytes() == (
        config.SKELETON_DIR / "_quarto.yml"
    ).read_bytes()
    for name in config.INPUT_FILES:
        assert (study / "data" / "synthetic" / name).read_bytes() == (
            config.SYNTHETIC_DIR / name
        ).read_bytes()
    assert projects.default_data(study) == study / "data" / "synthetic"


def test_init_refuses_a_folder_that_is_not_empty_and_leaves_it_alone(tmp_path):
    target = tmp_path / "study"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(PsmaRweError, match="not empty"):
        projects.init_project(target)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(PsmaRweError, match="is a file"):
        projects.init_project(tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "study"]  # no staging left


def test_init_into_an_empty_folder_works(tmp_path):
    (tmp_path / "study").mkdir()
    projects.init_project(tmp_path / "study")
    assert projects.is_project(tmp_path / "study")


# --- the extension --------------------------------------------------------------------


def test_a_project_without_the_extension_is_refused_with_the_fix(tmp_path):
    projects.init_project(tmp_path / "study")
    import shutil

    shutil.rmtree(tmp_path / "study" / "_extensions")
    with pytest.raises(PsmaRweError, match=r"no _extensions/psma-rwe/_extension.yml.*--update"):
        extension.extension_dir(tmp_path / "study")


def test_an_outdated_extension_is_refused_and_update_extension_replaces_it(tmp_path):
    study = tmp_path / "study"
    projects.init_project(study)
    manifest = study / extension.RELATIVE_DIR / extension.MANIFEST
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            f"version: {extension.version(extension.bundled_dir())}", "version: 0.0.1"
        ),
        encoding="utf-8",
    )
    (study / extension.RELATIVE_DIR / "stale.lua").write_text("-- old", encoding="utf-8")
    with pytest.raises(PsmaRweError, match=r"extension version 0\.0\.1, but this psma-rwe ships"):
        extension.extension_dir(study)
    (study / "report" / "abstract.qmd").write_text("my edits\n", encoding="utf-8")
    projects.init_project(study, update_extension=True)
    assert extension.extension_dir(study) == study / extension.RELATIVE_DIR
    assert not (study / extension.RELATIVE_DIR / "stale.lua").exists()
    assert (study / "report" / "abstract.qmd").read_text(encoding="utf-8") == "my edits\n"


def test_the_embedded_renderer_reads_the_projects_extension_not_a_private_copy(tmp_path):
    """A change to the project's extension changes the rendered page."""
    from analysis.render import render_document

    study = tmp_path / "study"
    projects.init_project(study)
    (study / "report" / "note.qmd").write_text("---\ntitle: Note\n---\n\nHello.\n", "utf-8")
    css = study / extension.RELATIVE_DIR / "css" / "report.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n.marker-7f3a { color: red; }\n", "utf-8")
    html = render_document(study, "report/note.qmd", tmp_path / "out", formats=("html",))
    assert ".marker-7f3a" in html["html"].read_text(encoding="utf-8")
    # the Typst partials too (inlined into the .typ; the PDF's keywords show it)
    lib = study / extension.RELATIVE_DIR / "typst" / "typst-template.typ"
    lib.write_text(
        lib.read_text(encoding="utf-8") + '\n#set document(keywords: ("marker-9b2c",))\n', "utf-8"
    )
    pdf = render_document(study, "report/note.qmd", tmp_path / "out", formats=("pdf",))["pdf"]
    from pypdf import PdfReader

    assert "marker-9b2c" in str(PdfReader(pdf).metadata.get("/Keywords"))


def test_quarto_and_the_embedded_renderer_share_the_extensions_files():
    """_extension.yml gives Quarto the partials typst/psma.typst assembles, and the
    filters Quarto runs are the embedded renderer's, minus its emulations, plus
    number-prefix.lua (Quarto's numbers with the prefix crossref.lua writes)."""
    import re

    import yaml

    from analysis.render import pipeline

    ext = config.PROJECT_DIR / extension.RELATIVE_DIR
    formats = yaml.safe_load((ext / "_extension.yml").read_text(encoding="utf-8"))["contributes"][
        "formats"
    ]
    partials = [Path(p).name for p in formats["typst"]["template-partials"]]
    main = (ext / pipeline.TYPST_TEMPLATE).read_text(encoding="utf-8")
    assert re.findall(r"\$([\w.-]+\.typ)\(\)\$", main) == [
        "typst-template.typ",
        "page.typ",
        "typst-show.typ",
    ]
    assert sorted(partials) == sorted(["typst-template.typ", "page.typ", "typst-show.typ"])
    for name in partials:
        assert (ext / "typst" / name).is_file()
    # the library is a pandoc template too: a dollar sign would start a variable
    assert "$" not in (ext / "typst" / "typst-template.typ").read_text(encoding="utf-8")
    quarto_filters = [
        Path(f if isinstance(f, str) else f["path"]).name for f in formats["common"]["filters"]
    ]
    emulated = {"shortcodes.lua", "conditional.lua", "crossref.lua", "plain-text.lua"}
    quarto_only = {"number-prefix.lua"}
    assert set(quarto_filters) == (set(pipeline.FILTERS) - emulated) | quarto_only
    assert not quarto_only & set(pipeline.FILTERS)
    # after Quarto has written the numbers of the floats and the references
    (entry,) = [f for f in formats["common"]["filters"] if "number-prefix" in str(f)]
    assert entry["at"] == "post-render"
    assert formats["html"]["template"] == "templates/html.template"
    assert formats["html"]["css"] == pipeline.CSS


def test_the_inputs_hash_covers_the_extension_and_the_package_version(tmp_path, monkeypatch):
    from analysis import build

    study = tmp_path / "study"
    projects.init_project(study, with_synthetic=True)
    data = projects.default_data(study)
    first = build.collect_inputs(data, study)
    assert "_extensions/psma-rwe/typst/typst-template.typ" in first.hashes
    lib = study / extension.RELATIVE_DIR / "typst" / "typst-template.typ"
    lib.write_text(lib.read_text(encoding="utf-8") + "\n// edited\n", encoding="utf-8")
    second = build.collect_inputs(data, study).digest  # the digest is computed on access
    assert second != first.digest
    monkeypatch.setattr(build, "__version__", "99.0.0")
    assert build.collect_inputs(data, study).digest != second


# --- CLI ------------------------------------------------------------------------------


def test_cli_init_and_build_refuse_outside_a_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 2
    assert "no psma-rwe project" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["init", "study"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    result = runner.invoke(app, ["init", "study"])
    assert result.exit_code == 2
    assert "not empty" in result.output


def test_cli_build_of_a_new_project_names_the_missing_cohort(tmp_path):
    projects.init_project(tmp_path / "study")
    env = {**os.environ, "PYTHONPATH": str(config.PROJECT_DIR)}
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "build"],
        cwd=tmp_path / "study" / "report",  # from a subfolder: found upward
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "patients.csv" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "study" / "outputs").exists()


def test_cli_project_option_points_outputs_into_that_project(tmp_path, monkeypatch):
    projects.init_project(tmp_path / "study", with_synthetic=True)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["diff", "a", "b", "--project", "study"])
    assert result.exit_code == 2
    assert str(tmp_path / "study" / "outputs") in result.output.replace("\n", "")


#: The bundled extension's files (their digest, ``_extension_digest``) at each version:
#: a change to the extension without a new ``version`` in ``_extension.yml`` would
#: pass the version check of a project holding the old files, which then fails in
#: pandoc (an existing project lacked filters/spaces.lua: "cannot open ...").
EXTENSION_DIGESTS = {
    "0.7.0": "ef1d4ed33ef4fc109fad20a589ca065563a4e923467652b74095c0c2c504e480",
    "0.7.1": "0e26c31230f6df79acdf1c807ec0b383b51b18871661bf130bb9f55dc7d8871b",
    "0.7.2": "eac1ca7c47c2746de92c38a52760f00eb61722954ff4dc40fd740115cbc05f7b",
    "0.7.3": "76f91ee6be3bd243d997697376542dff6868d741fc10c8792b76cb791c4bdb72",
}


def _extension_digest(root: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes().replace(b"\r\n", b"\n")
        if path.name == extension.MANIFEST:
            data = re.sub(rb"(?m)^version:.*$", b"", data)
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def test_the_extension_changes_only_with_its_version():
    """A new extension digest needs a new ``version`` in ``_extension.yml`` (and a
    line here), so that a project holding the old files is refused by name."""
    root = extension.bundled_dir()
    version = extension.version(root)
    assert EXTENSION_DIGESTS.get(version) == _extension_digest(root), (
        f"the extension's files changed at version {version}: raise `version` in "
        f"_extensions/psma-rwe/_extension.yml and record {_extension_digest(root)} for it"
    )
