"""The tool installed from a built wheel (not editable) works from any folder.

Builds a wheel of this checkout, installs it into a fresh virtual environment
with the locked versions, runs ``psma-rwe init study --with-synthetic`` and
``psma-rwe build`` inside ``study/`` and compares the version with the one the
repository's own build makes: the same inputs digest and label, the same files
and byte-identical documents and results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import build, config

pytestmark = pytest.mark.slow

#: Keys of manifest.json that describe where and with what the build ran, not its result.
_CIRCUMSTANCES = {"package", "inputs", "data_dir", "seconds", "built_at", "renderer"}


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900):
    run = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, f"{args}\n{run.stdout}\n{run.stderr}"
    return run


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh virtualenv with psma-rwe installed from a wheel of this checkout."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"  # a copy without build leftovers of the working tree
    shutil.copytree(
        config.PROJECT_DIR,
        src,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", "outputs", "build", "*.egg-info", "__pycache__", ".venv", "_render"
        ),
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), "."],
        src,
        env,
    )
    wheels = list((root / "dist").glob("psma_rwe-*.whl"))
    assert len(wheels) == 1
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], root, env)
    _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "-c",
            str(config.PROJECT_DIR / "constraints.txt"),
            str(wheels[0]),
        ],
        root,
        env,
    )
    return venv


def test_the_wheel_ships_the_example_project_as_files(wheel_venv):
    import zipfile

    (wheel,) = (wheel_venv.parent / "dist").glob("psma_rwe-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in (
        "_quarto.yml",
        "report/abstract.qmd",
        "report/poster.qmd",
        "report/supplement.qmd",
        "_extensions/psma-rwe/_extension.yml",
        "_extensions/psma-rwe/typst/typst-template.typ",
        "_extensions/psma-rwe/filters/gt-tables.lua",
        "data/README.md",
        "data/synthetic/patients.csv",
    ):
        assert f"analysis/skeleton/{rel}" in names


def test_init_and_build_from_a_wheel_match_the_repositorys_build(wheel_venv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{wheel_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    work = tmp_path / "elsewhere"
    work.mkdir()
    exe = str(wheel_venv / "bin" / "psma-rwe")
    _run([exe, "init", "study", "--with-synthetic"], work, env)
    _run([exe, "build"], work / "study", env)
    (version,) = (work / "study" / "outputs").iterdir()

    own = build.build(project_dir=config.PROJECT_DIR, outputs=tmp_path / "own")
    assert version.name == own.label  # same inputs digest: same files, tool version, fonts

    ours = json.loads((own.path / build.MANIFEST).read_text(encoding="utf-8"))
    theirs = json.loads((version / build.MANIFEST).read_text(encoding="utf-8"))
    assert sorted(ours["inputs"]) == sorted(theirs["inputs"])
    assert {k: v["sha256"] for k, v in ours["inputs"].items()} == {
        k: v["sha256"] for k, v in theirs["inputs"].items()
    }
    same = {k: v for k, v in ours.items() if k not in _CIRCUMSTANCES}
    assert same == {k: v for k, v in theirs.items() if k not in _CIRCUMSTANCES}
    files = sorted(p.relative_to(own.path).as_posix() for p in own.path.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file()
    )
    for rel in files:
        if rel != build.MANIFEST:
            assert (own.path / rel).read_bytes() == (version / rel).read_bytes(), rel
