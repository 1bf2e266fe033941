"The synthetic vision-language world (tinyrepro.world): sampler, renderer, grammar, noise, QA, tokenizer, dataset."
import math, random
from collections import Counter

import numpy as np
import pytest
import torch

from tinyrepro.config import ConfigError
from tinyrepro.world import (
    ALT_KINDS, BACKGROUNDS, CAPTION_STYLES, CELLS, COLORS, DEGRADATIONS, QA_TASKS, RGB, SHAPES, TEMPLATES, Obj, Scene,
    WorldConfig, WorldTokenizer, add_filler, alt_text, augment, canonical_caption, caption, class_names, corrupt_pairs,
    dataset_images, dataset_scenes, degrade, images_to_float, long_caption, mirror_caption, named_attributes,
    object_phrase, parse_caption, qa_pairs, quality_score, random_crop, random_hflip, render, render_batch,
    sample_scenes, scene_label, scene_labels, shape_mask, world_dataset, words_of, swap_scene, to_lang_b, from_lang_b,
    lang_b_table, SWAP_ATTRIBUTES)

BUSY = WorldConfig(max_objects=3, backgrounds=BACKGROUNDS, p_digit=0.5, p_degrade=0.5)


def binomial_ok(count, n, p, z=4.5):
    "`count` successes in `n` trials is within z standard errors of rate p."
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


# ---- config and sampler ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(shapes=("hexagon",)), dict(colors=()), dict(shapes=("circle", "circle")),
                                dict(min_objects=0), dict(max_objects=10), dict(min_objects=3, max_objects=2),
                                dict(p_digit=1.5), dict(p_degrade=-0.1), dict(image_size=4), dict(jitter=9),
                                dict(backgrounds=("space",))])
def test_bad_config_raises(kw):
    with pytest.raises(ConfigError):
        WorldConfig(**kw)


@pytest.mark.parametrize("kw", [dict(shape="hexagon"), dict(color="purple"), dict(size="medium"), dict(cell=9),
                                dict(texture="dotted"), dict(digit=10)])
def test_bad_object_raises(kw):
    with pytest.raises(ConfigError):
        Obj(**{**dict(shape="circle", color="red", size="large", cell=0), **kw})


def test_config_accepts_lists_and_stays_hashable():
    cfg = WorldConfig(shapes=["circle", "bar"])
    assert cfg.shapes == ("circle", "bar") and hash(cfg) == hash(WorldConfig(shapes=("circle", "bar")))


def test_sampler_is_deterministic_and_prefix_stable():
    a, b = sample_scenes(200, 11, BUSY), sample_scenes(200, 11, BUSY)
    assert a == b and sample_scenes(50, 11, BUSY) == a[:50] and sample_scenes(200, 12, BUSY) != a


def test_sampler_respects_config():
    cfg = WorldConfig(min_objects=2, max_objects=3, shapes=("ring", "bar"), colors=("red",), sizes=("large",),
                      textures=("striped",), backgrounds=("noise", "bright"), p_digit=1.0, p_degrade=1.0)
    for s in sample_scenes(200, 0, cfg):
        assert 2 <= len(s.objects) <= 3 and len({o.cell for o in s.objects}) == len(s.objects)
        assert all(o.shape in cfg.shapes and o.color == "red" and o.texture == "striped" and 0 <= o.digit <= 9
                   for o in s.objects)
        assert s.background in cfg.backgrounds and len(s.degradations) == 1
    # every value of every factor appears, roughly uniformly
    scenes = sample_scenes(4000, 1, WorldConfig(max_objects=1))
    for key, values in (("shape", SHAPES), ("color", COLORS)):
        c = Counter(getattr(s.main, key) for s in scenes)
        assert set(c) == set(values) and all(binomial_ok(c[v], 4000, 1 / len(values)) for v in values)


def test_digits_only_on_large_objects_at_the_requested_rate():
    objs = [o for s in sample_scenes(3000, 2, WorldConfig(p_digit=0.3)) for o in s.objects]
    large = [o for o in objs if o.size == "large"]
    assert all(o.digit == -1 for o in objs if o.size == "small")
    assert binomial_ok(sum(o.digit >= 0 for o in large), len(large), 0.3)


def test_scene_json_round_trip():
    for s in sample_scenes(100, 3, BUSY):
        assert Scene.from_json(s.to_json()) == s


