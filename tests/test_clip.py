"TinyCLIP (tinyrepro.clip): losses vs references, EOT pooling, prompt-embedding path, R@K vs brute force, zoo cache, HF port."
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from tinyrepro.config import ConfigError, set_seed
from tinyrepro.train import CheckpointError, Trainer, TrainConfig
from tinyrepro.clip import (ViT, ViTConfig, TextEncoder, TextConfig, TinyCLIP, CLIPConfig, clip_loss, siglip_loss,
                            retrieval_recall, zero_shot_classifier, zero_shot_predict, zero_shot_accuracy, linear_probe,
                            harmonic_mean, train_clip, world_pairs, encode_images, encode_texts, pretrained,
                            pretrained_info, zoo_path, zoo_spec, to_hf_clip, hf_clip_config, text_config_for,
                            twin_pairs, twin_batch_loss)
from tinyrepro.world import WorldConfig, WorldTokenizer, images_to_float

VIT = ViTConfig(image_size=16, patch_size=4, d_model=32, n_layer=2, n_head=2, d_ff=64)
TXT = TextConfig(vocab_size=30, max_len=10, eot_id=3, d_model=32, n_layer=2, n_head=2, d_ff=64)
CFG = CLIPConfig(vision=VIT, text=TXT, embed_dim=16)


def rand_ids(n, T=10, seed=0, eot=3):
    "Rows [1, words…, eot, 0…] with random lengths, like the tokenizer's output."
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(n, T, dtype=torch.long)
    for i in range(n):
        k = int(torch.randint(1, T - 1, (1,), generator=g))
        ids[i, 0], ids[i, 1:k] = 1, torch.randint(4, 30, (k - 1,), generator=g)
        ids[i, k] = eot
    return ids


# --- losses ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,seed", [(1, 0), (5, 1), (16, 2)])
def test_clip_loss_matches_slow_loop_and_transformers(n, seed):
    L = torch.randn(n, n, generator=torch.Generator().manual_seed(seed)) * 4
    slow = sum(-torch.log_softmax(L[i], 0)[i] - torch.log_softmax(L[:, i], 0)[i] for i in range(n)) / (2 * n)
    assert torch.allclose(clip_loss(L), slow, atol=1e-5)
    hf = pytest.importorskip("transformers.models.clip.modeling_clip")
    ref = getattr(hf, "clip_loss", None) or hf.image_text_contrastive_loss
    assert torch.allclose(clip_loss(L), ref(L.T), atol=1e-6)


@pytest.mark.parametrize("n,seed", [(1, 0), (4, 1), (9, 2)])
def test_siglip_loss_matches_pairwise_loop(n, seed):
    L = torch.randn(n, n, generator=torch.Generator().manual_seed(seed)) * 5 - 3
    slow = sum(-math.log(1 / (1 + math.exp(-(1 if i == j else -1) * L[i, j].item()))) for i in range(n) for j in range(n)) / n
    assert abs(siglip_loss(L).item() - slow) < 1e-4


def test_losses_reject_non_square_logits():
    for fn in (clip_loss, siglip_loss):
        with pytest.raises(ConfigError, match="square"): fn(torch.zeros(3, 4))


def test_logit_scale_init_and_clamp():
    m = TinyCLIP(CFG)
    assert abs(m.scale().item() - 1 / 0.07) < 1e-3
    with torch.no_grad(): m.logit_scale.fill_(10.0)
    m.scale().backward()
    assert abs(m.scale().item() - 100) < 1e-3 and m.logit_scale.grad.item() == 0.0
    s = TinyCLIP(CLIPConfig(vision=VIT, text=TXT, embed_dim=16, loss="siglip"))
    assert abs(s.scale().item() - 10) < 1e-4 and s.logit_bias.item() == -10.0
    imgs, ids = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8), rand_ids(4)
    s.loss(imgs, ids).backward()
    assert s.logit_bias.grad is not None and s.logit_scale.grad is not None
    assert torch.allclose(s(imgs, ids), s.scale() * s.encode_image(imgs) @ s.encode_text(ids).T - 10, atol=1e-5)


# --- towers ------------------------------------------------------------------------------------------------------
def test_eot_pooling_reads_the_first_eot_position():
    torch.manual_seed(0)
    enc = TextEncoder(TXT)
    ids = rand_ids(6)
    h = enc.hidden_states(enc.token_embedding(ids))
    pos = [int((r == 3).nonzero()[0]) for r in ids]
    assert torch.allclose(enc(ids), torch.stack([h[i, p] for i, p in enumerate(pos)]), atol=1e-6)
    changed = ids.clone()
    for i, p in enumerate(pos): changed[i, p + 1:] = 7            # tokens after the eot (incl. a second eot-free tail)
    assert torch.allclose(enc(changed), enc(ids), atol=1e-6)       # causal: nothing after the eot matters
    two = ids.clone(); two[0, -1] = 3                               # a later second eot does not move the pooling
    assert enc.eot_index(two)[0] == pos[0]
    with pytest.raises(ConfigError, match="no eot"): enc(torch.tensor([[1, 5, 6]]))
    with pytest.raises(ConfigError, match="longer than max_len"): enc(torch.cat([ids, ids], 1))


