"DataMan: the official selection logic's edge cases and clear errors on bad input (no training)."
import numpy as np
import pytest

from tinyrepro.config import ConfigError
from tinyrepro.papers.dataman import dataman_select, overall_rating, spearman, DATAMAN_CRITERIA


def test_zero_quota_stratum_still_yields_its_first_row():
    # the official cut is argmax(cum >= 0) = 0: a domain with a zero token quota keeps one row
    sel = dataman_select(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10, 10, 10, 1]), 10, rng=np.random.RandomState(0),
                         strategy="org_domain", domains=np.array(["a", "a", "a", "b"]))
    assert 3 in sel.tolist()


def test_upsampling_repeats_rows_of_a_short_stratum():
    sel = dataman_select(np.full(3, 5.0), np.full(3, 10), 95, rng=np.random.RandomState(0), target_scores=[5],
                         strategy="uniform")
    assert len(sel) == 10 and set(sel.tolist()) == {0, 1, 2}


def test_random_selection_is_seeded():
    a = dataman_select(None, np.full(50, 7), 100, rng=np.random.RandomState(3), strategy="uniform")
    b = dataman_select(None, np.full(50, 7), 100, rng=np.random.RandomState(3), strategy="uniform")
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == len(a)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(strategy="equi_domain"), "strategy must be"),
    (dict(strategy="org_domain"), "needs one domain label"),
    (dict(strategy="uniform", target_scores=[7]), "no row has a metric"),
    (dict(strategy="multi_domain", domains=np.array(["a"] * 4), sources=np.array(["s"] * 3)), "source labels"),
])
def test_bad_inputs_raise_config_errors(kwargs, msg):
    with pytest.raises(ConfigError, match=msg):
        dataman_select(np.arange(4.0), np.full(4, 5), 10, rng=np.random.RandomState(0), **kwargs)


def test_overall_is_capped_by_the_worst_criterion():
    assert overall_rating(dict.fromkeys(DATAMAN_CRITERIA, 5)) == 5
    assert overall_rating({**dict.fromkeys(DATAMAN_CRITERIA, 5), "accuracy": 1}) == 2


def test_spearman_is_nan_for_a_constant_side():
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))
