"Tests of tinyrepro.select: cuts, token budgets, Gumbel-top-k, stratified quotas, facility location, k-means, Quad's bandit, reports."
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import itertools, math, random

import numpy as np
import pandas as pd
import pytest
import torch

from tinyrepro.config import ConfigError
import tinyrepro.select as S

# ---------------------------------------------------------------------------------------------- deterministic cuts


def test_top_k_order_ties_and_input_types():
    s = [0.5, 2.0, 2.0, -1.0, 1.0]
    assert S.select_top_k(s, 3).tolist() == [1, 2, 4]                     # highest first, tie → lower index
    assert S.select_top_k(np.array(s), 3).tolist() == [1, 2, 4]
    assert S.select_top_k(torch.tensor(s, dtype=torch.float16), 5).tolist() == [1, 2, 4, 0, 3]
    assert S.select_top_k(torch.tensor([3, 1, 2]), np.int64(2)).tolist() == [0, 2]   # integer ratings, numpy ints
    out = S.select_top_k(s, 0)
    assert out.dtype == torch.long and out.numel() == 0


def test_top_fraction_is_floor_of_fraction_times_n():
    s = torch.arange(100.0)
    for f, want in [(0.0, 0), (0.29, 29), (0.5, 50), (0.7, 70), (1.0, 100), (0.999, 99)]:
        assert len(S.select_top_fraction(s, f)) == want, f
    assert S.select_top_fraction(s, 0.03).tolist() == [99, 98, 97]


def test_percentile_bands_tile_the_pool_and_match_top_fraction():
    g = torch.Generator().manual_seed(0)
    for n in (1, 7, 10, 33):
        s = torch.randint(0, 4, (n,), generator=g).float()                 # many ties
        edges = [0, 10, 25, 50, 85, 100]
        parts = [S.select_percentile_band(s, a, b) for a, b in zip(edges, edges[1:])]
        assert sorted(torch.cat(parts).tolist()) == list(range(n))
        assert S.select_percentile_band(s, 85, 100).tolist() == S.select_top_fraction(s, 0.15).tolist()
        low, high = S.select_percentile_band(s, 0, 50), S.select_percentile_band(s, 50, 100)
        if len(low) and len(high): assert s[low].max() <= s[high].min()


@pytest.mark.parametrize("call, message", [
    (lambda: S.select_top_k([1.0, float("nan")], 1), "NaN"),
    (lambda: S.select_top_k([[1.0, 2.0]], 1), "1-D"),
    (lambda: S.select_top_k([1.0, 2.0], 3), "k=3"),
    (lambda: S.select_top_k([1.0, 2.0], -1), "k=-1"),
    (lambda: S.select_top_k([1.0, 2.0], 1.5), "integer"),
    (lambda: S.select_top_k(["a", "b"], 1), "cannot read"),
    (lambda: S.select_top_fraction([1.0], 1.2), "fraction=1.2"),
    (lambda: S.select_top_fraction([1.0], float("nan")), "fraction"),
    (lambda: S.select_percentile_band([1.0], 60, 40), "lo < hi"),
    (lambda: S.select_percentile_band([1.0], -5, 40), "lo=-5"),
])
def test_cuts_reject_bad_input(call, message):
    with pytest.raises(ConfigError, match=message): call()


# ---------------------------------------------------------------------------------------------- token budgets


def test_token_budget_reaches_budget_and_keeps_crossing_item():
    s = torch.tensor([0.9, 0.1, 0.5, 0.7])
    ln = torch.tensor([100, 100, 300, 50])
    assert S.select_under_token_budget(s, ln, 100).tolist() == [0]
    assert S.select_under_token_budget(s, ln, 101).tolist() == [0, 3]
    assert S.select_under_token_budget(s, ln, 150).tolist() == [0, 3]
    assert S.select_under_token_budget(s, ln, 550).tolist() == [0, 3, 2, 1]
    assert S.select_under_token_budget(s, ln, 0).tolist() == []
    assert S.select_under_token_budget(s, ln, 250, order="asc").tolist() == [1, 2]
    g = torch.Generator().manual_seed(1)
    s, ln = torch.randn(200, generator=g), torch.randint(1, 50, (200,), generator=g)
    for budget in (1, 37, 1000, int(ln.sum())):
        idx = S.select_under_token_budget(s, ln, budget)
        tok = int(ln[idx].sum())
        assert tok >= budget and tok - int(ln[idx[-1]]) < budget           # reached, and only the last item crosses
        assert idx.tolist() == S.select_top_k(s, len(idx)).tolist()


