"Sparsity on the real GPT: exact masks, masked weights stay zero under the shared Trainer, densify, the cubic schedule, N̄, structured prune + recover, clear errors."
import copy

import pytest
import torch

from tinyrepro.config import ConfigError, set_seed
from tinyrepro.models import GPT, GPTConfig
from tinyrepro.train import Callback, Trainer, TrainConfig
from tinyrepro.sparsity import (GradualMagnitudePruner, apply_static_sparsity, average_param_count, densify, layer_sparsities,
                                mlp_channel_scores, nonzero_params, prunable_linears, recover_mlp, remove_sparsity, sparsity_of,
                                sparsity_schedule, structured_prune_mlp)

torch.set_num_threads(1)
CFG = GPTConfig(vocab_size=64, d_model=32, n_layer=2, n_head=2, d_ff=64, max_seq_len=16)
DATA = torch.randint(0, 64, (64, 17), generator=torch.Generator().manual_seed(0))
X = DATA[:4, :-1]

def gpt(seed=0):
    set_seed(seed); return GPT(CFG)

def trainer(model, steps, callbacks=()):
    return Trainer(model, TrainConfig(max_steps=steps, batch_size=8, lr=1e-2, progress=False, log_every=1), DATA,
                   callbacks=callbacks)

def masked_count(model):
    return sum(int((l.weight_mask == 0).sum()) for _, l in prunable_linears(model))

# --- static masks ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["random", "magnitude"])
@pytest.mark.parametrize("s", [0.0, 0.3, 0.5, 0.75, 0.9])
def test_static_masks_have_the_exact_sparsity_in_every_layer(method, s):
    m = gpt()
    per_layer = apply_static_sparsity(m, s, method, generator=torch.Generator().manual_seed(0))
    linears = prunable_linears(m)
    assert len(linears) == 14 and set(per_layer) == {n for n, _ in linears}
    for name, lin in linears:
        k = round(s * lin.weight_orig.numel())
        assert int((lin.weight_mask == 0).sum()) == k, name
        assert per_layer[name] == k / lin.weight_orig.numel()
    assert not hasattr(m.tok_emb, "weight_mask") and not hasattr(m.lm_head, "weight_mask")
    assert nonzero_params(m) == m.num_params() - masked_count(m)
    if method == "magnitude" and 0 < s:
        for _, lin in linears:
            w, keep = lin.weight_orig.abs(), lin.weight_mask.bool()
            assert w[~keep].max() <= w[keep].min()

def test_random_masks_are_reproducible_from_the_generator():
    masks = lambda seed: [l.weight_mask.clone() for _, l in prunable_linears(
        (lambda m: (apply_static_sparsity(m, 0.5, generator=torch.Generator().manual_seed(seed)), m)[1])(gpt()))]
    assert all(torch.equal(a, b) for a, b in zip(masks(1), masks(1)))
    assert not all(torch.equal(a, b) for a, b in zip(masks(1), masks(2)))

def test_masked_weights_stay_zero_under_the_trainer_and_densify_lets_them_learn():
    m = gpt()
    apply_static_sparsity(m, 0.75, generator=torch.Generator().manual_seed(0))
    masks = {n: l.weight_mask.bool().clone() for n, l in prunable_linears(m)}
    start = {n: l.weight_orig.detach().clone() for n, l in prunable_linears(m)}
    params_before = {id(p) for p in m.parameters()}
    t = trainer(m, 10); t.fit()
    assert {id(p) for g in t.optimizer.param_groups for p in g["params"]} == params_before   # the optimizer trains weight_orig
    m(X, DATA[:4, 1:]).backward()                                                            # one more forward/backward
    for n, l in prunable_linears(m):
        pruned = ~masks[n]
        assert l.weight[pruned].abs().max() == 0, n                   # the forward pass used exact zeros
        assert l.weight_orig.grad[pruned].abs().max() == 0, n          # ... and their gradient is exactly zero
        assert not torch.equal(l.weight_orig[~pruned], start[n][~pruned]), n  # while the kept weights trained
    m.zero_grad(set_to_none=True)
    expected = sum(round(.75 * l.weight_orig.numel()) for _, l in prunable_linears(m))
    assert sparsity_of(m) == expected / sum(l.weight_orig.numel() for _, l in prunable_linears(m))

    # the masked model computes exactly what a dense model with W ⊙ M computes. (A masked module caches `weight` from
    # its last forward; after a forward with grad that tensor is a non-leaf and deepcopy refuses it, so refresh it first.)
    with torch.no_grad(): m(X)
    baked = copy.deepcopy(m); remove_sparsity(baked)
    assert torch.equal(m(X), baked(X))

    assert densify(m) == expected
    assert not any(k.endswith(("_mask", "_orig")) for k in m.state_dict())
    for n, l in prunable_linears(m): assert l.weight[~masks[n]].abs().max() == 0   # re-enabled weights start at 0
    trainer(m, 3).fit()
    for n, l in prunable_linears(m):
        assert (l.weight[~masks[n]] != 0).float().mean() > 0.99, n     # dense fine-tuning updates them
    assert sparsity_of(m) < 0.01