def test_encode_embeds_of_embedding_equals_forward():
    torch.manual_seed(1)
    m = TinyCLIP(CFG)
    ids = rand_ids(5, seed=3)
    assert torch.equal(m.text.encode_embeds(m.text.token_embedding(ids), m.text.eot_index(ids)), m.text(ids))
    assert torch.equal(m.encode_text_embeds(m.text.token_embedding(ids), m.text.eot_index(ids)), m.encode_text(ids))
    # prompt learning: gradients reach learned context vectors through the frozen tower
    m.requires_grad_(False)
    ctx = torch.zeros(2, 32, requires_grad=True)
    emb = m.text.token_embedding(ids).clone(); emb[:, 1:3] = ctx
    m.encode_text_embeds(emb, m.text.eot_index(ids)).sum().backward()
    assert ctx.grad is not None and ctx.grad.abs().sum() > 0


def test_vit_shapes_hook_and_uint8_input():
    torch.manual_seed(0)
    vit = ViT(VIT)
    u8 = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    assert vit(u8).shape == (3, 32) and vit.tokens(u8).shape == (3, 17, 32)
    assert torch.equal(vit(u8), vit(images_to_float(u8)))
    seen = []
    vit.tokens(u8, hook=lambda i, x: seen.append(i) or x)
    assert seen == [0, 1]
    add = lambda i, x: torch.cat([x, torch.zeros(len(x), 3, 32)], 1) if i == 1 else x
    assert vit.tokens(u8, hook=add).shape == (3, 20, 32)
    with pytest.raises(ConfigError, match="expects images"): vit(torch.zeros(1, 3, 32, 32))


@pytest.mark.parametrize("bad,match", [(dict(d_model=30, n_head=4), "divisible"), (dict(n_layer=0), "positive"),
                                       (dict(image_size=18), "not divisible")])
def test_vit_config_errors(bad, match):
    with pytest.raises(ConfigError, match=match): ViTConfig(**bad)


def test_other_config_errors():
    with pytest.raises(ConfigError, match="eot_id"): TextConfig(vocab_size=10, eot_id=10)
    with pytest.raises(ConfigError, match="unknown CLIP loss"): CLIPConfig(loss="triplet")
    assert CLIPConfig(vision=dict(d_model=32, n_head=2)).vision.d_model == 32      # dicts (e.g. from JSON) become configs


# --- evaluations -------------------------------------------------------------------------------------------------
def brute_recall(sim, k, text_image):
    "Sort-based count: position of the first own item in the descending order, ties placed before it."
    n_img, n_txt = sim.shape
    i2t = 0
    for i in range(n_img):
        own = [j for j in range(n_txt) if text_image[j] == i]
        best = max(sim[i, j].item() for j in own)
        ahead = sorted((sim[i, j].item() for j in range(n_txt) if j not in own), reverse=True)
        i2t += sum(v >= best for v in ahead) < k
    t2i = 0
    for j in range(n_txt):
        true = sim[text_image[j], j].item()
        t2i += sum(sim[i, j].item() >= true for i in range(n_img) if i != text_image[j]) < k
    return i2t / n_img, t2i / n_txt


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_retrieval_recall_matches_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    I = F.normalize(torch.randn(20, 6, generator=g), dim=-1); I[7] = I[3]
    ti = torch.cat([torch.arange(20), torch.randint(0, 20, (10,), generator=g)])
    T = F.normalize(I[ti] + torch.randn(30, 6, generator=g), dim=-1); T[11] = T[10]
    r = retrieval_recall(I, T, (1, 3, 10), ti)
    for k in (1, 3, 10):
        i2t, t2i = brute_recall(I @ T.T, k, ti.tolist())
        assert abs(r[f"i2t@{k}"] - i2t) < 1e-6 and abs(r[f"t2i@{k}"] - t2i) < 1e-6