@pytest.mark.parametrize("kwargs, message", [
    (dict(budget=10_000), "holds only"), (dict(budget=-1), "budget"), (dict(order="up"), "order"),
    (dict(lengths=[1, 2]), "2 lengths for 3 scores"), (dict(lengths=[1, -2, 3]), "lengths must be"),
])
def test_token_budget_rejects_bad_input(kwargs, message):
    args = dict(scores=[1.0, 2.0, 3.0], lengths=[10, 20, 30], budget=5) | kwargs
    with pytest.raises(ConfigError, match=message): S.select_under_token_budget(**args)


# ---------------------------------------------------------------------------------------------- Gumbel-top-k


def _sequential_sample(weights, k, rng):
    "Slow and obvious: k successive draws ∝ weight among the items left."
    left, out = list(range(len(weights))), []
    for _ in range(k):
        r, acc = rng.random() * sum(weights[i] for i in left), 0.0
        for i in left:
            acc += weights[i]
            if r < acc: break
        out.append(i); left.remove(i)
    return out


def test_gumbel_top_k_matches_sequential_sampling_without_replacement():
    scores, tau, n_draws = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]), 1.5, 20_000
    w = [math.exp(v / tau) for v in scores.tolist()]
    p = [x / sum(w) for x in w]
    pairs = list(itertools.permutations(range(5), 2))
    exact = {(i, j): p[i] * p[j] / (1 - p[i]) for i, j in pairs}           # Plackett–Luce: ordered draws
    g, rng = torch.Generator().manual_seed(0), random.Random(0)
    gumbel = {pr: 0 for pr in pairs}; seq = {pr: 0 for pr in pairs}
    for _ in range(n_draws):
        gumbel[tuple(S.gumbel_top_k(scores, 2, tau, g).tolist())] += 1
        seq[tuple(_sequential_sample(w, 2, rng))] += 1
    chi2 = lambda counts: sum((counts[pr] - n_draws * exact[pr]) ** 2 / (n_draws * exact[pr]) for pr in pairs)
    assert chi2(gumbel) < 43.82 and chi2(seq) < 43.82                     # χ²(19 dof) 0.999 quantile
    incl = lambda counts, i: sum(c for pr, c in counts.items() if i in pr) / n_draws
    for i in range(5):
        assert abs(incl(gumbel, i) - incl(seq, i)) < 0.02
        assert abs(incl(gumbel, i) - sum(exact[pr] for pr in pairs if i in pr)) < 0.015


def test_gumbel_temperature_limits_and_determinism():
    g = torch.Generator().manual_seed(3)
    s = torch.randn(50, generator=g)
    assert S.gumbel_top_k(s, 10, 0.0).tolist() == S.select_top_k(s, 10).tolist()          # τ = 0: no generator needed
    assert S.gumbel_top_k(s, 10, 1e-7, 0).tolist() == S.select_top_k(s, 10).tolist()      # τ → 0
    a, b = S.gumbel_top_k(s, 10, 1.0, 5), S.gumbel_top_k(s, 10, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and len(set(a.tolist())) == 10
    assert not torch.equal(a, S.gumbel_top_k(s, 10, 1.0, 6))
    hot = torch.stack([torch.bincount(S.gumbel_top_k(s, 10, 1e3, i), minlength=50) for i in range(200)]).float().mean(0)
    assert hot.min() > 0.05                                                # τ → ∞: near-uniform, everything drawn sometimes
    with pytest.raises(ConfigError, match="pass a torch.Generator"): S.gumbel_top_k(s, 3, 1.0)
    with pytest.raises(ConfigError, match="temperature"): S.gumbel_top_k(s, 3, -1.0, 0)
    with pytest.raises(ConfigError, match="generator must be"): S.gumbel_top_k(s, 3, 1.0, "seed")


def test_sample_without_replacement_and_taylor_softmax():
    w = torch.tensor([0.0, 1.0, 0.0, 3.0, 6.0])
    counts = torch.zeros(5)
    for i in range(2000): counts[S.sample_without_replacement(w, 1, i)] += 1
    assert counts[0] == counts[2] == 0
    assert torch.allclose(counts / 2000, w / w.sum(), atol=0.04)
    assert sorted(S.sample_without_replacement(w, 3, 0).tolist()) == [1, 3, 4]
    with pytest.raises(ConfigError, match="only 3 of 5"): S.sample_without_replacement(w, 4, 0)
    with pytest.raises(ConfigError, match="≥ 0"): S.sample_without_replacement([1.0, -1.0], 1, 0)
    x = torch.tensor([-2.0, 0.0, 1.0, 3.0], dtype=torch.float64)
    p = S.taylor_softmax(x, temperature=2.0)
    z = x / 2
    assert torch.allclose(p, (1 + z + z ** 2 / 2) / (1 + z + z ** 2 / 2).sum())
    assert (p > 0).all() and abs(float(p.sum()) - 1) < 1e-12


# ---------------------------------------------------------------------------------------------- stratified quotas


def test_stratified_quota_top_within_group_and_upsampling():
    groups = ["a", "a", "a", "b", "b", "c"]
    s = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.8, 0.2])
    assert S.stratified_quota(groups, s, {"a": 2, "b": 1}).tolist() == [1, 2, 4]
    assert S.stratified_quota(groups, s, {"b": 0, "c": 3}).tolist() == [5]
    up = S.stratified_quota(groups, s, {"a": 7, "c": 2}, upsample=True, generator=0)
    assert len(up) == 9 and up[:3].tolist() == [1, 2, 0] and set(up[3:7].tolist()) <= {0, 1, 2} and up[7:].tolist() == [5, 5]
    assert torch.equal(up, S.stratified_quota(groups, s, {"a": 7, "c": 2}, upsample=True, generator=0))
    nested = [("web", "law"), ("web", "law"), ("web", "med"), ("books", "law")]
    assert S.stratified_quota(nested, [1.0, 2.0, 3.0, 4.0], {("web", "law"): 1, ("books", "law"): 1}).tolist() == [1, 3]