def test_a_dense_model_loads_the_baked_state_dict():
    m = gpt(); apply_static_sparsity(m, 0.5, "magnitude")
    names = remove_sparsity(m)
    assert len(names) == 14 and remove_sparsity(m) == []
    fresh = GPT(CFG); fresh.load_state_dict(m.state_dict())
    assert abs(sparsity_of(fresh) - 0.5) < 1e-9

# --- gradual magnitude pruning --------------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule, power", [("cubic", 3), ("linear", 1)])
def test_schedule_hits_its_end_value_and_is_monotone(schedule, power):
    s_f, t0, t1 = 0.8, 25, 75
    s = [sparsity_schedule(t, s_f, t0, t1, schedule=schedule) for t in range(120)]
    assert s[t1] == s_f and s[-1] == s_f and s[t0] == 0.0 and s[0] == 0.0
    assert all(a <= b for a, b in zip(s, s[1:]))
    assert s[60] == pytest.approx(s_f * (1 - (1 - 35 / 50) ** power), abs=1e-12)
    assert sparsity_schedule(50, 0.6, 0, 100, initial_sparsity=0.2) == pytest.approx(0.6 - 0.4 * 0.5 ** 3)

def test_gradual_pruner_under_the_trainer():
    m = gpt()
    pruner = GradualMagnitudePruner(m, 0.8, start_step=2, end_step=10, every=3)
    dense_params = nonzero_params(m)
    snapshots = {}
    class Snap(Callback):
        def on_step_end(self, trainer, metrics): snapshots[trainer.step] = [l.weight_mask.clone() for _, l in prunable_linears(m)]
    history = trainer(m, 13, callbacks=[pruner, Snap()]).fit()
    # pruning steps: start, every 3, and the end step itself
    assert [r["step"] for r in pruner.history] == [0, 2, 5, 8, 10, 13]
    numel = [l.weight_orig.numel() for _, l in prunable_linears(m)]
    for r in pruner.history:
        assert r["target_sparsity"] == sparsity_schedule(r["step"], 0.8, 2, 10)
        assert r["sparsity"] == sum(round(r["target_sparsity"] * n) for n in numel) / sum(numel)
    assert list(layer_sparsities(m).values()) == [round(0.8 * n) / n for n in numel]     # exact s_f in every layer
    for t in range(1, 13):                                                               # masks only grow
        assert all(bool((b <= a).all()) for a, b in zip(snapshots[t], snapshots[t + 1]))
    assert all("sparsity" in row for row in history if "loss" in row)
    assert pruner.history[0]["nonzero_params"] == dense_params
    # pruned weights are exactly zero in the forward pass at the end
    m(X)
    assert all(l.weight[l.weight_mask == 0].abs().max() == 0 for _, l in prunable_linears(m))
    # N̄ from the pruner's own records: dense for 2 steps, then 3, 3, 2 and 3 steps at each new mask
    n = [r["nonzero_params"] for r in pruner.history]
    assert average_param_count(pruner.history) == pytest.approx((2 * n[0] + 3 * n[1] + 3 * n[2] + 2 * n[3] + 3 * n[4]) / 13)