# ---- renderer -------------------------------------------------------------------------------------------------------

def test_render_is_deterministic_and_matches_render_batch():
    scenes = sample_scenes(64, 4, BUSY)
    batch = render_batch(scenes)
    assert batch.shape == (64, 3, 32, 32) and batch.dtype == torch.uint8
    assert torch.equal(batch, render_batch(sample_scenes(64, 4, BUSY)))
    assert all(np.array_equal(render(s), batch[i].permute(1, 2, 0).numpy()) for i, s in enumerate(scenes))


def test_objects_are_drawn_in_their_cell_with_their_colour():
    for cell in range(9):
        for color in COLORS:
            img = render(Scene((Obj("square", color, "large", cell),)))
            r, c = divmod(cell, 3)
            cy, cx = int((r + 0.5) * 32 / 3), int((c + 0.5) * 32 / 3)
            assert tuple(img[cy, cx]) == RGB[color]
            mask = img.any(-1)
            ys, xs = np.nonzero(mask)
            assert ys.min() >= r * 32 // 3 - 1 and ys.max() <= (r + 1) * 32 // 3 + 1   # stays in its cell (± rounding)
            assert xs.min() >= c * 32 // 3 - 1 and xs.max() <= (c + 1) * 32 // 3 + 1


def test_shapes_are_distinct_masks_at_every_size():
    for s in (6, 10, 19):
        masks = {sh: shape_mask(sh, s).tobytes() for sh in SHAPES}
        assert len(set(masks.values())) == len(SHAPES)


def test_texture_digit_background_and_degradation_change_pixels():
    base = Scene((Obj("square", "green", "large", 4),), seed=5)
    variants = [Scene((Obj("square", "green", "large", 4, "striped"),), seed=5),
                Scene((Obj("square", "green", "large", 4, digit=8),), seed=5),
                *[Scene(base.objects, bg, seed=5) for bg in BACKGROUNDS[1:]],
                *[Scene(base.objects, degradations=((k, 1),), seed=5) for k in DEGRADATIONS]]
    ref = render(base)
    assert all(not np.array_equal(render(v), ref) for v in variants)


def test_degrade_rejects_bad_input_and_quality_score_drops():
    img = render(sample_scenes(1, 0)[0])
    with pytest.raises(ConfigError): degrade(img, "sepia", 1)
    with pytest.raises(ConfigError): degrade(img, "blur", 4)
    assert quality_score(Scene((), degradations=(("blur", 3),))) < quality_score(Scene((), degradations=(("blur", 1),))) < 5


def test_render_sizes():
    for n in (16, 24, 64):
        cfg = WorldConfig(image_size=n, max_objects=3, p_digit=1.0)
        assert render_batch(sample_scenes(10, 0, cfg), cfg).shape == (10, 3, n, n)


def test_render_speed():
    import time
    scenes = sample_scenes(500, 0)
    render_batch(scenes[:10])
    t0 = time.perf_counter(); render_batch(scenes); dt = (time.perf_counter() - t0) / 500
    assert dt < 2e-3, f"{1e3 * dt:.2f} ms/image (target < 1 ms)"


# ---- grammar and parser -----------------------------------------------------------------------------------------------

def test_canonical_caption_parses_back_to_the_scene():
    for s in sample_scenes(1000, 6, WorldConfig(max_objects=4, p_digit=0.5)):
        assert parse_caption(canonical_caption(s)) == [named_attributes(o) for o in s.objects]


@pytest.mark.parametrize("style", ["template", "synonym"])
def test_template_and_synonym_captions_parse_back(style):
    rng = random.Random(0)
    for s in sample_scenes(500, 7, WorldConfig(max_objects=3, p_digit=0.5)):
        assert parse_caption(caption(s, style, rng)) == [named_attributes(o) for o in s.objects]


def test_synonym_style_uses_no_canonical_colour_or_shape_word():
    rng = random.Random(1)
    for s in sample_scenes(300, 8):
        ws = set(words_of(caption(s, "synonym", rng)))
        assert not ws & (set(COLORS) | set(SHAPES))


def test_template_choice_is_fixed_by_index():
    s = sample_scenes(1, 0)[0]
    assert caption(s, "template", template=1) == TEMPLATES[1].format(canonical_caption(s))


