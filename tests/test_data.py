"Tests of tinyrepro.data: stdlib corpus, splits, defect injectors, tokenizers, packing, schema errors (all offline)."
import os

os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import random, re, string

import pandas as pd
import pytest
import torch

from tinyrepro.config import ConfigError, TinyreproError
import tinyrepro.data as D

# ---------------------------------------------------------------------------------------------- stdlib corpus


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    "A private TINYREPRO_CACHE for this module, so the cold build and the cache are really exercised."
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("trcache")
        mp.setenv("TINYREPRO_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def corpus(cache_root):
    return D.stdlib_corpus()  # cold build, written to cache_root


def test_corpus_is_cached_and_deterministic(corpus, cache_root):
    assert list((cache_root / "corpora").glob("stdlib-*"))  # the build was saved
    cached = D.stdlib_corpus()  # served by the cache
    fresh = D.stdlib_corpus(cache=False)  # a second, independent build
    m = D.corpus_manifest(corpus)
    assert D.corpus_manifest(cached)["sha256"] == m["sha256"] == D.corpus_manifest(fresh)["sha256"]
    assert m["python"] == os.sys.version.split()[0] and m["n_docs"] == len(corpus)
    assert set(m["domains"]) == set(D.DOMAINS)
    assert sum(d["docs"] for d in m["domains"].values()) == len(corpus)


def test_corpus_schema_ids_and_order(corpus):
    assert corpus.column_names == list(D.CORPUS_COLUMNS)
    ids = corpus["doc_id"][:]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    row = corpus[ids.index("code:json/decoder.py")]
    assert (row["domain"], row["family"], row["source"]) == ("code", "json", "json/decoder.py")
    assert "class JSONDecoder" in row["text"]
    assert "docstring:json/decoder.py:JSONDecoder.decode" in ids
    assert "reference:if" in ids


def test_code_domain_has_no_pydoc_data_tests_or_site_packages(corpus):
    df = corpus.to_pandas()
    code = df[df.domain == "code"]
    assert len(code) > 300
    assert not code.source.str.startswith(("pydoc_data/", "site-packages/", "test/")).any()
    assert not code.source.str.contains(r"(?:^|/)(?:tests?|idle_test)/").any()
    assert not code.source.str.contains(r"(?:^|/)test_[^/]*\.py$|_test\.py$").any()
    assert not code.source.str.contains("_sysconfigdata").any()
    assert (code.text.str.strip() != "").all()
    # the reference prose is only in the reference domain, as prose
    assert df[df.domain == "reference"].source.str.startswith("pydoc_data.topics:").all()


def test_docstrings_are_long_and_reference_deduplicated(corpus):
    df = corpus.to_pandas()
    assert (df[df.domain == "docstring"].text.str.len() > D.MIN_DOCSTRING_CHARS).all()
    ref = df[df.domain == "reference"].set_index("family").text.str.strip()
    assert "if" in ref.index and "else" not in ref.index  # "else" is a copy of "if"
    for k, v in ref.items():
        assert not any(k2 != k and v in v2 for k2, v2 in ref.items()), k


def test_max_docs_per_kind_and_kinds(corpus):
    small = D.stdlib_corpus(max_docs_per_kind=15)
    assert pd.Series(small["domain"][:]).value_counts().to_dict() == {d: 15 for d in D.DOMAINS}
    assert set(small["doc_id"][:]) <= set(corpus["doc_id"][:])
    assert D.stdlib_corpus(max_docs_per_kind=15)["doc_id"][:] == small["doc_id"][:]
    assert set(D.stdlib_corpus(kinds=("reference",))["domain"][:]) == {"reference"}
    with pytest.raises(ConfigError, match="valid kinds: code, docstring, reference"):
        D.stdlib_corpus(kinds=("code", "prose"))


# ---------------------------------------------------------------------------------------------- chunks and splits


def test_chunk_text_and_corpus(corpus):
    assert D.chunk_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert D.chunk_text("abcdefghij", 4, 2) == ["abcd", "cdef", "efgh", "ghij"]
    with pytest.raises(ConfigError):
        D.chunk_text("abc", 0)
    small = D.stdlib_corpus(max_docs_per_kind=10)
    ch = D.chunk_corpus(small, chunk_chars=300, min_chars=1)
    assert ch.column_names == [*D.CORPUS_COLUMNS, "chunk_id"]
    df = ch.to_pandas()
    assert len(set(df.chunk_id)) == len(df)
    # with min_chars=1 nothing is dropped: each document is the concatenation of its chunks
    for row in small:
        assert "".join(df[df.doc_id == row["doc_id"]].text) == row["text"]
        assert (df[df.doc_id == row["doc_id"]].family == row["family"]).all()


def test_split_is_group_disjoint_stable_and_seeded(corpus):
    sp = D.split_by_key(corpus, "family", test_fraction=0.1, seed=0)
    tr, te = set(sp["train"]["family"][:]), set(sp["test"]["family"][:])
    assert tr and te and not (tr & te)
    assert len(sp["train"]) + len(sp["test"]) == len(corpus)
    assert 0.03 < len(te) / len(tr | te) < 0.2
    # stable: a sub-corpus (or a grown corpus) puts each family on the same side
    sub = D.split_by_key(D.stdlib_corpus(max_docs_per_kind=40), "family", 0.1, seed=0)
    assert set(sub["test"]["family"][:]) <= te and set(sub["train"]["family"][:]) <= tr
    # order-independent and deterministic; another seed gives another split
    shuffled = corpus.shuffle(seed=3)
    assert set(D.split_by_key(shuffled, "family", 0.1, seed=0)["test"]["family"][:]) == te
    assert set(D.split_by_key(corpus, "family", 0.1, seed=1)["test"]["family"][:]) != te
    # a tiny corpus still gets a non-empty test side
    tiny = D.split_by_key([{"text": "a", "g": "x"}, {"text": "b", "g": "y"}], "g", 0.01)
    assert len(tiny["test"]) == 1 and len(tiny["train"]) == 1
    with pytest.raises(TinyreproError, match="missing required column"):
        D.split_by_key(corpus, key="module")


# ---------------------------------------------------------------------------------------------- defect injectors

def _word_edit_distance(a: list, b: list) -> int:
    "Levenshtein distance between two word lists (insert / delete / substitute one word = 1)."
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


TEXT = ("The quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs!\n"
        "def f(x):\n    return x * 2  # 3.14\n") * 20


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.2, 1.0])
def test_char_noise_changes_rate_of_chars(rate):
    out = D.char_noise(TEXT, rate, random.Random(1))
    assert len(out) == len(TEXT)
    assert sum(a != b for a, b in zip(out, TEXT)) == round(rate * len(TEXT))
    assert D.char_noise(TEXT, rate, 1) == D.char_noise(TEXT, rate, 1)  # seed in, same text out
    with pytest.raises(ConfigError):
        D.char_noise(TEXT, 1.5, 0)