def test_gradual_pruner_resumes_from_a_checkpoint(tmp_path):
    "Identity masks are attached up front, so a fresh model + pruner loads a mid-pruning checkpoint and ends identical."
    full_model = gpt(); full = trainer(full_model, 8, [GradualMagnitudePruner(full_model, 0.5, 0, 6, every=2)]); full.fit()
    a = gpt(); t = trainer(a, 8, [GradualMagnitudePruner(a, 0.5, 0, 6, every=2)]); t.fit(stop_at=3); t.save(tmp_path / "ck")
    b = gpt(1); t = trainer(b, 8, [GradualMagnitudePruner(b, 0.5, 0, 6, every=2)]); t.resume(tmp_path / "ck"); t.fit()
    for (k, x), y in zip(full_model.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), k

def test_global_scope_fixes_the_total_only():
    m = gpt(); p = GradualMagnitudePruner(m, 0.7, 0, 0, scope="global"); p.step(0)
    total = sum(l.weight_orig.numel() for _, l in prunable_linears(m))
    assert masked_count(m) == round(0.7 * total)
    assert len(set(layer_sparsities(m).values())) > 1
    kept = torch.cat([l.weight_orig[l.weight_mask == 1].abs() for _, l in prunable_linears(m)])
    gone = torch.cat([l.weight_orig[l.weight_mask == 0].abs() for _, l in prunable_linears(m)])
    assert gone.max() <= kept.min()

# --- average parameter count ----------------------------------------------------------------------------------------

def test_average_param_count_on_a_hand_worked_history():
    # 1000 params for 5 steps, 600 for 10, 300 for 5: (5000 + 6000 + 1500) / 20 = 625
    history = [{"step": 0, "nonzero_params": 1000}, {"step": 5, "nonzero_params": 600},
               {"step": 15, "nonzero_params": 300}, {"step": 20, "nonzero_params": 300}]
    assert average_param_count(history) == 625.0
    assert average_param_count(history[:3], total_steps=20) == 625.0
    assert average_param_count(history[:3], total_steps=25) == (5000 + 6000 + 300 * 10) / 25
    assert average_param_count([(0, 42), (7, 42)]) == 42.0                         # dense: N̄ = N
    assert average_param_count([(10, 100), (10, 50), (20, 50)]) == 50.0             # zero-length intervals count 0
    # the same as the slow, obvious per-step average
    per_step = [1000] * 5 + [600] * 10 + [300] * 5
    assert average_param_count(history) == sum(per_step) / len(per_step)

# --- structured MLP pruning and recovery ----------------------------------------------------------------------------

def test_structured_prune_keep_all_then_recover_reproduces_the_original():
    full = gpt()
    same, kept = structured_prune_mlp(full, 1.0)
    assert kept == {f"blocks.{i}.mlp": list(range(64)) for i in range(2)}
    assert torch.equal(same(X), full(X))
    rec = recover_mlp(same.state_dict(), kept, full)
    restored = GPT(CFG); restored.load_state_dict(rec)
    assert torch.equal(restored(X), full(X))
    assert all(torch.equal(rec[k], v) for k, v in full.state_dict().items())

