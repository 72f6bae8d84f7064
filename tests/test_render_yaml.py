"""Reading YAML in the render pipeline (analysis/render/project.py): libyaml gives the
same data as PyYAML's own loader; refused YAML keeps the message that quotes the line."""

from __future__ import annotations

import pytest
import yaml

from analysis import config
from analysis.errors import PsmaRweError
from analysis.render import project

CASES = [
    "a: 1\nb: [1, 2.5, -3e2]\nc: {d: null, e: ~}\n",
    "date: 2025-05-30\nstamp: 2025-05-30T10:20:30Z\n",
    "flags: [yes, no, on, off, true, False]\noctal: 0o17\nold_octal: 017\nhex: 0x1F\n",
    "text: 'Hemoglobin < 10 g/dL — ≥ 2, ×10⁹/L'\nblock: |\n  two\n  lines\n",
    "anchor: &x {k: v}\nalias: *x\nmerge:\n  <<: *x\n  j: w\n",
    "",
]


@pytest.mark.parametrize("text", CASES)
def test_libyaml_reads_what_pyyaml_reads(text):
    assert project.safe_load(text) == yaml.safe_load(text)


def test_the_project_files_read_alike():
    extension = sorted((config.PROJECT_DIR / "_extensions").rglob("*.yml"))
    for path in [config.QUARTO_PROJECT, *extension]:
        text = path.read_text(encoding="utf-8")
        assert project.safe_load(text) == yaml.safe_load(text), path


def test_bad_yaml_keeps_pyyamls_message():
    text = "title: ok\nauthors:\n  - name: [unclosed\n"
    with pytest.raises(yaml.YAMLError) as pure:
        yaml.safe_load(text)
    with pytest.raises(PsmaRweError) as ours:
        project.parse_yaml(text, "_quarto.yml")
    assert str(ours.value) == f"_quarto.yml: invalid YAML: {pure.value}"
    assert "line 3" in str(ours.value)


def test_a_python_object_tag_is_refused():
    with pytest.raises(PsmaRweError, match="invalid YAML"):
        project.parse_yaml("x: !!python/object/apply:os.system ['true']\n", "_quarto.yml")
