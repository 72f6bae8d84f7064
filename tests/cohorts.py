"""Write small hand-made cohorts for tests.

A cohort is given as plain Python rows; :func:`write_cohort` writes the four
CSV files of the data contract with the columns in contract order.
"""

from __future__ import annotations

import csv
from pathlib import Path

from analysis import config

PATIENT_DEFAULTS = {
    "age_at_first_dose": "70",
    "race": "White",
    "ethnicity": "Not Hispanic or Latino",
    "ecog": "1",
    "gleason_score": "8",
    "de_novo_metastatic": "false",
    "bone_mets": "true",
    "lymph_node_mets": "false",
    "visceral_mets": "false",
    "height_cm": "175",
    "treatment_status": "completed",
    "discontinuation_reason": "",
}


def patient(pid: str, **fields) -> dict[str, str]:
    """A patients.csv row with plausible defaults for every column not given."""
    row = {"patient_id": pid, **PATIENT_DEFAULTS}
    row.update({k: str(v) for k, v in fields.items()})
    return row


def dose(pid: str, number: int, date: str, activity: str = "7.4") -> dict[str, str]:
    return {
        "patient_id": pid,
        "dose_number": str(number),
        "dose_date": date,
        "activity_gbq": activity,
    }


def meas(pid: str, date: str, test: str, value, unit: str | None = None) -> dict[str, str]:
    unit = unit if unit is not None else config.CANONICAL_UNITS.get(test, "")
    return {"patient_id": pid, "measured_on": date, "test": test, "value": str(value), "unit": unit}


def prior(pid: str, agent: str, klass: str, date: str) -> dict[str, str]:
    return {"patient_id": pid, "agent": agent, "therapy_class": klass, "start_date": date}


def write_csv(path: Path, columns, rows, bom: bool = False) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_cohort(folder: Path, patients, doses, measurements, priors=()) -> Path:
    """Write the four files of a cohort into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / config.PATIENTS, config.COLUMNS[config.PATIENTS], patients)
    write_csv(folder / config.DOSES, config.COLUMNS[config.DOSES], doses)
    write_csv(folder / config.MEASUREMENTS, config.COLUMNS[config.MEASUREMENTS], measurements)
    write_csv(folder / config.PRIOR_THERAPIES, config.COLUMNS[config.PRIOR_THERAPIES], priors)
    return folder


def minimal_cohort(folder: Path) -> Path:
    """Two valid patients: one PSA50 responder after dose 2, one non-responder."""
    return write_cohort(
        folder,
        [
            patient("P1"),
            patient("P2", treatment_status="discontinued", discontinuation_reason="progression"),
        ],
        [
            dose("P1", 1, "2023-01-10"),
            dose("P1", 2, "2023-02-21"),
            dose("P2", 1, "2023-01-12"),
            dose("P2", 2, "2023-02-23"),
        ],
        [
            meas("P1", "2023-01-05", "psa", 100),
            meas("P1", "2023-02-10", "psa", 80),
            meas("P1", "2023-03-15", "psa", 40),
            meas("P1", "2023-01-05", "weight", 80),
            meas("P2", "2023-01-02", "psa", 50),
            meas("P2", "2023-02-20", "psa", 70),
            meas("P2", "2023-03-20", "psa", 90),
        ],
        [
            prior("P1", "leuprolide", "adt", "2019-05-01"),
            prior("P1", "enzalutamide", "arpi", "2020-02-01"),
            prior("P2", "docetaxel", "taxane", "2021-03-01"),
        ],
    )


def copy_project_sources(project: Path) -> None:
    """The repository's ``report/`` and format extension, copied into ``project``."""
    import shutil

    from analysis.render.extension import RELATIVE_DIR

    shutil.copytree(config.REPORT_DIR, project / "report")
    shutil.copytree(config.PROJECT_DIR / RELATIVE_DIR, project / RELATIVE_DIR)


def poster_work(data: Path, size: str, root: Path) -> Path:
    """A work folder of the repository's project, analysed from cohort ``data``, with
    ``poster-size: size`` in its ``_quarto.yml`` (tables and figures in ``root``)."""
    import re

    from analysis import workfolder
    from analysis.analyze import run_analysis
    from analysis.charts import write_figures
    from analysis.load import load_cohort
    from analysis.tables import write_tables

    cohort = load_cohort(data)
    settings = workfolder.analysis_settings(config.PROJECT_DIR / "_quarto.yml")
    analysis = run_analysis(cohort, **settings)
    write_tables(analysis.results, root / "tables")
    write_figures(analysis.results, root / "figures")
    work = root / "_project"
    workfolder._prepare_project(work, config.PROJECT_DIR, root, analysis, cohort)
    workfolder.add_figures(work, root)
    quarto = (work / "_quarto.yml").read_text(encoding="utf-8")
    quarto = re.sub(r"(?m)^poster-size: .*$", f"poster-size: {size}", quarto)
    (work / "_quarto.yml").write_text(quarto, encoding="utf-8")
    return work