def test_long_caption_contains_each_object_and_relation():
    for s in sample_scenes(200, 9, BUSY):
        text = long_caption(s)
        assert all(object_phrase(o, omit=("digit",)) in text for o in s.objects)
        assert f"on a {s.background} background" in text
        assert text.count(" is left of ") + text.count(" is right of ") + text.count(" is above ") + \
            text.count(" is below ") == len(s.objects) - 1


def test_partial_captions_name_a_strict_subset():
    rng = random.Random(2)
    from tinyrepro.world import partial_caption
    for s in sample_scenes(300, 10, WorldConfig(max_objects=3)):
        parsed, truth = parse_caption(partial_caption(s, rng)), [named_attributes(o) for o in s.objects]
        if len(s.objects) > 1:
            assert 1 <= len(parsed) < len(s.objects) and all(p in truth for p in parsed)
        else:
            assert len(parsed) == 1 and parsed[0].items() <= {**truth[0], "texture": "solid"}.items() | truth[0].items()
            assert parsed[0] != truth[0]


def test_alt_text_kinds_follow_the_probabilities():
    rng = random.Random(3)
    scenes = sample_scenes(3000, 11)
    kinds = Counter(alt_text(s, rng, others=scenes)[1] for s in scenes)
    for k, p in zip(ALT_KINDS, (0.35, 0.30, 0.20, 0.15)):
        assert binomial_ok(kinds[k], 3000, p)
    with pytest.raises(ConfigError): alt_text(scenes[0], rng, probs=(0.5, 0.5))
    # synonym alt texts describe the scene's own objects (in synonyms); wrong ones describe another scene
    for s in scenes[:300]:
        text, kind = alt_text(s, random.Random(s.seed), probs=(0, 0, 1, 0))
        assert [(p["color"], p["shape"]) for p in parse_caption(" and ".join(
            text.split()[2 * i] + " " + text.split()[2 * i + 1] for i in range(len(s.objects))))] == \
            [(o.color, o.shape) for o in s.objects]


def test_unknown_style_raises():
    with pytest.raises(ConfigError): caption(sample_scenes(1, 0)[0], "poem")
    with pytest.raises(ConfigError): world_dataset(2, style="poem")


def test_mirror_caption_matches_a_flipped_render():
    for cell, mirror in ((0, 2), (3, 5), (6, 8), (1, 1), (4, 4)):
        s, m = Scene((Obj("triangle", "red", "large", cell),)), Scene((Obj("triangle", "red", "large", mirror),))
        assert torch.equal(render_batch([s]).flip(-1), render_batch([m]))
        assert mirror_caption(canonical_caption(s)) == canonical_caption(m)


# ---- noise knobs ------------------------------------------------------------------------------------------------------

def test_corrupt_pairs_rates_and_ground_truth():
    scenes = sample_scenes(4000, 12, WorldConfig(max_objects=3))
    caps = [canonical_caption(s) for s in scenes]
    out, flags = corrupt_pairs(caps, scenes, p_mismatch=0.3, p_partial=0.2, seed=0)
    c = Counter(flags)
    assert binomial_ok(c["mismatch"], 4000, 0.3) and binomial_ok(c["partial"], 4000, 0.2)
    for o, cap, s, f in zip(out, caps, scenes, flags):
        if f == "clean": assert o == cap
        if f == "mismatch": assert o in caps and o != cap or o == cap and caps.count(cap) > 1
        if f == "partial":
            parsed = parse_caption(o)
            assert o != cap and parsed != [named_attributes(x) for x in s.objects]
    assert corrupt_pairs(caps, scenes, 0.3, 0.2, seed=0) == (out, flags)
    assert corrupt_pairs(caps, scenes, 0.0, 0.0) == (caps, ["clean"] * 4000)


@pytest.mark.parametrize("args", [(1.2, 0.0), (-0.1, 0.0), (0.6, 0.6)])
def test_corrupt_pairs_bad_rates(args):
    scenes = sample_scenes(4, 0)
    with pytest.raises(ConfigError): corrupt_pairs([canonical_caption(s) for s in scenes], scenes, *args)


