"Trainer bookkeeping on the real GPT: bit-identical resume, clear errors on damaged checkpoints, 2-process accelerate."
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tinyrepro.config import set_seed, ConfigError
from tinyrepro.models import GPT, GPTConfig
from tinyrepro.train import Trainer, TrainConfig, CheckpointError
from tinyrepro.papers.galore import GaLoreAdamW, galore_param_groups

CFG = GPTConfig(vocab_size=64, d_model=32, n_layer=2, n_head=2, d_ff=64, max_seq_len=16)
DATA = torch.randint(0, 64, (64, 17), generator=torch.Generator().manual_seed(0))

def make(opt="adamw", steps=12, **kw):
    set_seed(0)
    model = GPT(CFG)
    optimizer = None if opt == "adamw" else GaLoreAdamW(galore_param_groups(model, 4, 3, 0.25), lr=1e-2)
    return Trainer(model, TrainConfig(max_steps=steps, batch_size=8, lr=1e-2, progress=False, log_every=1, warmup_steps=2, **kw),
                   DATA, eval_data=DATA[:8], optimizer=optimizer)

@pytest.mark.parametrize("opt", ["adamw", "galore"])
def test_resume_is_bit_identical(opt, tmp_path):
    full = make(opt); full.fit()
    half = make(opt); half.fit(stop_at=5); half.save(tmp_path / "ck")
    set_seed(123)                                     # a different global RNG state must not matter after resume
    resumed = make(opt); resumed.resume(tmp_path / "ck"); resumed.fit()
    for (k, a), b in zip(full.raw_model.state_dict().items(), resumed.raw_model.state_dict().values()):
        assert torch.equal(a, b), k
    assert full.history[-1] == resumed.history[-1]          # the final held-out loss, bit for bit
    drop = lambda h: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in h]
    assert drop(full.history)[5:] == drop(resumed.history)

def test_checkpoint_is_atomic_and_overwrites(tmp_path):
    t = make(); t.fit(stop_at=2); t.save(tmp_path / "ck")
    t.fit(stop_at=4); t.save(tmp_path / "ck")
    assert json.loads((tmp_path / "ck" / "trainer.json").read_text())["step"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]      # no temp or .old folders left behind

@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "model.safetensors").write_bytes(b"\x00garbage"), "is corrupt"),
    (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:100]), "is corrupt"),
    (lambda d: (d / "trainer.json").write_text("{not json"), "is corrupt"),
    (lambda d: (d / "optimizer.safetensors").unlink(), "incomplete: missing optimizer.safetensors"),
    (lambda d: None, None),
])
def test_damaged_checkpoint_gives_clear_error(damage, message, tmp_path):
    t = make(); t.fit(stop_at=2); t.save(tmp_path / "ck")
    damage(tmp_path / "ck")
    fresh = make()
    if message is None: fresh.resume(tmp_path / "ck"); return
    with pytest.raises(CheckpointError, match=message): fresh.resume(tmp_path / "ck")

def test_checkpoint_of_another_model_is_rejected(tmp_path):
    t = make(); t.save(tmp_path / "ck")
    set_seed(0)
    other = Trainer(GPT(GPTConfig(vocab_size=64, d_model=48, n_layer=2, n_head=2, d_ff=64, max_seq_len=16)),
                    TrainConfig(max_steps=2, batch_size=8, progress=False), DATA)
    with pytest.raises(CheckpointError, match="does not match the model"): other.resume(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="no checkpoint"): other.resume(tmp_path / "nowhere")

def test_token_budget_and_grad_accum_equivalence():
    t = make(steps=None, max_tokens=8 * 16 * 5)
    assert t.total_steps == 5
    a = make(steps=4); a.fit()
    b = make(steps=4, grad_accum=2); b.fit()
    for x, y in zip(a.raw_model.parameters(), b.raw_model.parameters()):
        torch.testing.assert_close(x, y, atol=2e-6, rtol=1e-5)   # same update, summed in another order

def test_bad_train_config():
    with pytest.raises(ConfigError, match="valid schedules"): TrainConfig(schedule="linear")
    with pytest.raises(ConfigError, match="not divisible"): TrainConfig(batch_size=10, grad_accum=3)
    with pytest.raises(ConfigError, match="give a budget"):
        Trainer(GPT(CFG), TrainConfig(batch_size=8, progress=False), DATA)

def test_metrics_jsonl(tmp_path):
    t = make(steps=4, out_dir=str(tmp_path), eval_every=2); t.fit()
    rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert any("eval_loss" in r for r in rows)

def test_two_process_accelerate_matches_single_process(tmp_path):
    "accelerate over 2 CPU processes (gloo, launched by torchrun) reaches the single-process weights."
    worker = str(Path(__file__).with_name("ddp_worker.py"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, worker, str(tmp_path / "one.safetensors")], capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", worker,
                          str(tmp_path / "two.safetensors")], capture_output=True, text=True, env=env, timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    assert "world=1" in one.stdout and "world=2" in two.stdout
    a, b = load_file(tmp_path / "one.safetensors"), load_file(tmp_path / "two.safetensors")
    for k in a: torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)

def test_callbacks_and_objective_override():
    "A callback sees every step; overriding compute_loss changes the objective (and so the weights), nothing else."
    from tinyrepro.train import Callback
    class Recorder(Callback):
        def __init__(self): self.steps, self.evals, self.ended = [], [], False
        def on_step_end(self, trainer, metrics): self.steps.append(metrics["step"])
        def on_eval(self, trainer, metrics): self.evals.append(metrics["eval_loss"])
        def on_train_end(self, trainer): self.ended = True
    rec = Recorder()
    t = make(steps=4); t.callbacks.append(rec); t.fit()
    assert rec.steps == [1, 2, 3, 4] and len(rec.evals) == 1 and rec.ended

    class L2Trainer(Trainer):
        def compute_loss(self, batch):
            return super().compute_loss(batch) + 0.1 * sum((p ** 2).sum() for p in self.raw_model.parameters())
    set_seed(0)
    a = make(steps=4); a.fit()
    set_seed(0)
    b = L2Trainer(GPT(CFG), a.cfg, DATA); b.fit()
    assert not torch.equal(a.raw_model.tok_emb.weight, b.raw_model.tok_emb.weight)
