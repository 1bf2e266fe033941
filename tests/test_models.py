"Tests for tinyrepro.models: HF reference equivalence, causality, init loss, BERT masking, config errors. Offline."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import math

import pytest
import torch

from tinyrepro.config import ConfigError, set_seed
from tinyrepro.models import (GPT, GPTConfig, EncoderConfig, Encoder, EncoderForMLM, EncoderForSequenceClassification,
                              EncoderForTokenClassification, count_params, mask_tokens, to_hf_bert_mlm, to_hf_llama)

torch.set_num_threads(1)

SMALL_GPT = dict(vocab_size=97, d_model=64, n_layer=2, n_head=4, d_ff=176, max_seq_len=64, rope_theta=500.0,
                 norm_eps=1e-6)
SMALL_ENC = dict(vocab_size=97, d_model=64, n_layer=2, n_head=4, d_ff=128, max_seq_len=64, norm_eps=1e-6)


@torch.no_grad()
def jitter(model, scale=0.1):
    "Perturb every parameter: at init norm gains are 1 and biases 0, which would hide a swapped norm or lost bias."
    for p in model.parameters(): p.add_(torch.randn_like(p) * scale)
    return model.eval()


@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_gpt_matches_hf_llama(tie, attn):
    set_seed(0)
    ours = jitter(GPT(GPTConfig(**SMALL_GPT, tie_embeddings=tie)))
    hf = to_hf_llama(ours, attn_implementation=attn)
    assert hf.config.tie_word_embeddings == tie
    assert (hf.lm_head.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr()) == tie
    x = torch.randint(0, 97, (2, 48))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), hf(x).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_encoder_mlm_matches_hf_bert_with_padding(attn):
    set_seed(0)
    cfg = EncoderConfig(**SMALL_ENC)
    ours = jitter(EncoderForMLM(cfg))
    hf = to_hf_bert_mlm(ours, attn_implementation=attn)
    x = torch.randint(1, 97, (3, 40))
    am = torch.ones_like(x); am[1, 25:] = 0; am[2, 5:] = 0
    x = x.masked_fill(am == 0, cfg.pad_token_id)
    tt = torch.zeros_like(x); tt[:, 20:] = 1
    with torch.no_grad():
        ref = hf(input_ids=x, attention_mask=am, token_type_ids=tt).logits
        got = ours(x, am, tt)
    # compare real tokens only: what a padded *query* row outputs is not part of the contract
    keep = am.bool()
    torch.testing.assert_close(got[keep], ref[keep], atol=1e-5, rtol=1e-5)
    # and without a mask (no padding at all)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), hf(input_ids=x).logits, atol=1e-5, rtol=1e-5)


def test_encoder_heads_shapes_and_losses():
    set_seed(0)
    cfg = EncoderConfig(**SMALL_ENC)
    x = torch.randint(1, 97, (2, 12)); am = torch.ones_like(x); am[1, 8:] = 0
    clf = EncoderForSequenceClassification(cfg, num_labels=3)
    tok = EncoderForTokenClassification(cfg, num_labels=5)
    mlm = EncoderForMLM(cfg)
    assert clf(x, am).shape == (2, 3)
    assert tok(x, am).shape == (2, 12, 5)
    assert mlm(x, am).shape == (2, 12, 97)
    assert mlm.head.decoder.weight is mlm.encoder.word_emb.weight
    loss = clf(x, am, labels=torch.tensor([0, 2])); assert loss.ndim == 0 and torch.isfinite(loss)
    tl = torch.where(am.bool(), x % 5, -100)
    loss = tok(x, am, labels=tl); assert loss.ndim == 0 and torch.isfinite(loss)
    ml = torch.full_like(x, -100); ml[:, 2] = x[:, 2]
    loss = mlm(x, am, labels=ml); assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert mlm.encoder.word_emb.weight.grad is not None
    assert mlm.encoder.pooler is None and clf.encoder.pooler is not None


def test_encoder_padding_does_not_leak():
    set_seed(0)
    enc = Encoder(EncoderConfig(**SMALL_ENC)).eval()
    x = torch.randint(1, 97, (1, 16)); am = torch.ones_like(x); am[:, 10:] = 0
    x2 = x.clone(); x2[:, 10:] = 7
    with torch.no_grad():
        torch.testing.assert_close(enc(x, am)[:, :10], enc(x2, am)[:, :10], atol=1e-5, rtol=1e-5)