@pytest.mark.parametrize("by", ["l2", "random"])
def test_structured_prune_keeps_kept_channels_exactly_and_recovery_is_exact(by):
    full = gpt(); before = copy.deepcopy(full.state_dict())
    small, kept = structured_prune_mlp(full, 0.25, by=by, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(v, before[k]) for k, v in full.state_dict().items())      # the input model is untouched
    assert small.cfg.d_ff == 16 and small.num_params() == full.num_params() - 2 * 3 * 48 * 32
    for name, ix in kept.items():
        fm, sm = full.get_submodule(name), small.get_submodule(name)
        assert len(ix) == 16 and ix == sorted(ix)
        assert torch.equal(sm.gate_proj.weight, fm.gate_proj.weight[ix])
        assert torch.equal(sm.up_proj.weight, fm.up_proj.weight[ix])
        assert torch.equal(sm.down_proj.weight, fm.down_proj.weight[:, ix])
        if by == "l2":
            scores = mlp_channel_scores(fm)
            dropped = sorted(set(range(64)) - set(ix))
            assert scores[ix].min() >= scores[dropped].max()
    rec = recover_mlp(small.state_dict(), kept, {k: v.shape for k, v in full.state_dict().items()})
    recovered = GPT(CFG); recovered.load_state_dict(rec)
    torch.testing.assert_close(recovered(X), small(X), rtol=0, atol=1e-5)            # zero channels contribute nothing
    for name, ix in kept.items():
        dropped = sorted(set(range(64)) - set(ix))
        assert rec[f"{name}.gate_proj.weight"][dropped].abs().max() == 0
        assert rec[f"{name}.down_proj.weight"][:, dropped].abs().max() == 0
        assert torch.equal(rec[f"{name}.up_proj.weight"][ix], before[f"{name}.up_proj.weight"][ix])

def test_recover_lora_adapters_and_partial_layers():
    full = gpt()
    small, kept = structured_prune_mlp(full, 0.5, layers=["blocks.1.mlp"])
    assert list(kept) == ["blocks.1.mlp"] and small.cfg.d_ff == 64            # widths differ: cfg left alone
    assert small.blocks[0].mlp.gate_proj.out_features == 64 and small.blocks[1].mlp.gate_proj.out_features == 32
    r, ix = 4, kept["blocks.1.mlp"]
    adapters = {"base.blocks.1.mlp.up_proj.lora_B": torch.randn(32, r), "base.blocks.1.mlp.up_proj.lora_A": torch.randn(r, 32),
                "base.blocks.1.mlp.down_proj.lora_A": torch.randn(r, 32), "base.blocks.1.mlp.down_proj.lora_B": torch.randn(32, r)}
    shapes = {"base.blocks.1.mlp.up_proj.lora_B": (64, r), "base.blocks.1.mlp.up_proj.lora_A": (r, 32),
              "base.blocks.1.mlp.down_proj.lora_A": (r, 64), "base.blocks.1.mlp.down_proj.lora_B": (32, r)}
    rec = recover_mlp(adapters, kept, shapes)
    assert {k: tuple(v.shape) for k, v in rec.items()} == shapes
    assert torch.equal(rec["base.blocks.1.mlp.up_proj.lora_B"][ix], adapters["base.blocks.1.mlp.up_proj.lora_B"])
    assert rec["base.blocks.1.mlp.up_proj.lora_B"].abs().sum() == adapters["base.blocks.1.mlp.up_proj.lora_B"].abs().sum()
    assert torch.equal(rec["base.blocks.1.mlp.down_proj.lora_A"][:, ix], adapters["base.blocks.1.mlp.down_proj.lora_A"])
    assert torch.equal(rec["base.blocks.1.mlp.up_proj.lora_A"], adapters["base.blocks.1.mlp.up_proj.lora_A"])

# --- bad input ------------------------------------------------------------------------------------------------------

def _masked():
    m = gpt(); apply_static_sparsity(m, 0.5); return m