def test_stratified_quota_random_ties_and_errors():
    picks = {tuple(S.stratified_quota(["x"] * 8, torch.ones(8), {"x": 3}, generator=seed).tolist()) for seed in range(10)}
    assert len(picks) > 1
    assert S.stratified_quota(["x"] * 8, torch.ones(8), {"x": 3}).tolist() == [0, 1, 2]      # no generator: pool order
    with pytest.raises(ConfigError, match="'d'"): S.stratified_quota(["a", "b"], [1, 2], {"d": 1})
    with pytest.raises(ConfigError, match="pass a generator"): S.stratified_quota(["a", "b"], [1, 2], {"a": 3}, upsample=True)
    with pytest.raises(ConfigError, match="3 groups for a pool of 2"): S.stratified_quota(["a", "b", "c"], [1, 2], {"a": 1})
    with pytest.raises(ConfigError, match="≥ 0"): S.stratified_quota(["a", "b"], [1, 2], {"a": -1})


def test_proportional_quotas_sum_exactly():
    groups = ["a"] * 5 + ["b"] * 3 + ["c"] * 2
    assert S.proportional_quotas(groups, 10) == {"a": 5, "b": 3, "c": 2}
    for total in range(0, 40):
        q = S.proportional_quotas(groups, total)
        assert sum(q.values()) == total
        assert all(abs(q[k] - total * n / 10) < 1 for k, n in [("a", 5), ("b", 3), ("c", 2)])
    assert S.proportional_quotas(torch.tensor([2, 0, 0, 1]), 4) == {0: 2, 1: 1, 2: 1}


# ---------------------------------------------------------------------------------------------- facility location


def _brute_force(sim, k):
    return max(S.facility_location_value(sim, list(c)) for c in itertools.combinations(range(len(sim)), k))


def test_facility_location_greedy_against_brute_force():
    g = torch.Generator().manual_seed(0)
    for trial in range(30):
        n = 5 + trial % 6                                                  # n ≤ 10
        emb = torch.randn(n, 3, generator=g) + (0.5 if trial % 2 else 0.0)
        sim = S.cosine_similarity_matrix(emb) if trial % 3 else torch.rand(n, n, generator=g)
        for k in (1, 2, 3):
            greedy = S.facility_location_value(sim, S.facility_location_greedy(sim, k))
            best = _brute_force(sim, k)
            assert (1 - 1 / math.e) * best - 1e-6 <= greedy <= best + 1e-6, (trial, k, greedy, best)
            if k == 1: assert abs(greedy - best) < 1e-6                       # one greedy step = exhaustive search
    # well-separated clusters, k = number of clusters: greedy takes one per cluster and is optimal
    sim = torch.block_diag(*[torch.full((m, m), 0.8) for m in (2, 3, 4)]) + 0.2 * torch.eye(9)
    order = S.facility_location_greedy(sim, 3)
    assert sorted(c for c, (a, b) in enumerate([(0, 2), (2, 5), (5, 9)]) for j in order.tolist() if a <= j < b) == [0, 1, 2]
    assert abs(S.facility_location_value(sim, order) - _brute_force(sim, 3)) < 1e-6


