"Tests of tinyrepro.papers.ingenious beyond the notebook: submodlib equivalence (when installed), greedy vs the core, bad configs."
import math

import pytest
import torch

from tinyrepro.config import ConfigError
from tinyrepro.registry import paper_config
from tinyrepro.select import cosine_similarity_matrix, facility_location_greedy, facility_location_gains, taylor_softmax
from tinyrepro.papers.ingenious import greedy_order_with_gains, partitioned_fl_gains, ingenious_sample, greedy_prefix


def test_greedy_matches_core_plain_greedy_on_several_kernels():
    for seed in range(3):
        emb = torch.randn(50, 7, generator=torch.Generator().manual_seed(seed))
        sim = cosine_similarity_matrix(emb)
        order, gains = greedy_order_with_gains(sim, 30)
        assert order.tolist() == facility_location_greedy(sim, 30).tolist()
        assert torch.allclose(gains, facility_location_gains(sim, order), atol=1e-5)


def test_greedy_matches_submodlib_facility_location():
    "submodlib is what the official code calls; not a project dependency, so this skips when it is absent."
    submodlib = pytest.importorskip("submodlib")
    np = pytest.importorskip("numpy")
    from submodlib.helper import create_kernel
    x = np.random.RandomState(0).randn(60, 8).astype(np.float32)
    kernel = create_kernel(X=x, metric="cosine", method="sklearn")
    obj = submodlib.FacilityLocationFunction(n=60, separate_rep=False, mode="dense", sijs=kernel)
    ref = obj.maximize(budget=59, optimizer="NaiveGreedy", stopIfZeroGain=False, stopIfNegativeGain=False,
                       verbose=False, show_progress=False)
    order, gains = greedy_order_with_gains(torch.tensor(kernel), 59)
    ref_gains = torch.tensor([g for _, g in ref], dtype=torch.float64)
    assert torch.allclose(gains, ref_gains, atol=1e-4)
    ref_order = [j for j, _ in ref]
    # the same gain at every step; the picks agree up to exact ties (the random kernel has some), hence compared as sets
    assert sum(a != b for a, b in zip(order.tolist(), ref_order)) <= 10
    positive = int((ref_gains > 1e-4).sum())
    assert sorted(order[:positive].tolist()) == sorted(ref_order[:positive])


def test_sampling_budgets_distinct_and_prefix():
    emb = torch.randn(41, 5, generator=torch.Generator().manual_seed(0))
    pg = partitioned_fl_gains(emb, 3, 0)
    assert pg.sizes == [14, 14, 13] and [len(o) for o in pg.orders] == [13, 13, 12]
    assert pg.budgets(10) == [math.ceil(14 / 41 * 10)] * 2 + [math.ceil(13 / 41 * 10)]
    sel = ingenious_sample(pg, 10, 1.0, 0)
    assert len(sel) == sum(pg.budgets(10)) == len(set(sel.tolist()))
    assert torch.equal(ingenious_sample(pg, 10, 1.0, 5), ingenious_sample(pg, 10, 1.0, 5))
    assert greedy_prefix(pg, 10).tolist() == torch.cat([o[:b] for o, b in zip(pg.orders, pg.budgets(10))]).tolist()
    # T → 0: the Taylor softmax tends to p ∝ g² (a polynomial, not an argmax: the draw does not become the prefix)
    g = pg.gains[0]
    assert torch.allclose(taylor_softmax(g, 1e-6), g ** 2 / (g ** 2).sum(), atol=1e-6)
    assert torch.allclose(taylor_softmax(pg.gains[0], 1.0).sum(), torch.tensor(1.0, dtype=torch.float64))


def test_bad_inputs_raise():
    with pytest.raises(ConfigError, match="square"): greedy_order_with_gains(torch.ones(2, 3), 1)
    with pytest.raises(ConfigError, match="k must be"): greedy_order_with_gains(torch.eye(3), 4)
    with pytest.raises(ConfigError, match="n_partitions"): partitioned_fl_gains(torch.randn(3, 2), 2, 0)
    with pytest.raises(ConfigError, match="multiple of select_every"):
        paper_config("ingenious", "cpu", {"refresh_every": 75})
    with pytest.raises(ConfigError, match="subset_fraction"):
        paper_config("ingenious", "cpu", {"subset_fraction": 1.5})
    with pytest.raises(ConfigError): paper_config("ingenious", "cpu", {"no_such_knob": 1})