@pytest.mark.parametrize("seed", [0, 1, 2, 12345])
def test_cipher_round_trips_and_is_a_derangement(seed):
    s = TEXT + string.printable + "ünïcödé 東京"
    enc = D.cipher(s, seed)
    assert D.decipher(enc, seed) == s
    assert enc != s and len(enc) == len(s)
    assert all(a != b for a, b in zip(D.cipher(string.ascii_letters, seed), string.ascii_letters))
    assert re.sub("[A-Za-z]", "", enc) == re.sub("[A-Za-z]", "", s)  # non-letters untouched
    assert [c.isupper() for c in enc] == [c.isupper() for c in s]  # case kept
    assert D.cipher(s, seed) == enc  # deterministic per seed
    assert D.cipher(s, seed + 1) != enc


def test_other_injectors_ground_truth():
    rep = D.repeat_lines("a\nb\n\nc", 3, 0)
    lines = rep.split("\n")
    assert len(lines) == 7 and max(lines.count(x) for x in "abc") == 4
    junk = D.markup_junk(TEXT, 0)
    assert "<nav" in junk and "https://" in junk and "</html>" in junk
    assert all(l in re.sub(r"<[^>]+>", "", junk) for l in TEXT.split("\n"))
    for seed in range(5):
        cut = D.truncate(TEXT, 0.25, seed)
        assert cut in TEXT and len(cut) == round(0.25 * len(TEXT))
    nd = D.near_duplicate(TEXT, 0, edit_rate=0.05)
    k = round(0.05 * len(TEXT.split()))  # words deleted, doubled or mistyped: one word edit each
    assert nd != TEXT and 1 <= _word_edit_distance(nd.split(), TEXT.split()) <= k
    noise = D.random_noise_text(500, 0)
    assert len(noise) == 500 and noise == D.random_noise_text(500, 0) and noise != D.random_noise_text(500, 1)


@pytest.fixture(scope="module")
def chunks(corpus):
    return D.chunk_corpus(D.stdlib_corpus(max_docs_per_kind=30), chunk_chars=400)


