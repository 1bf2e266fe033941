"The shared selection pool and its train-and-evaluate contract (tinyrepro.pool)."
from collections import Counter

import pytest
import torch

from tinyrepro.config import ConfigError
from tinyrepro.data import ByteTokenizer
from tinyrepro.pool import (STRATA, GROUP_OF, build_pool, pool_config, contract_config, random_selection,
                            selection_report, selection_rows, evaluate_selection, reference_levels, EASY_WORDS)


@pytest.fixture(scope="module")
def pool():
    return build_pool(pool_config("smoke"))


@pytest.mark.parametrize("scale", ["smoke", "cpu", "gpu"])
def test_counts_are_exact_and_sum_to_the_pool(scale):
    cfg = pool_config(scale)
    n = cfg.counts()
    assert sum(n.values()) == cfg.pool_size and all(v > 0 for v in n.values())


def test_cpu_pool_has_the_configured_strata_and_disjoint_eval_families():
    p = build_pool(pool_config("cpu"))
    assert Counter(p.labels("stratum")) == pool_config("cpu").counts()
    assert not set(p.eval_docs["family"]) & set(p.labels("family"))
    assert {d: len(r) for d, r in p.eval_rows.items()} == {"code": 256, "docstring": 256, "reference": 256}
    doms = Counter(d for d, s in zip(p.labels("domain"), p.labels("stratum")) if s == "clean")
    n_clean = pool_config("cpu").counts()["clean"]
    for d, share in pool_config("cpu").domain_mix:
        assert abs(doms[d] - share * n_clean) <= 1


def test_ground_truth_columns(pool):
    strata, groups = pool.labels("stratum"), pool.labels("group")
    assert set(strata) == set(STRATA) and all(GROUP_OF[s] == g for s, g in zip(strata, groups))
    assert len(set(pool.labels("doc_id"))) == len(pool)
    # every near-duplicate points at a clean original of the same cluster, and its text is close to it
    orig = {c: t for c, t, s in zip(pool.labels("dup_cluster"), pool.texts, strata) if s == "clean" and c >= 0}
    for c, t, s in zip(pool.labels("dup_cluster"), pool.texts, strata):
        if s == "near_duplicate":
            a, b = set(orig[c].split()), set(t.split())
            assert len(a & b) / len(a | b) > 0.6
    # easy rows use only the 50-word vocabulary; noise rows are not prose
    vocab = {w for ws in EASY_WORDS.values() for w in ws}
    for t, s in zip(pool.texts, strata):
        if s == "easy":
            assert {w.strip(".").lower() for w in t.split()[:-1]} <= vocab     # the last word may be cut
    with pytest.raises(ConfigError, match="valid"):
        pool.labels("text")


def test_rebuild_is_identical_with_and_without_cache(pool):
    fresh = build_pool(pool_config("smoke"), cache=False)
    assert fresh.labels("doc_id") == pool.labels("doc_id") and torch.equal(fresh.rows, pool.rows)
    assert all(torch.equal(fresh.eval_rows[d], pool.eval_rows[d]) for d in pool.eval_rows)
    other = build_pool(pool_config("smoke", seed=1), cache=False)
    assert other.labels("doc_id") != pool.labels("doc_id")


def test_damaged_cache_is_rebuilt(tmp_path, monkeypatch, pool):
    monkeypatch.setenv("TINYREPRO_CACHE", str(tmp_path))
    build_pool(pool_config("smoke"))
    for f in tmp_path.rglob("*.arrow"): f.write_bytes(b"garbage")
    again = build_pool(pool_config("smoke"))
    assert torch.equal(again.rows, pool.rows)


def test_every_arm_gets_the_same_budget(pool):
    ctr = contract_config("smoke")
    budget = ctr.steps * ctr.batch_size
    w = torch.tensor([1.0 if g == "clean" else 0.0 for g in pool.labels("group")])
    rows_w = selection_rows(pool, w, ctr, seed=0)
    assert len(rows_w) == budget                          # weights: exactly the budget's draws
    clean_rows = {tuple(pool.rows[i].tolist()) for i in torch.nonzero(w).flatten().tolist()}
    assert all(tuple(r.tolist()) in clean_rows for r in rows_w)   # zero weight is never drawn
    assert torch.equal(rows_w, selection_rows(pool, w, ctr, seed=0))   # seeded
    idx = random_selection(pool, 50, 0)
    assert torch.equal(selection_rows(pool, idx, ctr, 0), pool.rows[idx])


def test_evaluate_selection_is_deterministic_and_below_chance(pool):
    ctr = contract_config("smoke")
    idx = random_selection(pool, 200, 0)
    a = evaluate_selection(pool, idx, ctr, seed=0)
    b = evaluate_selection(pool, idx, ctr, seed=0)
    assert a == b
    assert a["mean"] < reference_levels(pool)["uniform"]


def test_report_for_indices_and_weights(pool):
    groups = pool.labels("group")
    clean = torch.tensor([i for i, g in enumerate(groups) if g == "clean"])
    w = torch.tensor([1.0 if g == "clean" else 0.0 for g in groups])
    df = selection_report(pool, {"clean idx": clean, "clean w": w}, by="group")
    assert df.loc["clean", "clean idx"] == 1.0 and df.loc["clean", "clean w"] == 1.0
    assert abs(df["pool"].sum() - 1) < 1e-6


@pytest.mark.parametrize("bad, match", [
    (dict(easy_fraction=0.6, noise_fraction=0.5), "clean rows"),
    (dict(noise_fraction=1.5), r"\[0, 1\)"),
    (dict(domain_mix=(("code", 0.5),)), "summing to 1"),
    (dict(domain_mix=(("poetry", 1.0),)), "absent from the corpus"),
    (dict(pool_size=10**7), "windows"),
])
def test_bad_pool_configs_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        build_pool(pool_config("smoke", **bad), cache=False)


def test_bad_selections_are_refused(pool):
    ctr = contract_config("smoke")
    for bad in [torch.tensor([-1]), torch.tensor([len(pool)]), torch.zeros(len(pool)), torch.full((len(pool),), float("nan")),
                torch.ones(3), torch.zeros(0, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long)]:
        with pytest.raises(ConfigError):
            selection_rows(pool, bad, ctr, 0)
    with pytest.raises(ConfigError, match="valid keys"):
        pool_config("cpu", pool_sise=1)
    with pytest.raises(ConfigError, match="valid scales"):
        pool_config("laptop")
    with pytest.raises(ConfigError):
        random_selection(pool, 0, 0)
    assert pool.rows.shape[1] == pool_config("smoke").seq_len + 1 and pool.rows.max() <= ByteTokenizer.pad_id


def test_padding_targets_are_ignored():
    from tinyrepro.pool import pad_masked_lm_loss, student_model
    torch.manual_seed(0)
    m = student_model(contract_config("smoke"), 16)
    row = torch.randint(0, 256, (1, 17))
    padded = row.clone(); padded[0, 9:] = ByteTokenizer.pad_id
    # the loss of the padded row is the loss of its first 8 targets (causal: later positions cannot change them)
    full = torch.nn.functional.cross_entropy(m(padded[:, :-1])[0, :8], padded[0, 1:9])
    assert torch.allclose(pad_masked_lm_loss(m, padded), full, atol=1e-6)