def test_gpt_is_causal():
    set_seed(0)
    cfg = GPTConfig(**SMALL_GPT)
    gpt = GPT(cfg).eval()
    x = torch.randint(0, 97, (2, 32))
    x2 = x.clone(); x2[:, 20] = (x2[:, 20] + 1) % 97
    with torch.no_grad():
        a, b = gpt(x), gpt(x2)
    torch.testing.assert_close(a[:, :20], b[:, :20], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(a[:, 20:], b[:, 20:])


def test_gpt_loss_at_init_is_ln_vocab():
    set_seed(0)
    cfg = GPTConfig()
    gpt = GPT(cfg)
    x = torch.randint(0, cfg.vocab_size, (4, 64))
    with torch.no_grad():
        loss = gpt(x, targets=x.roll(-1, 1)).item()
    assert abs(loss - math.log(cfg.vocab_size)) < 0.3, loss


def test_gpt_ignore_index_and_generate():
    set_seed(0)
    gpt = GPT(GPTConfig(**SMALL_GPT)).eval()
    x = torch.randint(0, 97, (2, 16)); t = x.roll(-1, 1)
    t_half = t.clone(); t_half[:, 8:] = -100
    with torch.no_grad():
        ref = torch.nn.functional.cross_entropy(gpt(x)[:, :8].flatten(0, 1), t[:, :8].flatten())
        torch.testing.assert_close(gpt(x, t_half), ref, atol=1e-5, rtol=1e-5)
    out = gpt.generate(torch.randint(0, 97, (2, 60)), max_new_tokens=8, top_k=3)  # crosses max_seq_len=64
    assert out.shape == (2, 68)
    with pytest.raises(ConfigError, match="exceeds max_seq_len"):
        gpt(torch.zeros(1, 65, dtype=torch.long))


def test_param_counts():
    tied, untied = GPT(GPTConfig(**SMALL_GPT)), GPT(GPTConfig(**SMALL_GPT, tie_embeddings=False))
    assert tied.num_params() == count_params(tied)
    assert untied.num_params() == tied.num_params() + 97 * 64
    assert tied.num_params(non_embedding=True) == tied.num_params() - 97 * 64
    for p in tied.blocks.parameters(): p.requires_grad_(False)
    assert count_params(tied, trainable_only=True) == 97 * 64 + 64  # embedding + final norm
    assert not any("rope" in k for k in tied.state_dict())


def test_module_names_for_name_based_code():
    names = [n for n, _ in GPT(GPTConfig(**SMALL_GPT)).named_modules()]
    for leaf in ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.o_proj",
                 "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "attn_norm", "mlp_norm"):
        assert f"blocks.0.{leaf}" in names


def test_mask_tokens_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(5, 256, (128, 512)); x[:, 0] = 1; x[:, -16:] = 0
    inputs, labels = mask_tokens(x, mask_token_id=4, vocab_size=256, generator=g, special_ids=(0, 1))
    chosen = labels != -100
    assert torch.equal(labels[chosen], x[chosen])
    assert torch.equal(inputs[~chosen], x[~chosen])
    assert not chosen[:, 0].any() and not chosen[:, -16:].any()
    frac = chosen.float().mean().item() / (1 - 17 / 512)
    r_mask = (inputs[chosen] == 4).float().mean().item()
    r_same = (inputs[chosen] == x[chosen]).float().mean().item()
    assert abs(frac - 0.15) < 0.005, frac
    assert abs(r_mask - 0.8) < 0.01, r_mask
    assert abs(r_same - 0.1) < 0.01, r_same  # 10% kept + the ~0.04% of random draws that hit the same token
    # same generator seed → same masks
    again = mask_tokens(x, 4, 256, generator=torch.Generator().manual_seed(0), special_ids=(0, 1))
    assert torch.equal(again[0], inputs) and torch.equal(again[1], labels)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(d_model=130, n_head=4), "divisible by n_head"),
    (dict(d_model=12, n_head=4), "must be even"),
    (dict(n_layer=0), "n_layer must be a positive number"),
    (dict(vocab_size=-1), "vocab_size must be a positive number"),
])
def test_gpt_config_bad_input(kwargs, msg):
    with pytest.raises(ConfigError, match=msg):
        GPTConfig(**kwargs)


def test_encoder_config_bad_input():
    with pytest.raises(ConfigError, match="divisible by n_head"):
        EncoderConfig(d_model=130, n_head=4)
    with pytest.raises(ConfigError, match="dropout"):
        EncoderConfig(dropout=1.5)