def test_retrieval_recall_edge_cases():
    E = F.normalize(torch.randn(8, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    assert retrieval_recall(E, E, (1,)) == {"i2t@1": 1.0, "t2i@1": 1.0}
    assert retrieval_recall(torch.ones(8, 4), torch.ones(8, 4), (1, 8))["i2t@1"] == 0.0    # collapse is not rewarded
    with pytest.raises(ConfigError, match="give text_image"): retrieval_recall(E, E[:5])
    with pytest.raises(ConfigError, match="text_image"): retrieval_recall(E[:3], E[:5], text_image=[0, 1, 1, 1, 1])


class _Tok:
    "Stub tokenizer: one id per distinct word, [bos, words, eot, pad]."
    vocab_size, eot_id = 30, 3
    def encode(self, texts, max_len):
        out = torch.zeros(len(texts), max_len, dtype=torch.long)
        for i, t in enumerate(texts):
            w = [4 + (sum(map(ord, x)) % 26) for x in t.split()][: max_len - 2]
            out[i, : len(w) + 2] = torch.tensor([1, *w, 3])
        return out


def test_zero_shot_classifier_is_normalised_template_mean():
    torch.manual_seed(0)
    m = TinyCLIP(CFG).eval()
    tok = _Tok()
    clf = zero_shot_classifier(m, ["red", "blue", "cat"], ["a {}", "the {} one"], tok)
    assert clf.shape == (3, 16) and torch.allclose(clf.norm(dim=-1), torch.ones(3), atol=1e-5)
    e = encode_texts(m, tok.encode(["a blue", "the blue one"], 10))
    assert torch.allclose(clf[1], F.normalize(e.mean(0), dim=0), atol=1e-5)
    with pytest.raises(ConfigError, match="must contain"): zero_shot_classifier(m, ["red"], ["a photo"], tok)
    imgs = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    pred = zero_shot_predict(encode_images(m, imgs), clf)
    assert zero_shot_accuracy(m, imgs, pred, clf) == 1.0


def test_linear_probe_and_harmonic_mean():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 4
    X = torch.randn(4, 10, generator=g)[y] * 2 + torch.randn(400, 10, generator=g)
    assert linear_probe(X[:300], y[:300], X[300:], y[300:]) > 0.95
    assert linear_probe(X[:300], y[torch.randperm(400, generator=g)][:300], X[300:], y[300:]) < 0.5
    assert linear_probe(X[:300], y[:300], X[300:], y[300:]) == linear_probe(X[:300], y[:300], X[300:], y[300:])
    assert harmonic_mean(0.6, 0.3) == pytest.approx(0.4) and harmonic_mean(0.0, 0.0) == 0.0
    with pytest.raises(ConfigError): harmonic_mean(-0.1, 0.5)


# --- training on the shared Trainer ------------------------------------------------------------------------------
def _pairs():
    tok = WorldTokenizer()
    return world_pairs(256, 0, WorldConfig(image_size=16), tok, 24), tok


def test_train_clip_is_deterministic_and_learns():
    (imgs, ids, _), tok = _pairs()
    cfg = CLIPConfig(vision=VIT, text=text_config_for(tok, max_len=24, d_model=32, n_layer=1, n_head=2, d_ff=64), embed_dim=16)
    runs = []
    for _ in range(2):
        set_seed(0); m = TinyCLIP(cfg)
        hist = train_clip(m, imgs, ids, steps=20, lr=3e-3, batch_size=32, progress=False)
        runs.append((m, hist))
    assert all(torch.equal(a, b) for a, b in zip(runs[0][0].state_dict().values(), runs[1][0].state_dict().values()))
    assert runs[0][1][-1]["loss"] < runs[0][1][0]["loss"] and runs[0][1][-1]["tokens"] == 20 * 32
    with pytest.raises(ConfigError, match="matching pairs"): train_clip(m, imgs, ids[:10], steps=1)


def test_trainer_resumes_paired_data_bit_identically(tmp_path):
    (imgs, ids, _), tok = _pairs()
    cfg = CLIPConfig(vision=VIT, text=text_config_for(tok, max_len=24, d_model=32, n_layer=1, n_head=2, d_ff=64), embed_dim=16)
    tc = TrainConfig(max_steps=8, batch_size=16, lr=1e-3, progress=False, log_every=1)
    loss = lambda m, b: m.loss(*b)
    set_seed(0); full = Trainer(TinyCLIP(cfg), tc, (imgs, ids), loss_fn=loss); full.fit()
    set_seed(0); half = Trainer(TinyCLIP(cfg), tc, (imgs, ids), loss_fn=loss); half.fit(stop_at=4); half.save(tmp_path / "ck")
    set_seed(5); res = Trainer(TinyCLIP(cfg), tc, (imgs, ids), loss_fn=loss); res.resume(tmp_path / "ck"); res.fit()
    assert all(torch.equal(a, b) for a, b in zip(full.raw_model.state_dict().values(), res.raw_model.state_dict().values()))
    ev = Trainer(TinyCLIP(cfg), tc, (imgs, ids), eval_data=(imgs[:40], ids[:40]), loss_fn=loss).evaluate()
    assert 0 < ev < 10


def test_shape_twins_differ_only_in_one_shape():
    tok, world = WorldTokenizer(), WorldConfig(image_size=16, max_objects=3)
    imgs, ids, scenes = twin_pairs(40, 0, world, tok, 24)
    assert imgs.shape == (40, 2, 3, 16, 16) and ids.shape == (40, 2, 24)
    for s, t in scenes:
        changed = [(a, b) for a, b in zip(s.objects, t.objects) if a != b]
        assert len(changed) == 1 and changed[0][0].shape != changed[0][1].shape
        assert changed[0][0].__class__(**{**changed[0][0].__dict__, "shape": changed[0][1].shape}) == changed[0][1]
    assert torch.equal(twin_pairs(40, 0, world, tok, 24)[0], imgs)                       # deterministic
    torch.manual_seed(0); m = TinyCLIP(CLIPConfig(vision=VIT, text=text_config_for(tok, max_len=24, d_model=32, n_head=2), embed_dim=16))
    assert torch.allclose(twin_batch_loss(m, (imgs[:4], ids[:4])), m.loss(imgs[:4].flatten(0, 1), ids[:4].flatten(0, 1)))
    with pytest.raises(ConfigError, match="two shapes"): twin_pairs(2, 0, WorldConfig(shapes=("circle",)), tok, 24)


# --- zoo -----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zoo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    pretrained("tinyclip-base", "smoke", root=root, progress=False)
    return root


def test_zoo_caches_and_reloads_the_same_weights(zoo_root):
    a = pretrained("tinyclip-base", "smoke", root=zoo_root)
    b = pretrained("tinyclip-base", "smoke", root=zoo_root)
    assert not a.training and all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    info = pretrained_info("tinyclip-base", "smoke", root=zoo_root)
    ev = info["eval"]
    assert ev["t2i@5"] > 5 * 5 * ev["retrieval_chance@1"] and ev["zero_shot_color"] > 2 * ev["zero_shot_color_chance"]
    assert pretrained_info("tinyclip-base", "smoke", seed=7, root=zoo_root) is None
    assert zoo_path("tinyclip-base", "smoke", 0) != zoo_path("tinyclip-base", "smoke", 1)


def test_zoo_corrupt_file_raises_or_rebuilds_identically(zoo_root, tmp_path):
    good = zoo_path("tinyclip-base", "smoke", root=zoo_root)
    path = zoo_path("tinyclip-base", "smoke", root=tmp_path)
    path.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="is corrupt"):
        pretrained("tinyclip-base", "smoke", root=tmp_path, on_corrupt="raise")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        rebuilt = pretrained("tinyclip-base", "smoke", root=tmp_path, progress=False)
    assert any("rebuilding" in str(x.message) for x in w)
    ref = pretrained("tinyclip-base", "smoke", root=zoo_root)
    assert all(torch.equal(x, y) for x, y in zip(ref.state_dict().values(), rebuilt.state_dict().values()))
    assert path.read_bytes() == good.read_bytes() or len(path.read_bytes()) > 1000
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [path.name]


def test_zoo_file_of_another_model_is_rejected(zoo_root, tmp_path):
    other = zoo_path("tinyclip-base", "smoke", seed=1, root=tmp_path)
    other.write_bytes(zoo_path("tinyclip-base", "smoke", root=zoo_root).read_bytes())   # seed-0 weights under seed 1's name
    with pytest.raises(CheckpointError, match="holds model"):
        pretrained("tinyclip-base", "smoke", seed=1, root=tmp_path, on_corrupt="raise")


def test_zoo_bad_names():
    with pytest.raises(ConfigError, match="unknown zoo model"): zoo_spec("tinyclip-huge", "cpu")
    with pytest.raises(ConfigError, match="unknown scale"): zoo_spec("tinyclip-base", "laptop")
    with pytest.raises(ConfigError, match="on_corrupt"): pretrained("tinyclip-base", "smoke", on_corrupt="ignore")


# --- transformers port ---------------------------------------------------------------------------------------------
def test_port_to_transformers_gives_equal_embeddings():
    pytest.importorskip("transformers")
    torch.manual_seed(0)
    m = TinyCLIP(CFG).eval()
    hf = to_hf_clip(m)
    assert sum(p.numel() for p in hf.parameters()) == m.num_params()
    imgs, ids = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8), rand_ids(5, seed=4)
    with torch.no_grad():
        out = hf(input_ids=ids, pixel_values=images_to_float(imgs))
        assert torch.allclose(out.image_embeds, m.encode_image(imgs), atol=1e-5)
        assert torch.allclose(out.text_embeds, m.encode_text(ids), atol=1e-5)
        assert torch.allclose(out.logits_per_image, m(imgs, ids), atol=1e-4)
    with pytest.raises(ConfigError, match="eos_token_id == 2"):
        hf_clip_config(CLIPConfig(vision=VIT, text=TextConfig(vocab_size=30, max_len=10, eot_id=2, d_model=32, n_head=2)))
