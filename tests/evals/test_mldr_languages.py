"""`latte eval --dataset mldr --lang xx` for all 13 MLDR languages, on small files in MLDR's official layout that
the test writes: every language gets its table's analyzer (one per script family: Latin with Snowball, Cyrillic,
Arabic, Devanagari, Han, kana, Hangul, Thai) and its queries find their documents."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evals.runner import run_eval
from indexers.folder import IndexFolder

MLDR_ANALYZERS = {
    "ar": "snowball:arabic", "de": "snowball:german", "en": "english", "es": "snowball:spanish",
    "fr": "snowball:french", "hi": "snowball:hindi", "it": "snowball:italian", "ja": "sudachi", "ko": "kiwi",
    "pt": "snowball:portuguese", "ru": "snowball:russian", "th": "thai", "zh": "jieba_bigrams",
}


def write_mldr(root: Path, lang: str, sample: dict) -> None:
    """``root/mldr-v1.0-<lang>/{corpus,test}.jsonl.gz`` as the Hugging Face dataset Shitao/MLDR ships them."""
    folder = root / f"mldr-v1.0-{lang}"
    folder.mkdir(parents=True)
    docs = [{"docid": f"doc-{lang}-{i}", "text": text} for i, text in enumerate(sample["docs"])]
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with gzip.open(folder / "test.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, query in enumerate(sample["queries"]):
            f.write(json.dumps({
                "query_id": f"q-{lang}-{i}", "query": query,
                "positive_passages": [docs[i]],
                "negative_passages": [d for j, d in enumerate(docs) if j != i],
            }, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("lang", sorted(MLDR_ANALYZERS))
def test_mldr_eval_uses_the_language_analyzer(tmp_path: Path, language_samples: dict, lang: str) -> None:
    write_mldr(tmp_path / "mldr", lang, language_samples[lang])
    out = run_eval(dataset="mldr", data_dir=tmp_path / "mldr", lang=lang, pipelines=["bm25"],
                   index=tmp_path / "idx", out_dir=tmp_path / "out", progress=False)
    assert out["dataset"] == f"mldr/{lang}" and out["queries"] == 2
    assert out["results"]["bm25"]["nDCG@10"] == pytest.approx(1.0)
    manifest = IndexFolder(tmp_path / "idx").read_manifest()
    assert manifest.components["bm25"]["analyzer"]["languages"] == {lang: MLDR_ANALYZERS[lang]}
    assert manifest.ingest_settings is not None and manifest.ingest_settings["lang"] == lang
