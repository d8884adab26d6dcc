"""Tests for rag/dedupe.py: exact keys, MinHash signatures, the Deduper's decisions and state, parallel batches."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from rag.dedupe import (
    Deduper,
    MinHasher,
    band_keys,
    band_keys_many,
    exact_key,
    optimal_lsh_params,
    shingle_hashes,
)

VOCAB = [f"w{i}" for i in range(20_000)]


def make_doc(rng: random.Random, n_words: int = 3000) -> str:
    words = [rng.choice(VOCAB) for _ in range(n_words)]
    for i in range(12, n_words, 17):
        words[i] += "."
    return " ".join(words)


def edit_words(text: str, rng: random.Random, n_changes: int) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), n_changes):
        words[i] = f"changed{rng.randrange(10**9)}"
    return " ".join(words)


def shingles(text: str, k: int = 5) -> set[str]:
    words = text.lower().split()
    if len(words) < k:
        return {" ".join(words)}
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def true_jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    rng = random.Random(1)
    return [make_doc(rng) for _ in range(40)]


# -- exact keys -----------------------------------------------------------------------------------------------------


def fnv_word_hash(word: str) -> int:
    """The word hash of rag.textscan, written out in Python: FNV-1a over the lowercased code points (the first
    one where lowercasing gives two), then splitmix64."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for c in word:
        h = ((h ^ ord(c.lower()[0])) * 0x100000001B3) & mask
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & mask
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & mask
    return h ^ (h >> 31)


def units(text: str) -> list[str]:
    """Words as rag.textscan hashes them: ``str.split`` words, each character of a script written without spaces
    (Han, kana, Thai...) cut out as a word of its own, in text order."""
    from indexers.analyzers.scripts import spaceless_table

    table = spaceless_table()
    out: list[str] = []
    for w in text.split():
        current = ""
        for c in w:
            if table[ord(c)]:
                if current:
                    out.append(current)
                current = ""
                out.append(c)
            else:
                current += c
        if current:
            out.append(current)
    return out


def key_by_definition(text: str) -> bytes:
    hashes = np.array([fnv_word_hash(w) for w in units(text)], dtype="<u8")
    return hashlib.blake2b(hashes.tobytes(), digest_size=16).digest()


def test_exact_key_ignores_case_and_whitespace() -> None:
    assert exact_key("Hello  World\n\tAgain ") == exact_key("hello world again")
    assert exact_key("hello world") != exact_key("hello worlds")
    assert exact_key("ab c") != exact_key("a bc")
    assert len(exact_key("")) == 16
    text = "Ünïcode\u00a0Text\u3000with\u2028odd spaces \U0001f600 \u4e2d\u6587"
    assert exact_key(text) == key_by_definition(text)


def test_word_hashes_match_the_python_definition() -> None:
    from rag.dedupe import _analyse

    rng = np.random.default_rng(4)
    alphabet = list("aZé中1#.-ÉΣ。กัア") + ["\U0001f600", "\u0662", "\u0130", "\u24b6", "\ud800", " ", "\n", "\t",
                                       "\u00a0", "\u3000", "\u2029", "\x1c"]
    for _ in range(100):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 60))))
        want = [fnv_word_hash(w) for w in units(text)]
        assert _analyse(text)[1].tolist() == want


def test_exact_key_of_huge_text_matches_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.dedupe as dedupe

    text = " ".join(f"Word{i}\n" for i in range(5000))
    expected = key_by_definition(text)
    monkeypatch.setattr(dedupe, "_CHUNK_CHARS", 777)  # force many chunks
    assert exact_key(text) == expected
    monkeypatch.undo()
    assert exact_key(text) == expected


def test_exact_key_survives_lone_surrogates() -> None:
    assert exact_key("a \udc80 b") != exact_key("a b")


# -- signatures -----------------------------------------------------------------------------------------------------


def test_signature_shape_dtype_and_determinism(corpus: list[str]) -> None:
    hasher = MinHasher()
    sig = hasher.signature(corpus[0])
    assert sig.shape == (128,) and sig.dtype == np.uint32
    assert np.array_equal(sig, MinHasher().signature(corpus[0]))
    batch = hasher.signatures(corpus[:5])
    assert batch.shape == (5, 128) and batch.dtype == np.uint32
    for row, text in zip(batch, corpus[:5]):
        assert np.array_equal(row, hasher.signature(text))
    assert hasher.signatures([]).shape == (0, 128)
    assert not np.array_equal(sig, MinHasher(seed=7).signature(corpus[0]))
    assert MinHasher(num_perm=64).signature(corpus[0]).shape == (64,)