def test_inject_defects_labels_fractions_and_duplicates(chunks):
    fr = {"char_noise": 0.1, "repeat_lines": 0.05, "markup_junk": 0.05, "truncate": 0.05, "cipher": 0.1,
          "random_noise": 0.05, "near_duplicate": 0.1}
    pool = D.inject_defects(chunks, fr, seed=0)
    n = len(chunks)
    counts = pd.Series(pool["defect"][:]).value_counts().to_dict()
    assert {k: counts[k] for k in fr} == {k: round(f * n) for k, f in fr.items()}
    assert counts["clean"] == n - sum(round(f * n) for k, f in fr.items() if k != "near_duplicate")
    assert len(pool) == n + round(0.1 * n)
    df, orig = pool.to_pandas(), chunks.to_pandas().set_index("chunk_id")
    # every labelled row really carries its defect, every clean row is untouched
    for _, r in df[df.defect == "clean"].iterrows():
        assert r.text == orig.text[r.chunk_id] and r.dup_of == ""
    for _, r in df[df.defect == "cipher"].iterrows():
        assert D.decipher(r.text) == orig.text[r.chunk_id]
    for _, r in df[df.defect == "char_noise"].iterrows():
        assert sum(a != b for a, b in zip(r.text, orig.text[r.chunk_id])) == round(0.1 * len(r.text))
    for _, r in df[df.defect == "truncate"].iterrows():
        assert r.text in orig.text[r.chunk_id]
    dups = df[df.defect == "near_duplicate"]
    clean_ids = set(df[df.defect == "clean"].chunk_id)
    assert dups.dup_of.isin(clean_ids).all() and (dups.chunk_id == dups.dup_of + "~dup").all()
    assert (df[df.defect != "near_duplicate"].dup_of == "").all()
    assert dups.index.max() < len(df) - 1 or dups.index.min() < n  # duplicates are interleaved, not all at the end
    # deterministic, and the seed matters
    assert D.inject_defects(chunks, fr, seed=0)["text"][:] == pool["text"][:]
    assert D.inject_defects(chunks, fr, seed=1)["defect"][:] != pool["defect"][:]


def test_inject_defects_bad_arguments(chunks):
    with pytest.raises(ConfigError, match="unknown defect.*'typos'.*valid defects: char_noise, cipher, markup_junk"):
        D.inject_defects(chunks, {"typos": 0.1})
    with pytest.raises(ConfigError, match="sum to"):
        D.inject_defects(chunks, {"cipher": 0.6, "truncate": 0.6})
    with pytest.raises(ConfigError, match="its parameters: rate"):
        D.inject_defects(chunks, {"char_noise": 0.1}, params={"char_noise": {"p": 0.3}})
    pool = D.inject_defects(chunks, {"char_noise": 0.1}, params={"char_noise": {"rate": 0.5}})
    r = next(r for r in pool if r["defect"] == "char_noise")
    o = next(o for o in chunks if o["chunk_id"] == r["chunk_id"])
    assert sum(a != b for a, b in zip(r["text"], o["text"])) == round(0.5 * len(o["text"]))
    with pytest.raises(TinyreproError, match="already has a 'defect'"):
        D.inject_defects(pool, {"cipher": 0.1})


# ---------------------------------------------------------------------------------------------- tokenizers


def test_byte_tokenizer_round_trip():
    tok = D.ByteTokenizer()
    assert (tok.eos_id, tok.pad_id, tok.vocab_size, len(tok)) == (256, 257, 258, 258)
    for s in ["", "hello", "naïve café", "東京 🐍 ∑", TEXT]:
        ids = tok.encode(s)
        assert all(0 <= i < 256 for i in ids) and tok.decode(ids) == s
    assert tok.encode("a", add_eos=True) == [97, 256]
    assert tok(["ab", "é"])["input_ids"] == [[97, 98], [195, 169]]
    assert tok("ab")["input_ids"] == [97, 98]
    assert tok.decode(torch.tensor([104, 105, 256, 257])) == "hi"
    assert tok.decode(tok.encode("é")[:1]) == "\ufffd"


