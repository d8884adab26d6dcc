"""Why each language component was chosen: language detectors on short queries, segmenter speed, BM25 on CMRC 2018
with each Chinese analysis, and the sentence splitter against pysbd.

Usage: python benchmarks/bench_languages.py [--cmrc ../shared/data/cmrc2018-trial] [--scifact ../shared/data/scifact]

Optional comparisons run when their package is installed (they are not latte dependencies):
lingua-language-detector, jieba, fugashi + unidic-lite, pysbd.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Hand-written short search queries (2-8 words), 8 per MLDR language.
QUERIES = {
    "ar": ["ما هي عاصمة المغرب", "أعراض مرض السكري", "تاريخ الدولة العثمانية", "كيف تعمل الطاقة الشمسية",
           "أفضل جامعات العالم", "سعر الذهب اليوم", "من كتب ألف ليلة وليلة", "فوائد زيت الزيتون"],
    "de": ["Hauptstadt von Australien", "wie funktioniert eine Wärmepumpe", "Geschichte der Berliner Mauer",
           "Symptome einer Grippe", "wer erfand den Buchdruck", "beste Reisezeit für Norwegen",
           "Rezept für Apfelstrudel", "Ursachen des Klimawandels"],
    "en": ["capital of australia", "how does a heat pump work", "symptoms of the flu", "who invented the printing press",
           "best time to visit norway", "causes of climate change", "apple pie recipe", "history of the roman empire"],
    "es": ["capital de Australia", "cómo funciona una bomba de calor", "síntomas de la gripe",
           "quién inventó la imprenta", "mejor época para visitar Noruega", "causas del cambio climático",
           "receta de tortilla de patatas", "historia del imperio romano"],
    "fr": ["capitale de l'Australie", "comment fonctionne une pompe à chaleur", "symptômes de la grippe",
           "qui a inventé l'imprimerie", "meilleure période pour visiter la Norvège",
           "causes du changement climatique", "recette de la tarte aux pommes", "histoire de l'empire romain"],
    "hi": ["भारत की राजधानी क्या है", "मधुमेह के लक्षण", "ताजमहल किसने बनवाया", "सौर ऊर्जा कैसे काम करती है",
           "महात्मा गांधी का जन्म कब हुआ", "हिंदी भाषा का इतिहास", "गेहूं की खेती", "क्रिकेट विश्व कप विजेता"],
    "it": ["capitale dell'Australia", "come funziona una pompa di calore", "sintomi dell'influenza",
           "chi ha inventato la stampa", "periodo migliore per visitare la Norvegia", "cause del cambiamento climatico",
           "ricetta della pizza margherita", "storia dell'impero romano"],
    "ja": ["日本の首都はどこですか", "インフルエンザの症状", "富士山の高さ", "太陽光発電の仕組み", "東京タワーはいつ建てられた",
           "おいしいカレーの作り方", "明治維新とは", "量子コンピュータの原理"],
    "ko": ["한국의 수도는 어디인가", "독감 증상", "세종대왕이 만든 것", "태양광 발전 원리", "김치 만드는 방법",
           "조선 왕조의 역사", "서울 여행 추천 장소", "양자 컴퓨터란 무엇인가"],
    "pt": ["capital da Austrália", "como funciona uma bomba de calor", "sintomas da gripe", "quem inventou a imprensa",
           "melhor época para visitar a Noruega", "causas das mudanças climáticas", "receita de pão de queijo",
           "história do império romano"],
    "ru": ["столица Австралии", "как работает тепловой насос", "симптомы гриппа", "кто изобрёл книгопечатание",
           "лучшее время для поездки в Норвегию", "причины изменения климата", "рецепт борща",
           "история Римской империи"],
    "th": ["เมืองหลวงของประเทศไทย", "อาการของไข้หวัดใหญ่", "วิธีทำต้มยำกุ้ง", "ประวัติศาสตร์กรุงศรีอยุธยา",
           "พลังงานแสงอาทิตย์ทำงานอย่างไร", "ใครเป็นผู้คิดค้นโทรศัพท์", "สถานที่ท่องเที่ยวในเชียงใหม่",
           "ภาวะโลกร้อนเกิดจากอะไร"],
    "zh": ["澳大利亚的首都是哪里", "流感的症状", "谁发明了印刷术", "太阳能发电原理", "长城有多长", "红烧肉的做法",
           "罗马帝国的历史", "气候变化的原因"],
}
MLDR = sorted(QUERIES)


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def detectors(cmrc: Path | None, scifact: Path | None) -> None:
    from indexers.analyzers import detect_language

    labelled = [(lang, q) for lang, qs in QUERIES.items() for q in qs]
    zh = [q["text"] for q in _jsonl(cmrc / "queries.jsonl") if q["text"].strip()] if cmrc else []
    en = [q["text"] for q in _jsonl(scifact / "queries.jsonl")] if scifact else []
    candidates: dict[str, object] = {"latte (script + English fast path + py3langid, 13 candidates)":
                                      lambda t: detect_language(t, MLDR)}
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    candidates["py3langid (97 languages)"] = lambda t: full.classify(t)[0]
    restricted = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    restricted.set_languages(MLDR)
    candidates["py3langid (13 MLDR languages)"] = lambda t: restricted.classify(t)[0]
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in MLDR]
        det = LanguageDetectorBuilder.from_languages(*langs).build()

        def lingua13(t: str) -> str | None:
            r = det.detect_language_of(t)
            return r.iso_code_639_1.name.lower() if r else None

        candidates["lingua (13 MLDR languages, high accuracy)"] = lingua13
    except ImportError:
        print("lingua-language-detector not installed: skipped")
    print("| detector | 104 hand-written queries | CMRC queries zh | SciFact queries en | us/query |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, fn in candidates.items():
        for _, q in labelled:  # models load on first use: time the second pass
            fn(q)
        t = time.perf_counter()
        ok = sum(fn(q) == lang for lang, q in labelled)
        per = (time.perf_counter() - t) / len(labelled) * 1e6
        z = sum(fn(q) == "zh" for q in zh)
        e = sum(fn(q) == "en" for q in en)
        print(f"| {name} | {ok}/{len(labelled)} | {z}/{len(zh)} | {e}/{len(en)} | {per:.0f} |")


def segmenters(cmrc: Path | None) -> None:
    from indexers.analyzers.segmenters import segment

    texts = {
        "ja": "東京都に住んでいる学生たちは毎日図書館で勉強しています。明治維新は日本の近代化の始まりであり、政治や社会の制度が大きく変わった。" * 200,
        "ko": "서울에 사는 학생들은 매일 도서관에서 공부합니다. 조선 왕조는 오백 년 동안 한반도를 다스렸으며 많은 문화유산을 남겼다. " * 200,
        "th": "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย และเป็นศูนย์กลางทางเศรษฐกิจของประเทศ ประชาชนจำนวนมากเดินทางมาทำงานทุกวัน " * 200,
    }
    texts["zh"] = ("".join(d["text"] for d in _jsonl(cmrc / "corpus.jsonl")) if cmrc else texts["ja"])[: len(texts["ja"])]
    runs = [("zh", "jieba", lambda t: segment("jieba", t)), ("ja", "sudachi", lambda t: segment("sudachi", t)),
            ("ko", "kiwi", lambda t: segment("kiwi", t)), ("th", "thai", lambda t: segment("thai", t))]
    try:
        import jieba as pyjieba

        pyjieba.setLogLevel(60)
        runs.append(("zh", "jieba (pure Python) cut_for_search", lambda t: list(pyjieba.cut_for_search(t))))
    except ImportError:
        pass
    try:
        import fugashi

        tagger = fugashi.Tagger()
        runs.append(("ja", "fugashi + unidic-lite", lambda t: [w.surface for w in tagger(t)]))
    except (ImportError, RuntimeError):
        pass
    print("| language | segmenter | k chars/s |")
    print("| --- | --- | ---: |")
    for lang, name, fn in runs:
        text = texts[lang]
        fn(text[:300])
        t = time.perf_counter()
        fn(text)
        print(f"| {lang} | {name} | {len(text) / (time.perf_counter() - t) / 1e3:,.0f} |")


def cmrc_analyzers(cmrc: Path) -> None:
    """nDCG@10 of latte's BM25 (k1=0.9, b=0.4) over CMRC 2018 trial with each Chinese analysis."""
    from evals.datasets import load_beir
    from evals.metrics import evaluate
    from indexers.analyzers.segmenters import bigrams, jieba, jieba_bigrams, words
    from indexers.bm25 import BM25Index

    ds = load_beir(cmrc)
    docs = _jsonl(cmrc / "corpus.jsonl")
    texts = [f"{d['title']}\n{d['text']}" if d.get("title") else d["text"] for d in docs]
    ids = [d["_id"] for d in docs]

    class Plain:
        def __init__(self, fn):
            self.fn = fn

        def raw_tokens(self, text, lang=None):
            return self.fn(text)

        def term(self, raw):
            return raw

        def tokens(self, text, lang=None):
            return self.fn(text)

        def to_dict(self):
            return {}

    import rjieba

    word = re.compile(r"\w")
    analyses = {
        "whitespace (\\w+ runs: today's English analyzer without stemming)": words,
        "rjieba, accurate mode": lambda t: [w for w in rjieba.cut(t.lower()) if word.search(w)],
        "rjieba, search mode": jieba,
        "character bigrams (Lucene CJKAnalyzer style)": bigrams,
        "rjieba search mode + character bigrams (latte's zh analyzer)": jieba_bigrams,
    }
    print("| Chinese analysis | nDCG@10 | R@100 | MRR@10 |")
    print("| --- | ---: | ---: | ---: |")
    for name, fn in analyses.items():
        idx = BM25Index(analyzer=Plain(fn))
        idx.add(np.arange(len(texts)), texts)
        run = {}
        for qid, q in ds.queries.items():
            d = idx.search(q, 100).docnos if q.strip() else np.zeros(0, dtype=np.int64)
            run[qid] = {ids[i]: 1.0 / (r + 1) for r, i in enumerate(d.tolist())}
        res = evaluate(run, ds.qrels).aggregate
        print(f"| {name} | {res['nDCG@10']:.4f} | {res['R@100']:.4f} | {res['MRR@10']:.4f} |")


