"The optimizer-comparison harness and exact memory accounting."
import pytest
import torch

from tinyrepro.config import ConfigError
from tinyrepro.models import GPT, GPTConfig
from tinyrepro.optim import (OptimizerArm, adamw_arm, compare_optimizers, memory_report, param_bytes, steps_to_target)

CFG = GPTConfig(vocab_size=64, d_model=32, n_layer=1, n_head=2, d_ff=64, max_seq_len=16)
DATA = torch.randint(0, 64, (64, 17), generator=torch.Generator().manual_seed(0))

def test_memory_counts_match_the_tensors():
    model = GPT(CFG)
    n = sum(p.numel() for p in model.parameters())          # parameters() yields the tied embedding once
    assert param_bytes(model) == 4 * n
    opt = torch.optim.AdamW(model.parameters())
    model(DATA[:4, :-1], DATA[:4, 1:]).backward(); opt.step()
    rep = memory_report(model, opt)
    assert rep["grads"] == 4 * n and rep["optimizer_state"] == 4 * (2 * n + len(list(model.parameters())))
    assert rep["total"] == rep["params"] + rep["grads"] + rep["optimizer_state"]

def test_identical_arms_give_identical_numbers():
    "Common random numbers: two arms with the same optimizer and rate see the same init, data and order."
    a = adamw_arm((3e-3,))
    b = OptimizerArm("adamw_copy", a.make, (3e-3,), role="method")
    out = compare_optimizers(lambda: GPT(CFG), [a, b], DATA, DATA[:8], steps=6, seeds=[0, 1], batch_size=8, eval_every=3)
    assert [r["eval_loss"] for r in out["runs"]["adamw"]] == [r["eval_loss"] for r in out["runs"]["adamw_copy"]]
    assert out["runs"]["adamw"][0]["eval_loss"] != out["runs"]["adamw"][1]["eval_loss"]   # seeds differ

def test_every_arm_gets_the_same_sweep_budget():
    sgd = OptimizerArm("sgd", lambda m, lr: torch.optim.SGD(m.parameters(), lr=lr), (0.01, 0.1, 1.0))
    out = compare_optimizers(lambda: GPT(CFG), [adamw_arm((1e-3, 3e-3, 1e-2)), sgd], DATA, DATA[:8], steps=4,
                             seeds=[0], sweep_steps=4, batch_size=8, eval_every=2)
    assert len(out["sweeps"]["adamw"]) == len(out["sweeps"]["sgd"]) == 3
    assert out["best_lr"]["adamw"] == min(out["sweeps"]["adamw"], key=out["sweeps"]["adamw"].get)

def test_steps_to_target_and_bad_input():
    assert steps_to_target([(10, 3.0), (20, 2.0), (30, 1.5)], 2.0) == 20
    assert steps_to_target([(10, 3.0)], 2.0) is None
    with pytest.raises(ConfigError, match="exactly one arm"):
        compare_optimizers(lambda: GPT(CFG), [adamw_arm(role="method")], DATA, DATA[:8], 2, [0])
