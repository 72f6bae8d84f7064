"""Paths, file names and data-contract constants, defined once.

Everything that names a file, a column, a test, a unit or a threshold lives
here; the other modules import it.  Nothing in this module imports pandas, so
``psma-rwe --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: The example study project shipped with the package (package data): the
#: template ``psma-rwe init`` copies.  In the source tree its entries are links
#: to the repository's own ``_quarto.yml``, ``report/``, ``_extensions/`` and
#: ``data/``, so there is one copy of each.
SKELETON_DIR = PACKAGE_DIR / "skeleton"
SYNTHETIC_DIR = SKELETON_DIR / "data" / "synthetic"
#: The source checkout (a project itself).  Only tests and benchmarks use these:
#: commands find their project with :func:`analysis.projects.find_project`.
PROJECT_DIR = PACKAGE_DIR.parent
REPORT_DIR = PROJECT_DIR / "report"
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

#: Columns a file may have or lack altogether (read when present, see data/README.md):
#: the follow-up dates of patients.csv.  A cohort without them builds as before.
FOLLOW_UP_COLUMNS = ("last_contact_date", "death_date", "radiographic_progression_date")
OPTIONAL_PRESENT_COLUMNS: dict[str, tuple[str, ...]] = {
    PATIENTS: FOLLOW_UP_COLUMNS,
    DOSES: (),
    MEASUREMENTS: (),
    PRIOR_THERAPIES: (),
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

# --- direct identifiers (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)) -------------------
#
# A header name is normalised to words before it is compared: Unicode NFKC, camelCase
# split into words ("DateOfBirth" -> date of birth, "MRNNumber" -> mrn number), letters
# and digits split ("address1" -> address 1), lower case, and every other character
# ("_", "-", ".", space, ...) a separator.  A rule term (written with "_") matches when
# its words occur in that order, side by side, in the header's words: "name" matches
# "Patient Name" and "name_2" but not "surname_flag"'s "surname" (a term of its own)
# nor "rename".  When several terms match, the longest decides the category
# ("ip_address" is an IP address, not a street address).

#: Safe Harbor category -> terms whose whole words in a header name mark the column as
#: that identifier.  Columns of the contract (COLUMNS) and IDENTIFIER_EXEMPT_COLUMNS
#: are never refused.  Death dates are not listed: the contract is to carry
#: ``death_date`` for survival (see IDENTIFIER_EXEMPT_COLUMNS).
IDENTIFIER_RULES: dict[str, tuple[str, ...]] = {
    "names": (
        "name",
        "names",
        "first_name",
        "firstname",
        "last_name",
        "lastname",
        "middle_name",
        "given_name",
        "family_name",
        "maiden_name",
        "full_name",
        "fullname",
        "surname",
        "forename",
        "nickname",
        "initials",
    ),
    "geographic subdivisions smaller than a state": (
        "address",
        "addr",
        "street",
        "city",
        "town",
        "county",
        "zip",
        "zipcode",
        "zip_code",
        "postcode",
        "postal",
        "postal_code",
        "post_code",
        "census_tract",
        "latitude",
        "longitude",
        "geocode",
        "geolocation",
        "gps",
    ),
    "dates directly related to the individual": (
        "dob",
        "birth_date",
        "birthdate",
        "birthday",
        "date_of_birth",
        "admission_date",
        "admitted_on",
        "admit_date",
        "date_of_admission",
        "discharge_date",
        "date_of_discharge",
    ),
    "telephone numbers": (
        "phone",
        "phones",
        "telephone",
        "phone_number",
        "phonenumber",
        "tel",
        "mobile",
        "cellphone",
        "cell_phone",
    ),
    "fax numbers": ("fax", "telefax"),
    "e-mail addresses": ("email", "e_mail", "emailaddress", "email_address", "e_mail_address"),
    "social security numbers": (
        "ssn",
        "social_security",
        "social_security_number",
        "national_insurance",
        "national_id",
    ),
    "medical record numbers": (
        "mrn",
        "medical_record",
        "medical_record_number",
        "med_rec",
        "chart_number",
        "hospital_number",
        "nhs_number",
    ),
    "health plan beneficiary numbers": (
        "health_plan",
        "beneficiary",
        "insurance_id",
        "insurance_number",
        "member_id",
        "subscriber_id",
        "policy_number",
        "medicare_number",
        "medicaid_number",
    ),
    "account numbers": (
        "account",
        "account_number",
        "acct",
        "iban",
        "credit_card",
    ),
    "certificate/license numbers": (
        "license",
        "licence",
        "license_number",
        "licence_number",
        "certificate",
        "certificate_number",
        "passport",
    ),
    "vehicle identifiers": (
        "vehicle",
        "vin",
        "license_plate",
        "licence_plate",
        "number_plate",
        "plate_number",
    ),
    "device identifiers and serial numbers": (
        "device_id",
        "device_serial",
        "device_identifier",
        "serialnumber",
        "serial_number",
        "serial_no",
        "udi",
        "imei",
        "mac_address",
    ),
    "web URLs": ("url", "urls", "uri", "website", "web_address", "homepage"),
    "IP addresses": ("ip_address", "ipaddress", "ip_addr", "ipv4", "ipv6"),
    "biometric identifiers": (
        "biometric",
        "biometrics",
        "fingerprint",
        "finger_print",
        "voiceprint",
        "voice_print",
        "retina_scan",
        "iris_scan",
    ),
    "full-face photographs and comparable images": (
        "photo",
        "photograph",
        "photo_id",
        "picture",
        "face_image",
        "facial_image",
        "headshot",
    ),
}

#: Words that, directly before "name"/"names", make it the name of a thing, not of a
#: person ("agent_name", "test_name" are accepted; "patient_name" is refused).
NON_PERSON_NAME_WORDS = frozenset(
    {
        "agent",
        "drug",
        "medication",
        "medicine",
        "product",
        "brand",
        "generic",
        "regimen",
        "therapy",
        "treatment",
        "class",
        "test",
        "lab",
        "analyte",
        "unit",
        "file",
        "study",
        "trial",
        "site",
        "centre",
        "center",
        "column",
        "variable",
    }
)

#: Date and other columns the analysis needs (or will need) although their names match a
#: rule: never refused.  Written as normalised words joined by "_".
IDENTIFIER_EXEMPT_COLUMNS = frozenset(
    {"last_contact_date", "death_date", "radiographic_progression_date"}
)

#: Below this many patients the documents give no date narrower than a year (the common
#: small-cell rule); ``study.min-cohort-size`` in _quarto.yml overrides it.
MIN_COHORT_FOR_DATES = 11

#: Measurements may go back this many calendar years before dose 1 (inclusive).
MAX_LOOKBACK_YEARS = 10

#: Earliest accepted dose date: the first human use of 177Lu-PSMA-617 was in 2014.
EARLIEST_DOSE_DATE = "2014-01-01"

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
#: Fewest complete cases for a regression term (or a model) to be estimable.
MIN_COMPLETE_CASES = 10
#: Fewest events, and fewest non-events, among a regression's complete cases.
MIN_EACH_OUTCOME = 2

# --- figures -------------------------------------------------------------------------
# Per-patient charts switch to a form that stays readable (and small) for large cohorts.

#: Above this many PSA-evaluable patients the waterfall draws ranked groups of patients.
WATERFALL_PATIENTS_MAX = 150
#: Most groups the large-cohort waterfall is drawn in (one bar per group).
WATERFALL_GROUPS = 200
#: Patients in the swimmer plot's sample, and the seed the sample is drawn with.  At
#: 40 the supplement's PDF prints the plot on a page with its labels at 6.5 pt (60
#: rows printed them at 4.7 pt).
SWIMMER_SAMPLE = 40
#: Above this many patients the swimmer plot draws a random sample of them (as many
#: as fit a page readably: 120 patients drawn in full had printed their labels at
#: about 2 pt, the plot a quarter of the page wide).
SWIMMER_PATIENTS_MAX = SWIMMER_SAMPLE
SWIMMER_SAMPLE_SEED = 0
#: Above this many patients the PSA course draws median and IQR per dose, not lines.
PSA_COURSE_LINES_MAX = 100