def test_signature_is_the_same_in_a_fresh_process(corpus: list[str]) -> None:
    # Signatures are stored by the index: they must not depend on the process (no salted hash()).
    code = (
        "import sys; from rag.dedupe import MinHasher; "
        "sys.stdout.write(MinHasher().signature(sys.stdin.read()).tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], input=corpus[0], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out == MinHasher().signature(corpus[0]).tobytes().hex()


def test_short_and_empty_texts() -> None:
    hasher = MinHasher()
    empty = hasher.signature("")
    assert np.all(empty == 0xFFFFFFFF)  # the empty set
    short = hasher.signature("only three words")
    assert not np.array_equal(short, empty)
    assert np.array_equal(short, hasher.signature("Only  THREE words"))
    assert not np.array_equal(short, hasher.signature("only three"))
    assert shingle_hashes(np.array([1, 2, 3], dtype=np.uint64), 5).shape == (1,)


def test_shingles_depend_on_word_order() -> None:
    hasher = MinHasher(shingle_size=2)
    assert not np.array_equal(hasher.signature("a b c d"), hasher.signature("b a d c"))


def test_estimated_jaccard_tracks_true_jaccard(corpus: list[str]) -> None:
    rng = random.Random(5)
    hasher = MinHasher()
    errors = []
    for base, n_changes in zip(corpus[:12], [5, 20, 50, 100, 200, 400] * 2):
        other = edit_words(base, rng, n_changes)
        estimate = float((hasher.signature(base) == hasher.signature(other)).mean())
        errors.append(abs(estimate - true_jaccard(base, other)))
    # 128 permutations: standard error sqrt(J(1-J)/128) <= 0.045
    assert max(errors) < 0.15 and float(np.mean(errors)) < 0.05


def test_describe_names_what_signatures_depend_on() -> None:
    info = MinHasher().describe()
    assert {"num_perm", "shingle_size", "seed", "hash_version", "rensa_algorithm", "probe"} <= set(info)
    assert info == MinHasher().describe()
    assert info["probe"] != MinHasher(seed=1).describe()["probe"]


def test_minhasher_validates() -> None:
    with pytest.raises(ValueError, match="num_perm"):
        MinHasher(num_perm=0)
    with pytest.raises(ValueError, match="shingle_size"):
        MinHasher(shingle_size=0)


# -- LSH parameters -------------------------------------------------------------------------------------------------


def test_lsh_params_match_datasketch() -> None:
    lsh = pytest.importorskip("datasketch.lsh", reason="datasketch is the reference for the LSH parameters")
    for threshold, num_perm in [(0.8, 128), (0.5, 128), (0.9, 64), (0.7, 256)]:
        assert optimal_lsh_params(threshold, num_perm) == lsh._optimal_param(threshold, num_perm, 0.5, 0.5)
    assert optimal_lsh_params(0.8, 128) == (9, 13)


def test_band_keys_equal_for_equal_bands() -> None:
    rng = np.random.default_rng(0)
    sigs = rng.integers(0, 2**32, size=(3, 128), dtype=np.uint32)
    sigs[1, :13] = sigs[0, :13]  # same first band only
    keys = [band_keys(row, 9, 13) for row in sigs]
    assert all(len(k) == 9 for k in keys)
    assert keys[0][0] == keys[1][0]
    assert all(a != b for a, b in zip(keys[0][1:], keys[1][1:])) and all(a != b for a, b in zip(keys[0], keys[2]))
    columns = band_keys_many(sigs, 9, 13)
    assert [list(row) for row in zip(*columns)] == keys  # the bulk keys equal the one-by-one keys
    assert band_keys_many(sigs.astype(np.int64), 9, 13) == columns


# -- Deduper decisions ----------------------------------------------------------------------------------------------


def test_exact_duplicates_differing_in_case_and_spacing(corpus: list[str]) -> None:
    dd = Deduper()
    res = dd.check(corpus[0])
    assert res.kind is None and res.duplicate_of is None and res.similarity is None
    dd.add("a", res.exact_key, res.signature)
    variant = "  " + corpus[0].upper().replace(" ", " \n\t ") + "\n"
    hit = dd.check(variant)
    assert (hit.kind, hit.duplicate_of, hit.similarity) == ("exact", "a", 1.0)


def test_planted_near_duplicate_found_and_unrelated_not_flagged(corpus: list[str]) -> None:
    rng = random.Random(9)
    dd = Deduper()
    for i, text in enumerate(corpus):
        res = dd.check(text)
        assert res.kind is None, f"unrelated document {i} flagged as {res.kind} of {res.duplicate_of}"
        dd.add(f"doc{i}", res.exact_key, res.signature)
    assert len(dd) == len(corpus)
    near = edit_words(corpus[17], rng, 6)  # 6 words of 3,000 changed: Jaccard about 0.98
    res = dd.check(near)
    assert res.kind == "near" and res.duplicate_of == "doc17"
    assert res.similarity is not None and res.similarity > 0.9
    far = edit_words(corpus[17], rng, 600)  # Jaccard about 0.5
    assert dd.check(far).kind is None
    assert len(dd) == len(corpus)  # check never adds


def test_most_similar_document_is_reported(corpus: list[str]) -> None:
    rng = random.Random(4)
    base = corpus[0]
    closer = edit_words(base, rng, 5)
    further = edit_words(base, rng, 40)
    dd = Deduper(threshold=0.5)
    for doc_id, text in [("further", further), ("closer", closer)]:
        res = dd.check(text)
        dd.add(doc_id, res.exact_key, res.signature)
    res = dd.check(base)
    assert res.kind == "near" and res.duplicate_of == "closer"


def test_cross_batch_remove_and_replace(corpus: list[str]) -> None:
    rng = random.Random(2)
    dd = Deduper()
    first_batch = [dd.check(t) for t in corpus[:10]]
    for i, res in enumerate(first_batch):
        dd.add(f"b1-{i}", res.exact_key, res.signature)
    # a later batch
    later = dd.check(edit_words(corpus[3], rng, 4))
    assert later.kind == "near" and later.duplicate_of == "b1-3"
    # within a batch: the caller adds what it keeps, and the next check sees it
    fresh = dd.check(corpus[20])
    dd.add("b2-0", fresh.exact_key, fresh.signature)
    assert dd.check(corpus[20]).duplicate_of == "b2-0"
    # remove
    assert dd.remove("b1-3") is True
    assert dd.remove("b1-3") is False
    assert dd.check(corpus[3]).kind is None
    assert dd.check(edit_words(corpus[3], rng, 4)).kind is None
    assert len(dd) == 10
    # re-adding an id replaces its content
    other = dd.check(corpus[30])
    dd.add("b2-0", other.exact_key, other.signature)
    assert len(dd) == 10
    assert dd.check(corpus[20]).kind is None and dd.check(corpus[30]).duplicate_of == "b2-0"


def test_exact_key_shared_by_two_kept_documents(corpus: list[str]) -> None:
    # The caller may keep exact duplicates (exact dedupe turned off); removing one keeps the other findable.
    dd = Deduper()
    res = dd.check(corpus[0])
    dd.add("x", res.exact_key, res.signature)
    dd.add("y", res.exact_key, res.signature)
    assert dd.check(corpus[0]).duplicate_of == "x"
    dd.remove("x")
    assert dd.check(corpus[0]).duplicate_of == "y"


def test_add_many_equals_incremental(corpus: list[str]) -> None:
    rng = random.Random(8)
    hasher = MinHasher()
    texts = corpus[:30] + [edit_words(corpus[0], rng, 400)]  # a kept document sharing some bands with doc0
    ids = [f"d{i}" for i in range(len(texts))]
    keys = [exact_key(t) for t in texts]
    sigs = hasher.signatures(texts)
    incremental = Deduper()
    for doc_id, key, sig in zip(ids, keys, sigs):
        incremental.add(doc_id, key, sig)
    bulk = Deduper()
    bulk.add_many(ids, keys, sigs)
    assert len(bulk) == len(incremental) == len(texts)
    queries = corpus[:35] + [edit_words(t, rng, 8) for t in corpus[:30:3]] + [edit_words(corpus[0], rng, 200)]
    for q in queries:
        a, b = incremental.check(q), bulk.check(q)
        assert (a.kind, a.duplicate_of, a.similarity) == (b.kind, b.duplicate_of, b.similarity)
    # both keep working after removals and re-adds
    for dd in (incremental, bulk):
        dd.remove("d0")
        dd.add("again", keys[0], sigs[0])
    for q in queries:
        a, b = incremental.check(q), bulk.check(q)
        assert (a.kind, a.duplicate_of, a.similarity) == (b.kind, b.duplicate_of, b.similarity)


def test_add_many_in_two_calls_and_with_repeated_ids(corpus: list[str]) -> None:
    hasher = MinHasher()
    sigs = hasher.signatures(corpus[:6])
    keys = [exact_key(t) for t in corpus[:6]]
    dd = Deduper()
    dd.add_many(["a", "b", "c"], keys[:3], sigs[:3])
    dd.add_many(["d", "a", "e"], keys[3:6], sigs[3:6])  # "a" replaced by corpus[4]
    assert len(dd) == 5
    assert dd.check(corpus[0]).kind is None
    assert dd.check(corpus[4]).duplicate_of == "a"


def test_deduper_validates_input(corpus: list[str]) -> None:
    dd = Deduper()
    res = dd.check(corpus[0])
    with pytest.raises(ValueError, match="shape"):
        dd.add("a", res.exact_key, res.signature[:64])
    with pytest.raises(ValueError, match="one exact key and one signature row per id"):
        dd.add_many(["a", "b"], [res.exact_key], res.signature[None, :])
    with pytest.raises(ValueError, match="16 bytes"):
        dd.add("a", b"short", res.signature)
    with pytest.raises(ValueError, match="uint32"):
        dd.add("a", res.exact_key, res.signature.astype(np.float32))
    with pytest.raises(ValueError, match="threshold"):
        Deduper(threshold=0)
    assert len(dd) == 0


def test_agreement_with_datasketch_on_planted_pairs(corpus: list[str]) -> None:
    datasketch = pytest.importorskip("datasketch", reason="datasketch is the reference MinHash LSH")
    rng = random.Random(12)

    def ds_minhash(text: str):  # noqa: ANN202
        m = datasketch.MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode() for s in shingles(text)])
        return m

    ours = Deduper()
    theirs = datasketch.MinHashLSH(threshold=0.8, num_perm=128)
    kept = {}
    for i, text in enumerate(corpus[:25]):
        res = ours.check(text)
        ours.add(f"d{i}", res.exact_key, res.signature)
        kept[f"d{i}"] = ds_minhash(text)
        theirs.insert(f"d{i}", kept[f"d{i}"])
    agree = total = 0
    for i in range(25):
        for n_changes, expected in [(3, True), (15, True), (900, False)]:
            query = edit_words(corpus[i], rng, n_changes)
            m = ds_minhash(query)
            ds_dup = any(m.jaccard(kept[c]) >= 0.8 for c in theirs.query(m))
            our_dup = ours.check(query).kind == "near"
            assert ds_dup == expected and our_dup == expected, (i, n_changes, true_jaccard(corpus[i], query))
            agree += ds_dup == our_dup
            total += 1
    assert agree == total == 75


