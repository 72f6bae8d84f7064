"""``--renderer quarto`` writes a version with the embedded renderer's layout.

Real Quarto is not installed here; a stand-in ``quarto`` on PATH writes its
outputs where Quarto 1.9 does (``<output-dir>/report/<stem>.<ext>`` and, for
HTML, a ``<stem>_files/`` folder) and records its arguments, so the test checks
what the build does with that layout.  The parity test against real Quarto is
``tests/test_quarto_parity.py`` (skipped without quarto).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cohorts import minimal_cohort

from analysis import build, config

FAKE = r"""#!{python}
import json, pathlib, sys
args = sys.argv[1:]
log = pathlib.Path({log!r})
with log.open("a") as fh:
    fh.write(json.dumps(args) + "\n")
source = pathlib.Path(args[1])
to = args[args.index("--to") + 1]
out = pathlib.Path(args[args.index("--output-dir") + 1]) / source.parent
out.mkdir(parents=True, exist_ok=True)
ext = to.removeprefix("psma-rwe-").replace("typst", "pdf")
target = out / f"{{source.stem}}.{{ext}}"
if ext == "docx":  # a real Word file: the build post-processes it
    import subprocess
    subprocess.run([{pandoc!r}, "-o", str(target)], input="x", text=True, check=True)
else:
    target.write_bytes(f"{{source.stem}} {{to}}".encode())
if ext == "html":
    (out / f"{{source.stem}}_files").mkdir(exist_ok=True)
    (out / f"{{source.stem}}_files" / "quarto.js").write_text("//")
"""


def test_quarto_outputs_are_placed_like_the_embedded_renderers(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "quarto-args.jsonl"
    fake = bin_dir / "quarto"
    from analysis.render.pipeline import pandoc_path

    fake.write_text(
        FAKE.format(python=sys.executable, log=str(log), pandoc=pandoc_path()), encoding="utf-8"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    report = build.build(
        minimal_cohort(tmp_path / "data"),
        label="q",
        outputs=tmp_path / "out",
        project_dir=config.PROJECT_DIR,
        renderer="quarto",
    )
    assert report.renderer == "quarto"
    documents = {p.name for p in report.path.iterdir() if p.suffix in (".html", ".pdf", ".docx")}
    expected = {f"{doc}.{fmt}" for doc, fmts in build.DOC_FORMATS.items() for fmt in fmts}
    assert documents == expected
    assert not (report.path / "report").exists()
    assert not list(report.path.rglob("*_files"))
    assert (report.path / "abstract.pdf").read_bytes() == b"abstract psma-rwe-typst"
    manifest = json.loads((report.path / build.MANIFEST).read_text(encoding="utf-8"))
    assert not [k for k in manifest["outputs"] if k.startswith("report/")]

    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    by_format = {(Path(c[1]).stem, c[c.index("--to") + 1]): c for c in calls}
    # the extension's formats
    assert set(by_format) == {
        (doc, {"pdf": "psma-rwe-typst"}.get(fmt, f"psma-rwe-{fmt}"))
        for doc, fmts in build.DOC_FORMATS.items()
        for fmt in fmts
    }
    # Word gets the project's reference document (papersize letter), made for Quarto
    reference = [
        a for a in by_format[("abstract", "psma-rwe-docx")] if a.startswith("--reference-doc=")
    ]
    assert len(reference) == 1 and reference[0].endswith("_psma/reference.docx")
