"""A five-patient cohort whose every figure was worked out by hand.

Dates and values are chosen to sit on the boundaries of the definitions in
data/README.md.  The expected figures are in ``EXPECTED`` with the reasoning
beside each patient.
"""

from __future__ import annotations

from pathlib import Path

from tests.cohorts import dose, meas, patient, prior, write_cohort

# P1  dose 1 2023-01-10, dose 2 2023-02-21, dose 3 2023-04-04; ongoing.
#     PSA 200 on 2022-11-11 (exactly 60 d before dose 1: inside the window, but not latest);
#     PSA 100 on the day of dose 1 → baseline 100 (the window includes the day of dose 1).
#     PSA 50 on 2023-02-21, the day of dose 2 → belongs to window 1; exactly 50 % → PSA50 after 1.
#     PSA 60 on 2023-03-01 (window 2); PSA 10 on 2023-03-14 (window 2) = 10 % → PSA90 after 2
#     Confirmation: first dip 2023-02-21; first PSA ≥ 21 d later: 2023-03-14 (10 ≤ 50) → confirmed
#     Best change (10 − 100)/100 = −90 %.
# P2  dose 1 2023-01-10; only PSA before dose 1 is on 2022-11-10, 61 d before → not evaluable.
#     Later PSA 10 does not matter: non-responder, no best change, confirmation not applicable.
# P3  one dose on 2023-03-01; discontinued.  Baseline 40 on 2023-02-15.
#     19.9 on 2023-03-20 → PSA50 after dose 1 (window after the last dose runs to end of data).
#     25 on 2023-04-05 (16 d, too early to confirm); 30 on 2023-04-10 (exactly 21 d) > 20 → not
#     confirmed, although a later value is lower.  "<0.1" on 2023-05-20 counts as 0.1 ≤ 4 →
#     PSA90 after dose 1.  Best change (0.1 − 40)/40 = −99.75 %.
# P4  dose 1 2023-01-05, dose 2 2023-02-16; completed.  Baseline 10.0 on 2023-01-01;
#     5.01 on 2023-02-16 (window 1) is just above 50 % → non-responder; 12 later.
#     Best change (5.01 − 10)/10 = −49.9 %; evaluable, so confirmed is false.
# P5  dose 1 2023-01-05 (baseline 123 the same day), dose 2 2023-02-16, dose 3 2023-03-30;
#     completed.  70 on 2023-02-01 (window 1, 56.9 %); 12.3 on 2023-03-01 (window 2) = 10 % of
#     123 → PSA50 and PSA90 after dose 2.  12.0 on the day of dose 3 (window 2) confirms
#     (29 d later).  Best change (12 − 123)/123 = −90.2439 %.
#
# Prior therapies (distinct agents): P1 leuprolide twice + "Enzalutamide" and "enzalutamide "
# → 2; P2 none → 0; P3 3; P4 1; P5 5.  Sorted 0,1,2,3,5: median 2, Q1 1, Q3 3, min 0, max 5.