# -- batches --------------------------------------------------------------------------------------------------------


def test_batch_signatures_equal_one_at_a_time(corpus: list[str]) -> None:
    texts = [t.replace(" w1", "  W1") for t in corpus[:20]] + ["", "tiny doc"]
    hasher = MinHasher()
    sigs = hasher.signatures(texts)
    assert sigs.shape == (22, 128) and hasher.signatures([]).shape == (0, 128)
    assert all(np.array_equal(sigs[i], hasher.signature(t)) for i, t in enumerate(texts))


def test_match_on_fingerprints_equals_check(corpus: list[str]) -> None:
    rng = random.Random(6)
    texts = corpus[:10] + [edit_words(corpus[2], rng, 5), corpus[4].upper()]
    a, b = Deduper(), Deduper()
    keys, sigs = [exact_key(t) for t in texts], b.hasher.signatures(texts)
    for i, (text, key, sig) in enumerate(zip(texts, keys, sigs)):
        ra, rb = a.check(text), b.match(key, sig)
        assert (ra.kind, ra.duplicate_of, ra.similarity) == (rb.kind, rb.duplicate_of, rb.similarity)
        if ra.kind is None:
            a.add(str(i), ra.exact_key, ra.signature)
            b.add(str(i), key, sig)
    assert len(a) == len(b) == 10