def test_facility_location_gains_duplicates_partitions_and_cosine():
    g = torch.Generator().manual_seed(1)
    emb = torch.randn(12, 4, generator=g)
    emb = torch.cat([emb, emb[:1].repeat(5, 1) + 1e-3 * torch.randn(5, 4, generator=g)])   # 5 near-copies of item 0
    sim = S.cosine_similarity_matrix(emb)
    assert torch.allclose(sim, torch.nn.functional.cosine_similarity(emb[:, None], emb[None], dim=-1), atol=1e-5)
    order = S.facility_location_greedy(sim, 12)
    copies = {0, *range(12, 17)}
    assert len(copies & set(order[:8].tolist())) <= 1                      # no second copy while much is uncovered
    gains = S.facility_location_gains(sim, order)
    assert (gains[1:] <= gains[:-1] + 1e-6).all()
    assert abs(float(gains.sum()) - S.facility_location_value(sim, order)) < 1e-4
    parts = S.random_partitions(17, 3, 0)
    assert sorted(torch.bincount(parts).tolist()) == [5, 6, 6]
    sel = S.facility_location_greedy(sim, 7, partitions=parts)
    assert len(sel) == len(set(sel.tolist())) == 7
    per_part = torch.bincount(parts[sel], minlength=3).tolist()
    assert sorted(per_part) == [2, 2, 3]                                   # 7 split ∝ (5, 6, 6) by largest remainder
    for p in range(3):                                                     # each part's picks = the greedy on its sub-kernel
        ix = torch.nonzero(parts == p).flatten()
        assert set(sel[parts[sel] == p].tolist()) == set(ix[S.facility_location_greedy(sim[ix][:, ix], per_part[p])].tolist())
    assert S.facility_location_value(sim, []) == 0.0
    with pytest.raises(ConfigError, match="square"): S.facility_location_greedy(torch.ones(2, 3), 1)
    with pytest.raises(ConfigError, match="k=20"): S.facility_location_greedy(sim, 20)
    with pytest.raises(ConfigError, match="16 partition labels"): S.facility_location_greedy(sim, 2, partitions=[0] * 16)
    with pytest.raises(ConfigError, match="non-finite"): S.facility_location_greedy(torch.tensor([[1.0, float("inf")], [0, 1]]), 1)


# ---------------------------------------------------------------------------------------------- k-means


def test_kmeans_recovers_blobs_and_is_deterministic():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0], [0.0, 0.0, 8.0]])
    x = torch.cat([c + torch.randn(40, 3, generator=g) for c in centres])
    truth = torch.arange(4).repeat_interleave(40)
    labels, cents = S.kmeans(x, 4, 50, 0)
    assert labels.dtype == torch.long and cents.shape == (4, 3)
    assert len(set(zip(truth.tolist(), labels.tolist()))) == 4
    assert torch.cdist(centres, cents).min(1).values.max() < 0.6
    assert torch.equal(S.kmeans(x, 4, 50, torch.Generator().manual_seed(0))[0], labels)
    inertia = lambda lab, c: float(((x - c[lab]) ** 2).sum())
    one = S.kmeans(x, 4, 0, 0)                                             # k-means++ seeding + one assignment only
    assert inertia(labels, cents) <= inertia(*one) + 1e-3
    lab1, c1 = S.kmeans(x, 1, 10, 0)
    assert (lab1 == 0).all() and torch.allclose(c1[0], x.mean(0), atol=1e-5)


def test_kmeans_edge_cases_and_errors():
    lab, c = S.kmeans(torch.zeros(6, 2), 3, 5, 0)                          # all points identical
    assert lab.shape == (6,) and torch.isfinite(c).all()
    lab, c = S.kmeans(torch.arange(5.0)[:, None], 5, 5, 0)                 # k = n: every point its own cluster
    assert sorted(lab.tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="pass a torch.Generator"): S.kmeans(torch.zeros(4, 2), 2)
    with pytest.raises(ConfigError, match="k=5"): S.kmeans(torch.zeros(4, 2), 5, 10, 0)
    with pytest.raises(ConfigError, match="k must be ≥ 1"): S.kmeans(torch.zeros(4, 2), 0, 10, 0)
    with pytest.raises(ConfigError, match="\\(n, d\\)"): S.kmeans(torch.zeros(4), 2, 10, 0)


# ---------------------------------------------------------------------------------------------- Quad's cluster bandit


def _pool(n_clusters=12, size=50, good=(8, 9, 10, 11), seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_clusters).repeat_interleave(size)
    quality = torch.tensor([1.0 if c in good else -1.0 for c in range(n_clusters)])
    return labels, quality[labels] + 0.3 * torch.randn(len(labels), generator=g)