def test_bpe_tokenizer_trains_then_loads_from_cache(corpus, monkeypatch, tmp_path):
    monkeypatch.setenv("TINYREPRO_CACHE", str(tmp_path))
    texts = D.stdlib_corpus(kinds=("docstring", "reference"), max_docs_per_kind=300)["text"][:]
    tok = D.train_bpe_tokenizer(texts, vocab_size=600, name="t")
    path = D.bpe_cache_path(texts, 600, "t")
    assert (path / "tokenizer.json").exists() and path.parent == tmp_path / "tokenizers"
    assert len(tok) == 600 and (tok.eos_token, tok.pad_token) == D.BPE_SPECIAL_TOKENS
    s = "naïve café → 東京 🐍\n    return x"
    assert tok.decode(tok.encode(s)) == s

    def no_training(*a, **k):
        raise AssertionError("trained again instead of loading the cache")

    monkeypatch.setattr(D, "_train_bpe", no_training)
    tok2 = D.train_bpe_tokenizer(texts, vocab_size=600, name="t")
    assert tok2.encode(TEXT) == tok.encode(TEXT) and tok2.pad_token_id == tok.pad_token_id
    with pytest.raises(AssertionError, match="trained again"):  # other texts -> another cache entry -> training
        D.train_bpe_tokenizer(texts[:-1], vocab_size=600, name="t")
    assert D.bytes_per_token(texts[:50], tok) > 1.5
    assert D.bytes_per_token(texts[:50], D.ByteTokenizer()) == 1.0


# ---------------------------------------------------------------------------------------------- packing


def test_pack_tokens_shapes_and_eos():
    rng = random.Random(0)
    docs = [[rng.randrange(1, 50) for _ in range(rng.randrange(0, 30))] for _ in range(40)]
    total = sum(map(len, docs)) + len(docs)
    x = D.pack_tokens(docs, block_len=16, eos_id=0)
    assert x.dtype == torch.long and x.shape == (total // 16, 16)
    flat = x.flatten().tolist()
    stream = [t for d in docs for t in [*d, 0]]
    assert flat == stream[:len(flat)]
    y = D.pack_tokens(docs, block_len=16, eos_id=0, drop_last=False, pad_id=99)
    assert y.shape == (-(-total // 16), 16)
    yf = y.flatten().tolist()
    assert yf[:total] == stream and set(yf[total:]) <= {99}
    # documents split back exactly at the eos tokens
    back, cur = [], []
    for t in yf[:total]:
        if t == 0: back.append(cur); cur = []
        else: cur.append(t)
    assert back == docs
    assert D.pack_tokens([], 8, 0).shape == (0, 8)
    assert D.pack_tokens([torch.tensor([1, 2, 3])], 2, 0).tolist() == [[1, 2], [3, 0]]


def test_encode_chunks_truncates_and_pads():
    tok = D.ByteTokenizer()
    x = D.encode_chunks(["ab", "", "abcdef"], tok, block_len=4)
    assert x.tolist() == [[97, 98, 257, 257], [257] * 4, [97, 98, 99, 100]]
    assert D.encode_chunks(["ab"], tok, 3, pad_id=-1).tolist() == [[97, 98, -1]]


# ---------------------------------------------------------------------------------------------- schema and hub


def test_schema_errors_name_missing_and_found_columns():
    with pytest.raises(TinyreproError) as e:
        D.chunk_corpus([{"content": "x", "id": 1}], 10)
    msg = str(e.value)
    assert "missing required column(s) 'text'" in msg and "found columns: 'content', 'id'" in msg
    assert "rename_column('content', 'text')" in msg
    assert len(D.check_text_dataset(pd.DataFrame({"text": ["a", "b"], "y": [1, 2]}))) == 2
    assert D.check_text_dataset({"text": ["a"]}).column_names == ["text"]
    with pytest.raises(TinyreproError, match="must hold strings"):
        D.check_text_dataset([{"text": 1}])
    with pytest.raises(TinyreproError, match="got int"):
        D.check_text_dataset(3)
    with pytest.raises(TinyreproError, match="streaming"):
        D.check_text_dataset(D.Dataset.from_list([{"text": "a"}]).to_iterable_dataset())
    with pytest.raises(TinyreproError, match="splits"):
        D.check_text_dataset(D.split_by_key([{"text": "a", "family": "x"}, {"text": "b", "family": "y"}]))


def test_hub_loader_refuses_offline():
    with pytest.raises(TinyreproError, match="needs network access"):
        D.load_hub_corpus("roneneldan/TinyStories")


def test_corpus_matches_the_committed_manifest():
    "On the Python the committed results were made with, the stdlib corpus is byte-identical to the recorded one."
    import json, sys
    from pathlib import Path
    recorded = json.loads((Path(__file__).resolve().parent.parent / "data" / "stdlib-corpus-manifest.json").read_text())
    if recorded["python"] != sys.version.split()[0]:
        pytest.skip(f"corpus recorded on Python {recorded['python']}, this is {sys.version.split()[0]}")
    m = D.corpus_manifest(D.stdlib_corpus())
    assert m["domains"] == recorded["domains"] and m["sha256"] == recorded["sha256"]