def test_irrelevant_and_synonym_knobs():
    scenes = sample_scenes(3000, 24, WorldConfig(max_objects=3))
    caps = [canonical_caption(s) for s in scenes]
    out, flags = corrupt_pairs(caps, scenes, 0.1, 0.1, seed=2, p_irrelevant=0.25)
    assert binomial_ok(flags.count("irrelevant"), 3000, 0.25) and binomial_ok(flags.count("mismatch"), 3000, 0.1)
    assert all(parse_caption(o) == [] for o, f in zip(out, flags) if f == "irrelevant")
    with pytest.raises(ConfigError): corrupt_pairs(caps, scenes, 0.5, 0.3, p_irrelevant=0.3)
    ds = world_dataset(1000, 4, WorldConfig(max_objects=3), style="template", p_synonym=0.4)
    assert binomial_ok(sum(ds["synonym"]), 1000, 0.4)
    for cap, syn, sj in zip(ds["caption"], ds["synonym"], ds["scene"]):
        assert parse_caption(cap) == [named_attributes(o) for o in Scene.from_json(sj).objects]
        assert bool(set(words_of(cap)) & set(COLORS)) != syn
    # the knob leaves everything else alone
    assert world_dataset(200, 4, p_mismatch=0.3)["noise"] == world_dataset(200, 4, p_mismatch=0.3, p_synonym=0.5)["noise"]


def test_add_filler_rate_and_flags():
    caps = [canonical_caption(s) for s in sample_scenes(3000, 13)]
    out, flags = add_filler(caps, 0.25, seed=1)
    assert binomial_ok(sum(flags), 3000, 0.25)
    assert all((o != c) == f and o.endswith(c) for o, c, f in zip(out, caps, flags))
    with pytest.raises(ConfigError): add_filler(caps, 2.0)


# ---- QA -------------------------------------------------------------------------------------------------------------

def test_qa_answers_are_correct():
    rng = random.Random(4)
    for s in sample_scenes(500, 14, WorldConfig(max_objects=3, p_digit=0.5)):
        qas = qa_pairs(s, rng)
        assert {q.task for q in qas} <= set(QA_TASKS) and all(q.level == QA_TASKS[q.task] for q in qas)
        for q in qas:
            ws = words_of(q.question)
            if q.task == "count": assert q.answer == str(len(s.objects))
            if q.task == "color_of":
                assert [o.color for o in s.objects if o.shape == ws[-2]] == [q.answer]
            if q.task == "shape_at":
                pos = " ".join(ws[5:-1])
                assert [o.shape for o in s.objects if o.position == pos] == [q.answer]
            if q.task == "exists":
                c, sh = ws[-3], ws[-2]
                assert q.answer == ("yes" if any((o.color, o.shape) == (c, sh) for o in s.objects) else "no")
            if q.task == "position_of":
                assert [o.position.replace(" ", "_") for o in s.objects if (o.color, o.shape) == (ws[3], ws[4])] == [q.answer]
            if q.task == "count_color": assert q.answer == str(sum(o.color == ws[2] for o in s.objects))
            if q.task == "arithmetic": assert q.answer == str(len(s.objects) + int(ws[-2]))
    with pytest.raises(ConfigError): qa_pairs(sample_scenes(1, 0)[0], 0, tasks=["poetry"])


def test_qa_covers_every_task():
    rng = random.Random(5)
    tasks = Counter(q.task for s in sample_scenes(300, 15, WorldConfig(max_objects=3, p_digit=0.8)) for q in qa_pairs(s, rng))
    assert set(tasks) == set(QA_TASKS)


# ---- tokenizer --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tok():
    return WorldTokenizer()


def test_tokenizer_specials_and_round_trip(tok):
    assert (tok.pad_id, tok.bos_id, tok.unk_id, tok.eot_id) == (0, 1, 2, 3) and tok.vocab_size == len(tok.itos)
    rng = random.Random(6)
    scenes = sample_scenes(300, 16, BUSY)
    texts = [caption(s, st, rng) for s in scenes for st in CAPTION_STYLES]
    ids = tok.encode(texts)
    assert [tok.itos[i] for i in range(4)] == ["<pad>", "<bos>", "<unk>", "<eot>"]
    assert (ids[:, 0] == tok.bos_id).all() and (ids == tok.eot_id).sum(1).eq(1).all()
    assert tok.decode(ids) == [tok.normalize(t) for t in texts]