def test_bandit_finds_good_clusters_scoring_a_fraction_of_the_pool():
    labels, reward = _pool()
    scored = []
    def reward_fn(idx): scored.append(idx.clone()); return reward[idx]
    picked = S.ucb_cluster_bandit(labels, reward_fn, 150, 0, arms_per_round=4, probe_size=5, take_size=25)
    assert len(picked) == 150 and len(set(picked.tolist())) == 150
    assert set(labels[picked].tolist()) <= {8, 9, 10, 11}
    assert sum(map(len, scored)) <= 0.2 * len(labels)
    again = S.ucb_cluster_bandit(labels, lambda idx: reward[idx], 150, 0, arms_per_round=4, probe_size=5, take_size=25)
    assert torch.equal(picked, again)


def test_bandit_reward_sharing_ucb_scores_and_exhaustion():
    d = torch.tensor([[0.0, 0.1, 0.5], [0.1, 0.0, 0.5], [0.5, 0.5, 0.0]])
    b = S.UCBClusterBandit(3, alpha=0.5, cluster_dist=d, radius=0.2)
    b.update(0, 2.0)
    assert b.reward_sum.tolist() == pytest.approx([2.0, 1.0, 0.0]) and b.pulls.tolist() == [1, 1, 0] and b.total_pulls == 2
    bonus = lambda t: 0.5 * math.sqrt(2 * math.log(2) / (t + 1))
    assert torch.allclose(b.scores(), torch.tensor([2.0 + bonus(1), 1.0 + bonus(1), bonus(0)], dtype=torch.float64), atol=1e-6)
    b.update(2, -1.0)                                                      # no neighbour within the radius
    assert b.reward_sum.tolist() == pytest.approx([2.0, 1.0, -1.0]) and b.total_pulls == 3
    b.exhaust(0)
    assert b.scores()[0] == -math.inf and b.select(5).tolist() == [1, 2]
    plain = S.UCBClusterBandit(2)                                          # no distances: a cluster is its own only neighbour
    plain.update(1, 1.0)
    assert plain.reward_sum.tolist() == [0.0, 1.0] and plain.select(1).tolist() == [1]
    with pytest.raises(ConfigError, match="cluster_dist"): S.UCBClusterBandit(2, cluster_dist=d)


def test_bandit_short_pool_warns_and_bad_reward_fn_raises():
    labels, reward = _pool(n_clusters=4, size=10, good=(3,))
    with pytest.warns(UserWarning, match="selected 10 of budget=30"):
        out = S.ucb_cluster_bandit(labels, lambda idx: reward[idx], 30, 0, arms_per_round=2, probe_size=2, take_size=5)
    assert sorted(out.tolist()) == list(range(30, 40))                    # all of the only good cluster
    with pytest.raises(ConfigError, match="returned 1 values"):
        S.ucb_cluster_bandit(labels, lambda idx: reward[:1], 5, 0, probe_size=2, take_size=5)
    with pytest.raises(ConfigError, match="probe_size"):
        S.ucb_cluster_bandit(labels, lambda idx: reward[idx], 5, 0, probe_size=6, take_size=5)
    with pytest.raises(ConfigError, match="pass a torch.Generator"):
        S.ucb_cluster_bandit(labels, lambda idx: reward[idx], 5, None)


# ---------------------------------------------------------------------------------------------- selection report


def test_composition_and_table():
    pool = ["code"] * 6 + ["prose"] * 3 + ["junk"]
    assert S.composition([0, 6, 6, 9], pool) == {"code": 0.25, "junk": 0.25, "prose": 0.5}   # repeats count
    assert S.composition(torch.tensor([0, 1]), pool) == {"code": 1.0, "junk": 0.0, "prose": 0.0}
    df = S.composition_table(pool, {"top": torch.tensor([0, 1, 2, 6]), "all": torch.arange(10)})
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["pool", "top", "all"] and df.index.name == "stratum"
    assert df.index.tolist() == ["code", "junk", "prose"]
    assert df["pool"].tolist() == pytest.approx([0.6, 0.1, 0.3]) and df["all"].tolist() == pytest.approx([0.6, 0.1, 0.3])
    assert df["top"].tolist() == pytest.approx([0.75, 0.0, 0.25])
    assert df.sum().tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert list(S.composition_table(torch.tensor([1, 0, 1]), {"x": [0]}).index) == [0, 1]   # tensor labels
    with pytest.raises(ConfigError, match="empty"): S.composition([], pool)
    with pytest.raises(ConfigError, match=r"\[0, 10\)"): S.composition([10], pool)
    with pytest.raises(ConfigError, match="'pool'"): S.composition_table(pool, {"pool": [0]})


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError): S.select_top_k([1.0], 2)
