"""Exact binomial CIs of the PSA50 / PSA90 rates against R's binom.test.

The numbers are from tests/r/binom_reference.R (R 4, base stats), in percent.
"""

from __future__ import annotations

import pytest

from analysis.stats import clopper_pearson

R = [
    (8, 21, 18.1071625540173, 61.5645609621354),
    (6, 21, 11.2809403921941, 52.1751118247114),
    (0, 5, 0, 52.1823750104981),
    (5, 5, 47.8176249895019, 100),
    (3, 3, 29.2401773821287, 100),
    (1, 1, 2.5, 100),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), R)
def test_clopper_pearson_matches_r(k, n, low, high):
    got = clopper_pearson(k, n)
    assert got[0] == pytest.approx(low, abs=1e-9)
    assert got[1] == pytest.approx(high, abs=1e-9)


def test_no_patients_has_no_interval():
    assert clopper_pearson(0, 0) == (None, None)
