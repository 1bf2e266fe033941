"CoOp: bad inputs raise clear errors; the prompt learner's layout and the frozen-model contract (smoke-tier zoo model)."
import pytest, torch
from tinyrepro.config import ConfigError
from tinyrepro.papers.coop import (prompt_layout, PromptLearner, CoOpCLIP, coop_config, coop_world, few_shot_indices,
                                   base_new_split, train_coop)
from tinyrepro.clip import pretrained
from tinyrepro.world import WorldTokenizer


def test_layout_errors():
    with pytest.raises(ConfigError, match="class_pos"): prompt_layout([[5]], 2, "left", 1, 3, 7)
    with pytest.raises(ConfigError, match="n_ctx"): prompt_layout([[5]], 0, "end", 1, 3, 7)
    with pytest.raises(ConfigError, match="non-empty"): prompt_layout([[]], 2, "end", 1, 3, 7)


def test_world_and_split_errors():
    with pytest.raises(ConfigError, match="n_colors"): coop_world(coop_config("smoke").__class__(n_colors=99), 16)
    w = coop_world(coop_config("smoke"), 16)
    base, new = base_new_split(w)
    assert len(base) == len(new) == 12 and not set(base) & set(new)
    with pytest.raises(ConfigError, match="only 1 examples"): few_shot_indices(torch.tensor([0, 1, 1]), [0, 1], 2)


def test_prompt_learner_trains_only_ctx():
    clip = pretrained("tinyclip-base", "smoke", seed=0, progress=False)
    tok = WorldTokenizer()
    model = CoOpCLIP(clip, PromptLearner(clip, ["red circle", "blue ring"], tok, n_ctx=3, generator=torch.Generator().manual_seed(0)))
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["prompt_learner.ctx"]
    feats = torch.nn.functional.normalize(torch.randn(8, clip.cfg.embed_dim, generator=torch.Generator().manual_seed(1)), dim=-1)
    before = model.prompt_learner.ctx.detach().clone()
    train_coop(model, feats, torch.tensor([0, 1] * 4), steps=3, lr=1e-2, batch_size=4, seed=0)
    assert not torch.equal(before, model.prompt_learner.ctx)
    with pytest.raises(ConfigError): train_coop(model, feats, torch.tensor([0, 1]), steps=1, lr=1e-2, batch_size=4, seed=0)
    with pytest.raises(ConfigError, match="steps"): train_coop(model, feats, torch.tensor([0, 1] * 4), steps=0, lr=1e-2, batch_size=4, seed=0)
