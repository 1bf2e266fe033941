"FLAME: bad inputs raise clear errors; the LM cache is keyed, atomic and rebuilt when damaged; the losses' shape contract."
import pytest, torch
from tinyrepro.config import ConfigError
from tinyrepro.papers.flame import (facet_decoupled_mask, facet_position_ids, facet_layout, flame_tokenizer, flame_config,
                                    multi_positive_sigmoid_loss, multi_positive_nce_loss, LMSpec, world_lm, lm_path,
                                    embed_captions, lm_corpus, minor_twin, twin_accuracy)
from tinyrepro.world import sample_scenes, WorldConfig


def test_mask_and_positions_errors():
    with pytest.raises(ConfigError, match="follow each other"): facet_decoupled_mask(8, 3, [(3, 5), (6, 8)])
    with pytest.raises(ConfigError, match="do not fit"): facet_decoupled_mask(6, 3, [(3, 5), (5, 9)])
    with pytest.raises(ConfigError, match="positions"): facet_position_ids(8, 3, [(3, 5)], "shifted")
    with pytest.raises(ConfigError, match="facets"): facet_layout(flame_tokenizer(), "a red circle", ("overall", "mood"))


def test_loss_shapes_and_config():
    img, txt = torch.randn(4, 8), torch.randn(10, 8)
    with pytest.raises(ConfigError, match="N·K"): multi_positive_sigmoid_loss(img, txt, 1.0, 0.0)
    with pytest.raises(ConfigError, match="N·K"): multi_positive_nce_loss(img, txt[:, :4], 1.0)
    cfg = flame_config("smoke")
    for bad in (dict(facets=0), dict(positions="x"), dict(embed_layers=(9,)), dict(n_eval=3), dict(batch_size=10_000)):
        with pytest.raises(ConfigError): cfg.__class__(**{**cfg.__dict__, **bad})
    with pytest.raises(ConfigError, match="two objects"): minor_twin(sample_scenes(1, 0, WorldConfig(max_objects=1))[0], __import__("random").Random(0))
    with pytest.raises(ConfigError, match="stage"): lm_corpus(3, 0, WorldConfig(), stage="hard")


def test_twin_accuracy_chance_for_identical_texts():
    img = torch.nn.functional.normalize(torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    txt = torch.ones(6, 4).div(2)
    assert twin_accuracy(img, txt) == 0.5


def test_lm_cache_roundtrip_and_rebuild(tmp_path):
    spec = LMSpec(d_model=16, n_layer=1, n_head=2, d_ff=32, easy_steps=3, steps=3, batch_size=8)
    lm, info = world_lm(spec, root=tmp_path)
    assert not info["cached"] and not any(p.requires_grad for p in lm.parameters())
    again, info2 = world_lm(spec, root=tmp_path)
    assert info2["cached"] and all(torch.equal(a, b) for a, b in zip(lm.state_dict().values(), again.state_dict().values()))
    path = lm_path(spec, tmp_path)
    path.write_bytes(b"not a safetensors file")
    rebuilt, info3 = world_lm(spec, root=tmp_path)
    assert not info3["cached"] and all(torch.equal(a, b) for a, b in zip(lm.state_dict().values(), rebuilt.state_dict().values()))
    assert lm_path(LMSpec(d_model=16, n_layer=1, n_head=2, d_ff=32, easy_steps=3, steps=4, batch_size=8), tmp_path) != path
    with pytest.raises(ConfigError, match="block indices"): embed_captions(lm, flame_tokenizer(), ["a red circle"], layers=(2,))