def test_no_unknown_words_in_any_style_filler_or_qa(tok):
    rng = random.Random(7)
    scenes = sample_scenes(500, 17, BUSY)
    texts = [caption(s, st, rng) for s in scenes for st in CAPTION_STYLES]
    texts += add_filler(texts[:500], 1.0)[0]
    texts += [t for s in scenes for q in qa_pairs(s, rng) for t in (q.question, q.answer)]
    assert tok.unknown_words(texts) == set()
    assert tok.encode("a purple circle")[0, 2].item() == tok.unk_id          # out of vocabulary on purpose
    assert tok.unknown_words(["a purple circle"]) == {"purple"}


def test_tokenizer_truncation_keeps_eot(tok):
    ids = tok.encode(["a red circle at the top left and a blue bar at the bottom"], max_len=6)
    assert ids.shape == (1, 6) and ids[0, -1] == tok.eot_id and tok.eot_index(ids).tolist() == [5]
    with pytest.raises(ConfigError): tok.encode("a", max_len=1)


def test_extra_words(tok):
    assert WorldTokenizer(extra_words=["purple"]).vocab_size == tok.vocab_size + 1


def test_hf_tokenizer_matches(tok):
    pytest.importorskip("transformers")
    hf = tok.to_hf()
    rng = random.Random(8)
    texts = [caption(s, st, rng) for s in sample_scenes(50, 18, BUSY) for st in CAPTION_STYLES] + ["a Purple circle!"]
    got = hf(texts, padding="max_length", truncation=True, max_length=64, return_tensors="pt")["input_ids"]
    assert torch.equal(got, tok.encode(texts, max_len=64))


# ---- labels, dataset, augmentation ----------------------------------------------------------------------------------

def test_class_names_and_labels():
    assert len(class_names("color_shape")) == 64 and class_names("position") == list(CELLS)
    cfg = WorldConfig(shapes=("ring", "bar", "plus"))
    scenes = sample_scenes(100, 19, cfg)
    y = scene_labels(scenes, "shape", cfg)
    assert [class_names("shape", cfg)[i] for i in y] == [s.main.shape for s in scenes]
    assert class_names("count", WorldConfig(max_objects=3)) == ["one", "two", "three"]
    assert scene_label(Scene((Obj("bar", "red", "small", 0), Obj("ring", "red", "small", 1))), "count",
                       WorldConfig(max_objects=3)) == 1
    with pytest.raises(ConfigError): class_names("mood")
    with pytest.raises(ConfigError): scene_label(scenes[0], "shape", WorldConfig(shapes=("circle",)))


def test_world_dataset_columns_determinism_and_noise():
    ds = world_dataset(600, seed=3, cfg=BUSY, style="alt_text", p_mismatch=0.2, p_partial=0.1, p_filler=0.3)
    assert len(ds) == 600 and ds.features["image"].shape == (3, 32, 32)
    ds2 = world_dataset(600, seed=3, cfg=BUSY, style="alt_text", p_mismatch=0.2, p_partial=0.1, p_filler=0.3)
    assert ds["caption"] == ds2["caption"] and torch.equal(dataset_images(ds), dataset_images(ds2))
    scenes = dataset_scenes(ds)
    assert scenes == sample_scenes(600, 3, BUSY) and torch.equal(dataset_images(ds), render_batch(scenes))
    assert ds["canonical"] == [canonical_caption(s) for s in scenes]
    sub = ds.shuffle(seed=0).select(range(0, 300, 7))
    assert torch.equal(dataset_images(sub), render_batch(dataset_scenes(sub)))
    assert torch.equal(dataset_images(sub), torch.as_tensor(np.array(sub.with_format("numpy")["image"])))
    assert ds["shape"] == [s.main.shape for s in scenes] and set(ds["alt_kind"]) == set(ALT_KINDS)
    c = Counter(ds["noise"])
    assert binomial_ok(c["mismatch"], 600, 0.2) and binomial_ok(c["partial"], 600, 0.1)
    assert binomial_ok(sum(ds["filler"]), 600, 0.3)


def test_images_to_float():
    x = images_to_float(render_batch(sample_scenes(4, 0)))
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    assert torch.allclose(images_to_float(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)), torch.ones(1, 3, 2, 2))
    with pytest.raises(ConfigError): images_to_float(torch.zeros(1, 3, 2, 2))