def test_text_without_spaces_is_shingled_by_characters() -> None:
    """Chinese has no spaces: its shingles are character 5-grams, so an edited copy is a near duplicate and an
    unrelated text is not (before, a whole Chinese paragraph was one "word": any edit made it unrelated)."""
    base = ("北京是中华人民共和国的首都，也是全国的政治、文化、国际交往和科技创新中心。北京历史悠久，"
            "有三千多年的建城史和八百多年的建都史，拥有众多名胜古迹。故宫、天坛和颐和园都是世界文化遗产。")
    edited = base.replace("众多", "许多")
    other = "上海位于长江入海口，是中国最大的经济中心和国际大都市，港口吞吐量多年位居世界第一。"
    d = Deduper(threshold=0.7)
    d.add("base", *(lambda r: (r.exact_key, r.signature))(d.check(base)))
    near = d.check(edited)
    assert near.kind == "near" and near.duplicate_of == "base"
    assert d.check(other).kind is None
    assert d.check(base.replace("，", "， ")).kind == "exact"  # spacing does not matter
    assert len(MinHasher().signature(base)) == 128


def test_english_hashing_is_unchanged() -> None:
    """English words hash exactly as before spaceless scripts were split (so HASH_VERSION keeps its meaning)."""
    text = "The quick brown fox jumps over the lazy dog, twice."
    assert key_by_definition(text) == hashlib.blake2b(
        np.array([fnv_word_hash(w) for w in text.split()], dtype="<u8").tobytes(), digest_size=16).digest()
    assert exact_key(text) == key_by_definition(text)
