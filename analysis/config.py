"""Paths, file names and data-contract constants, defined once.

Everything that names a file, a column, a test, a unit or a threshold lives
here; the other modules import it.  Nothing in this module imports pandas, so
``psma-rwe --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
REPORT_DIR = PROJECT_DIR / "report"
SYNTHETIC_DIR = PROJECT_DIR / "data" / "synthetic"
OUTPUTS_DIR = PROJECT_DIR / "outputs"
QUARTO_PROJECT = PROJECT_DIR / "_quarto.yml"

# --- input files -----------------------------------------------------------

PATIENTS = "patients.csv"
DOSES = "doses.csv"
MEASUREMENTS = "measurements.csv"
PRIOR_THERAPIES = "prior_therapies.csv"
INPUT_FILES = (PATIENTS, DOSES, MEASUREMENTS, PRIOR_THERAPIES)

COLUMNS: dict[str, tuple[str, ...]] = {
    PATIENTS: (
        "patient_id",
        "age_at_first_dose",
        "race",
        "ethnicity",
        "ecog",
        "gleason_score",
        "de_novo_metastatic",
        "bone_mets",
        "lymph_node_mets",
        "visceral_mets",
        "height_cm",
        "treatment_status",
        "discontinuation_reason",
    ),
    DOSES: ("patient_id", "dose_number", "dose_date", "activity_gbq"),
    MEASUREMENTS: ("patient_id", "measured_on", "test", "value", "unit"),
    PRIOR_THERAPIES: ("patient_id", "agent", "therapy_class", "start_date"),
}

#: Columns that may be left empty.
OPTIONAL_COLUMNS: dict[str, frozenset[str]] = {
    PATIENTS: frozenset({"gleason_score", "discontinuation_reason", "race", "ethnicity"}),
    DOSES: frozenset({"activity_gbq"}),
    MEASUREMENTS: frozenset(),
    PRIOR_THERAPIES: frozenset(),
}

BOOLEAN_COLUMNS = ("de_novo_metastatic", "bone_mets", "lymph_node_mets", "visceral_mets")
TRUE_WORDS = frozenset({"true"})
FALSE_WORDS = frozenset({"false"})

#: Inclusive ranges of numeric patient columns.
PATIENT_RANGES: dict[str, tuple[float, float]] = {
    "age_at_first_dose": (18, 110),
    "ecog": (0, 4),
    "gleason_score": (6, 10),
    "height_cm": (120, 220),
}
INTEGER_COLUMNS = frozenset({"ecog", "gleason_score"})
ACTIVITY_RANGE = (0.0, 15.0)

TREATMENT_STATUSES = ("completed", "ongoing", "discontinued")

THERAPY_CLASSES = (
    "adt",
    "arpi",
    "taxane",
    "parp_inhibitor",
    "radium_223",
    "sipuleucel_t",
    "platinum",
    "immunotherapy",
    "other",
)

#: Canonical unit of each test.
CANONICAL_UNITS: dict[str, str] = {
    "psa": "ng/mL",
    "hemoglobin": "g/dL",
    "platelets": "10^9/L",
    "wbc": "10^9/L",
    "anc": "10^9/L",
    "alc": "10^9/L",
    "creatinine": "mg/dL",
    "alkaline_phosphatase": "U/L",
    "ast": "U/L",
    "alt": "U/L",
    "albumin": "g/dL",
    "ldh": "U/L",
    "total_bilirubin": "mg/dL",
    "weight": "kg",
}
TESTS = tuple(CANONICAL_UNITS)

_COUNT_SYNONYMS = {"10^9/L": 1.0, "10^3/uL": 1.0, "K/uL": 1.0}

#: Accepted units per test and the factor that converts them to the canonical unit.
UNIT_FACTORS: dict[str, dict[str, float]] = {
    "psa": {"ng/mL": 1.0},
    "hemoglobin": {"g/dL": 1.0, "g/L": 1 / 10},
    "platelets": dict(_COUNT_SYNONYMS),
    "wbc": dict(_COUNT_SYNONYMS),
    "anc": dict(_COUNT_SYNONYMS),
    "alc": dict(_COUNT_SYNONYMS),
    "creatinine": {"mg/dL": 1.0, "µmol/L": 1 / 88.4, "umol/L": 1 / 88.4},
    "alkaline_phosphatase": {"U/L": 1.0},
    "ast": {"U/L": 1.0},
    "alt": {"U/L": 1.0},
    "albumin": {"g/dL": 1.0, "g/L": 1 / 10},
    "ldh": {"U/L": 1.0},
    "total_bilirubin": {"mg/dL": 1.0, "µmol/L": 1 / 17.1, "umol/L": 1 / 17.1},
    "weight": {"kg": 1.0, "lb": 0.45359237},
}

#: Decimals each test is recorded and reported with, in its canonical unit.
LAB_DECIMALS: dict[str, int] = {
    "psa": 2,
    "hemoglobin": 1,
    "platelets": 0,
    "wbc": 1,
    "anc": 2,
    "alc": 2,
    "creatinine": 2,
    "alkaline_phosphatase": 0,
    "ast": 0,
    "alt": 0,
    "albumin": 1,
    "ldh": 0,
    "total_bilirubin": 1,
    "weight": 1,
}

#: Column names (lower-cased, any of these words as a name part) that carry direct identifiers.
IDENTIFIER_PATTERNS = (
    "name",
    "mrn",
    "medical_record",
    "dob",
    "date_of_birth",
    "birth_date",
    "ssn",
    "address",
    "phone",
    "email",
)

#: Measurements may go back this many calendar years before dose 1 (inclusive).
MAX_LOOKBACK_YEARS = 10

#: Problems listed in one error before "... and N more".
MAX_PROBLEMS = 50

# --- analysis definitions ----------------------------------------------------

BASELINE_WINDOW_DAYS = 60  # baseline PSA and labs: [dose-1 date − 60 d, dose-1 date]
PSA50_FRACTION = 0.5
PSA90_FRACTION = 0.1
CONFIRMATION_DAYS = 21
PREDOSE_LAB_WINDOW_DAYS = 14  # lab trajectories: value nearest before each dose
HB_GRADE2_G_DL = 10.0
PLT_GRADE2_10E9_L = 75.0
MIN_EVENTS_PER_VARIABLE = 10

# --- figures -------------------------------------------------------------------------
# Per-patient charts switch to a form that stays readable (and small) for large cohorts.

#: Above this many PSA-evaluable patients the waterfall draws ranked groups of patients.
WATERFALL_PATIENTS_MAX = 150
#: Most groups the large-cohort waterfall is drawn in (one bar per group).
WATERFALL_GROUPS = 200
#: Above this many patients the swimmer plot draws a random sample of them.
SWIMMER_PATIENTS_MAX = 150
#: Patients in the swimmer plot's sample, and the seed the sample is drawn with.
SWIMMER_SAMPLE = 60
SWIMMER_SAMPLE_SEED = 0
#: Above this many patients the PSA course draws median and IQR per dose, not lines.
PSA_COURSE_LINES_MAX = 100