def test_random_crop_is_a_shift_with_replicated_edges():
    imgs = render_batch(sample_scenes(32, 20, BUSY))
    g = torch.Generator().manual_seed(0)
    out = random_crop(imgs, g, pad=2)
    assert out.shape == imgs.shape and out.dtype == imgs.dtype
    assert torch.equal(out, augment(imgs, torch.Generator().manual_seed(0), pad=2))
    # a slow obvious version: pad with edge values, crop at the same offsets
    off = torch.randint(-2, 3, (32, 2), generator=torch.Generator().manual_seed(0))
    p = np.pad(imgs.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="edge")
    ref = np.stack([p[i, :, 2 + dy:2 + dy + 32, 2 + dx:2 + dx + 32] for i, (dy, dx) in enumerate(off.tolist())])
    assert np.array_equal(out.numpy(), ref)
    fl = images_to_float(imgs)
    assert torch.equal(random_crop(fl, torch.Generator().manual_seed(0)), images_to_float(out))


def test_random_hflip():
    imgs = render_batch(sample_scenes(200, 21))
    out, flipped = random_hflip(imgs, torch.Generator().manual_seed(0), p=0.5)
    assert binomial_ok(int(flipped.sum()), 200, 0.5)
    assert torch.equal(out[flipped], imgs[flipped].flip(-1)) and torch.equal(out[~flipped], imgs[~flipped])


# ---- lang-B and swaps -------------------------------------------------------------------------------------------------

def test_lang_b_is_a_bijective_cipher_inside_the_vocabulary(tok):
    table = lang_b_table()
    assert len(set(table.values())) == len(table) and not set(table.values()) & set(table)
    rng = random.Random(9)
    texts = [caption(s, st, rng) for s in sample_scenes(100, 22, BUSY) for st in CAPTION_STYLES]
    for t in texts:
        b = to_lang_b(t)
        assert from_lang_b(b) == tok.normalize(t) and not set(words_of(b)) & (set(COLORS) | set(SHAPES))
    assert tok.unknown_words([to_lang_b(t) for t in texts]) == set()


def test_swap_scene_keeps_the_words_and_changes_the_binding():
    rng = random.Random(10)
    for s in sample_scenes(300, 23, WorldConfig(min_objects=2, max_objects=3)):
        for a in SWAP_ATTRIBUTES:
            w = swap_scene(s, a, rng)
            if w is None:
                assert len({getattr(o, a) for o in s.objects}) == 1
                continue
            assert w != s and sorted(words_of(canonical_caption(w))) == sorted(words_of(canonical_caption(s)))
            assert sorted(getattr(o, a) for o in w.objects) == sorted(getattr(o, a) for o in s.objects)
            assert sum(x != y for x, y in zip(w.objects, s.objects)) == 2
    with pytest.raises(ConfigError): swap_scene(sample_scenes(1, 0)[0], "size")


def test_blur_matches_a_slow_obvious_box_filter():
    img = render(sample_scenes(1, 25, BUSY)[0])
    x = img.astype(np.float64)
    for level in (1, 2, 3):
        y = np.zeros_like(x)
        for i in range(32):
            for j in range(32):   # mean of the 3×3 neighbourhood, indices clamped at the border (edge replication)
                y[i, j] = np.mean([x[min(max(i + a, 0), 31), min(max(j + b, 0), 31)]
                                   for a in (-1, 0, 1) for b in (-1, 0, 1)], axis=0)
        x = y
        assert np.abs(degrade(img, "blur", level).astype(int) - np.clip(np.rint(x), 0, 255).astype(int)).max() <= 1


def test_block_is_constant_on_offset_blocks_and_keeps_the_mean():
    img = render(Scene((Obj("circle", "red", "large", 4), Obj("bar", "cyan", "small", 0)), "noise", seed=3))
    for level in (1, 2, 3):
        f, o = level + 1, (level + 1) // 2
        out = degrade(img, "block", level).astype(int)
        # interior blocks (not touching the padded border) are constant and equal to the mean of the input block
        for by in range(f - o, 32 - f, f):
            for bx in range(f - o, 32 - f, f):
                blk = out[by:by + f, bx:bx + f]
                assert (blk == blk[0, 0]).all()
                assert np.abs(blk[0, 0] - img[by:by + f, bx:bx + f].reshape(-1, 3).mean(0)).max() <= 0.5 + 1e-9
