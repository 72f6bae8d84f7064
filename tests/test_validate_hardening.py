"""Hardening of reading and validation, round two.

Identifier columns (HIPAA Safe Harbor categories, matched on normalised header
words), identifier-shaped ``patient_id`` values, files that are not the expected
kind of CSV (other separators, UTF-16, two byte-order marks, folders and FIFOs),
control characters, Excel's unnamed trailing columns, doses before the first human
use of 177Lu-PSMA-617, NFC/NFD spellings of one id, parsing bytes that were read
once, and the direction of the imports between ``load`` and ``validate``.

Bad-input cases start from :func:`cohorts.minimal_cohort` (line map in
tests/test_validate.py), make one change and run ``psma-rwe validate``: exit 2 and
the problem line ``file, row N, column C: ...`` with a key phrase.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from analysis import config

P, D, M, T = config.PATIENTS, config.DOSES, config.MEASUREMENTS, config.PRIOR_THERAPIES


# --- imports flow one way: load → validate → records ----------------------------------


def _imported_modules(module: str) -> set[str]:
    path = config.PACKAGE_DIR / f"{module}.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_validate_and_records_do_not_import_load():
    assert not {"analysis.load"} & _imported_modules("validate")
    assert not {"analysis.load", "analysis.validate"} & _imported_modules("records")
    assert "analysis.validate" in _imported_modules("load")


def test_importing_validate_does_not_import_load():
    code = "import sys, analysis.validate; print('analysis.load' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_still_offers_the_names_the_package_imports_from_it():
    from analysis import load, records

    for name in ("LINE", "Cohort", "Codes", "lookup", "sort_stable", "text_codes"):
        assert getattr(load, name) is getattr(records, name)