def sentences(scifact: Path) -> None:
    from rag.sentences import split_sentences

    docs = [" ".join(d["text"].split()) for d in _jsonl(scifact / "corpus.jsonl")][:1000]
    t = time.perf_counter()
    ours = [split_sentences(d, max_chars=10**6) for d in docs]
    ours_ms = (time.perf_counter() - t) / len(docs) * 1e3
    try:
        import pysbd
    except ImportError:
        print(f"rules: {ours_ms:.3f} ms per abstract (pysbd not installed: no comparison)")
        return
    seg = pysbd.Segmenter(language="en", clean=False)
    t = time.perf_counter()
    ref = [[s.strip() for s in seg.segment(d)] for d in docs]
    ref_ms = (time.perf_counter() - t) / len(docs) * 1e3

    def bounds(parts: list[str]) -> set[int]:
        out, pos = set(), 0
        for s in parts[:-1]:
            pos += len(s.strip())
            out.add(pos)
            pos += 1
        return out

    tp = fp = fn = 0
    for a, b in zip(ours, ref):
        x, y = bounds(a), bounds(b)
        tp, fp, fn = tp + len(x & y), fp + len(x - y), fn + len(y - x)
    print(f"rules {ours_ms:.3f} ms per abstract, pysbd {ref_ms:.2f} ms; boundaries vs pysbd on {len(docs)} SciFact "
          f"abstracts: precision {tp / (tp + fp):.3f}, recall {tp / (tp + fn):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cmrc", type=Path, default=Path("../shared/data/cmrc2018-trial"))
    ap.add_argument("--scifact", type=Path, default=Path("../shared/data/scifact"))
    a = ap.parse_args()
    cmrc = a.cmrc if (a.cmrc / "corpus.jsonl").is_file() else None
    scifact = a.scifact if (a.scifact / "corpus.jsonl").is_file() else None
    detectors(cmrc, scifact)
    print()
    segmenters(cmrc)
    if cmrc:
        print()
        cmrc_analyzers(cmrc)
    if scifact:
        print()
        sentences(scifact)


if __name__ == "__main__":
    main()