BAD = [
    (lambda: apply_static_sparsity(gpt(), 1.0), "sparsity must be a number in \\[0, 1\\).*got 1.0"),
    (lambda: apply_static_sparsity(gpt(), -0.1), "sparsity must be a number in \\[0, 1\\)"),
    (lambda: apply_static_sparsity(gpt(), "half"), "got 'half'"),
    (lambda: apply_static_sparsity(gpt(), 0.5, method="topk"), "unknown sparsity method 'topk'; valid methods: random, magnitude"),
    (lambda: apply_static_sparsity(gpt(), 0.5, match=("ffn",)), "no nn.Linear .* match=\\('ffn',\\)"),
    (lambda: apply_static_sparsity(_masked(), 0.5), "already carry a sparsity mask; call densify"),
    (lambda: densify(gpt()), "carries no sparsity masks"),
    (lambda: sparsity_schedule(0, 0.5, 10, 5), "end_step 5 is before start_step 10"),
    (lambda: sparsity_schedule(0, 0.5, 0, 5, schedule="cosine"), "unknown sparsity schedule 'cosine'; valid schedules: cubic, linear"),
    (lambda: sparsity_schedule(0, 0.2, 0, 5, initial_sparsity=0.5), "initial_sparsity 0.5 is above final_sparsity 0.2"),
    (lambda: GradualMagnitudePruner(gpt(), 1.5, 0, 10), "final_sparsity must be a number in \\[0, 1\\)"),
    (lambda: GradualMagnitudePruner(gpt(), 0.5, 0, 10, every=0), "every must be a positive integer"),
    (lambda: GradualMagnitudePruner(gpt(), 0.5, -1, 10), "start_step must be a non-negative integer"),
    (lambda: GradualMagnitudePruner(gpt(), 0.5, 0, 10, scope="row"), "unknown pruning scope 'row'"),
    (lambda: trainer(gpt(), 2, [GradualMagnitudePruner(gpt(), 0.5, 0, 1)]).fit(), "built for a different model"),
    (lambda: average_param_count([]), "history is empty"),
    (lambda: average_param_count([(5, 10), (3, 10)]), "steps must not decrease"),
    (lambda: average_param_count([(5, 10)]), "spans no steps"),
    (lambda: average_param_count([(0, 10), (5, 10)], total_steps=3), "total_steps 3 is before the last recorded step 5"),
    (lambda: structured_prune_mlp(gpt(), 0.0), "keep_fraction must be a number in \\(0, 1\\]"),
    (lambda: structured_prune_mlp(gpt(), 1.5), "keep_fraction must be"),
    (lambda: structured_prune_mlp(gpt(), 0.5, by="l1"), "unknown channel score 'l1'; valid scores: l2, random"),
    (lambda: structured_prune_mlp(gpt(), 0.5, layers=["blocks.0.attn"]), "not gated MLPs: \\['blocks.0.attn'\\]"),
    (lambda: structured_prune_mlp(_masked(), 0.5), "unstructured sparsity masks; call remove_sparsity"),
    (lambda: recover_mlp({"x.weight": torch.zeros(2)}, {}, {}), "'x.weight' has no entry in full_shapes"),
    (lambda: recover_mlp({"tok_emb.weight": torch.zeros(3, 32)}, {}, gpt()), "not under any pruned MLP"),
    (lambda: recover_mlp({"blocks.0.mlp.up_proj.weight": torch.zeros(10, 32)}, {"blocks.0.mlp": [0, 1]}, gpt()), "do not fit"),
]

@pytest.mark.parametrize("call, message", BAD)
def test_bad_input_raises_a_config_error_with_a_clear_message(call, message):
    with pytest.raises(ConfigError, match=message): call()


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_gradual_pruner_ranks_the_current_weights(scope):
    "After an optimizer step (no forward since), pruning must rank W_orig, not the stale W = W_orig ⊙ M of the last forward."
    from tinyrepro.sparsity import GradualMagnitudePruner
    torch.manual_seed(0)
    model = torch.nn.Sequential(); model.mlp = torch.nn.Linear(8, 8, bias=False)
    pr = GradualMagnitudePruner(model, final_sparsity=0.5, start_step=0, end_step=2, every=1, scope=scope, match=("mlp",))
    pr.prune_to(0.25)                                        # adds the mask; `weight` is now a cached product
    with torch.no_grad():                                    # an "optimizer update" with no forward afterwards
        model.mlp.weight_orig.copy_(torch.arange(64.0).view(8, 8) + 1)
        model.mlp.weight_orig.mul_(model.mlp.weight_mask)    # keep already-pruned entries at 0
    pr.prune_to(0.5)
    cur = model.mlp.weight_orig.detach().abs()
    kept = model.mlp.weight_mask.bool()
    assert int((~kept).sum()) == 32
    assert cur[kept].min() > cur[~kept & (cur > 0)].max()   # the newly pruned are the smallest current values