def handmade_cohort(folder: Path) -> Path:
    patients = [
        patient("P1", treatment_status="ongoing", height_cm=175),
        patient("P2", treatment_status="discontinued", discontinuation_reason="death"),
        patient("P3", treatment_status="discontinued", discontinuation_reason="toxicity"),
        patient("P4", treatment_status="completed"),
        patient("P5", treatment_status="completed", height_cm=180, visceral_mets="true"),
    ]
    doses = [
        dose("P1", 1, "2023-01-10"),
        dose("P1", 2, "2023-02-21"),
        dose("P1", 3, "2023-04-04"),
        dose("P2", 1, "2023-01-10"),
        dose("P3", 1, "2023-03-01"),
        dose("P4", 1, "2023-01-05"),
        dose("P4", 2, "2023-02-16"),
        dose("P5", 1, "2023-01-05"),
        dose("P5", 2, "2023-02-16"),
        dose("P5", 3, "2023-03-30"),
    ]
    measurements = [
        meas("P1", "2022-11-11", "psa", 200),
        meas("P1", "2023-01-10", "psa", 100),
        meas("P1", "2023-02-21", "psa", 50),
        meas("P1", "2023-03-01", "psa", 60),
        meas("P1", "2023-03-14", "psa", 10),
        # labs of P1: BMI from 80 kg (9 d before dose 1); 90 kg is 101 d before: ignored
        meas("P1", "2022-10-01", "weight", 90),
        meas("P1", "2023-01-01", "weight", 80),
        meas("P1", "2022-12-31", "hemoglobin", 125, "g/L"),
        meas("P1", "2023-01-05", "hemoglobin", "12.0"),
        meas("P1", "2023-02-06", "hemoglobin", "11.0"),  # 15 d before dose 2: not pre-dose
        meas("P1", "2023-02-21", "hemoglobin", "10.5"),  # day of dose 2: pre-dose value
        meas("P1", "2023-03-20", "hemoglobin", "9.0"),  # 15 d before dose 3; grade 2 anemia
        meas("P2", "2022-11-10", "psa", 80),
        meas("P2", "2023-02-01", "psa", 10),
        meas("P3", "2023-02-15", "psa", 40),
        meas("P3", "2023-03-20", "psa", "19.9"),
        meas("P3", "2023-04-05", "psa", 25),
        meas("P3", "2023-04-10", "psa", 30),
        meas("P3", "2023-05-20", "psa", "<0.1"),
        meas("P4", "2023-01-01", "psa", "10.0"),
        meas("P4", "2023-02-16", "psa", "5.01"),
        meas("P4", "2023-03-10", "psa", 12),
        meas("P4", "2022-12-30", "hemoglobin", "13.0"),
        meas("P4", "2023-02-10", "hemoglobin", "12.0"),
        meas("P5", "2023-01-05", "psa", 123),
        meas("P5", "2023-02-01", "psa", 70),
        meas("P5", "2023-03-01", "psa", "12.3"),
        meas("P5", "2023-03-30", "psa", "12.0"),
        meas("P5", "2023-01-02", "weight", "176.37", "lb"),
        meas("P5", "2023-01-02", "hemoglobin", "11.0"),
        meas("P5", "2023-02-14", "hemoglobin", "10.0"),
    ]
    priors = [
        prior("P1", "leuprolide", "adt", "2018-01-01"),
        prior("P1", "leuprolide", "adt", "2020-01-01"),
        prior("P1", "Enzalutamide", "arpi", "2021-01-01"),
        prior("P1", "enzalutamide ", "arpi", "2021-06-01"),
        prior("P3", "docetaxel", "taxane", "2021-01-01"),
        prior("P3", "cabazitaxel", "taxane", "2022-01-01"),
        prior("P3", "abiraterone", "arpi", "2020-01-01"),
        prior("P4", "leuprolide", "adt", "2019-01-01"),
        prior("P5", "leuprolide", "adt", "2017-01-01"),
        prior("P5", "abiraterone", "arpi", "2018-01-01"),
        prior("P5", "enzalutamide", "arpi", "2019-01-01"),
        prior("P5", "docetaxel", "taxane", "2020-01-01"),
        prior("P5", "olaparib", "parp_inhibitor", "2021-01-01"),
    ]
    return write_cohort(folder, patients, doses, measurements, priors)


#: Per-patient expectations: (baseline, psa50_after, psa90_after, confirmed, best_change, doses)
EXPECTED_PATIENTS = {
    "P1": (100.0, 1, 2, True, -90.0, 3),
    "P2": (None, None, None, None, None, 1),
    "P3": (40.0, 1, 1, False, -99.75, 1),
    "P4": (10.0, None, None, False, -49.9, 2),
    "P5": (123.0, 2, 2, True, (12.0 - 123.0) / 123.0 * 100, 3),
}
