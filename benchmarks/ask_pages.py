"""How often the top cited page of ``latte ask --unit page`` is an evidence page (FinanceBench layout).

Usage:
  python benchmarks/ask_pages.py --index runs/indexes/pdf-pages-financebench-dev-default \\
      --data-dir ../shared/data/financebench-dev [--llm-model model.gguf | --llm-url URL]

The index is the one ``latte eval --dataset pdf-pages`` builds (or any index of ``DATA_DIR/pdfs``). For each
judged question it does what ``latte ask QUESTION --unit page`` does (search k=8, mode auto, the default
rerank; then the answer, extractive without a generator) and checks the page of the first citation against the
question's evidence pages (qrels: ``<pdf stem>#p<zero-based page>``). It also prints how often the top-ranked
page is an evidence page, so the answer's choice can be told apart from retrieval's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("-k", type=int, default=8, help="hits given to the answer (latte ask's default: 8)")
    ap.add_argument("--mode", default="auto")
    ap.add_argument("--llm-model", default=None)
    ap.add_argument("--llm-url", default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    from evals.datasets import load_pdf_pages, page_id
    from rag.answer import answer
    from rag.planner import SearchOptions
    from rag.service import make_generator, open_searcher

    ds = load_pdf_pages(a.data_dir, a.split)
    planner = open_searcher(a.index, device="cpu")
    gen = make_generator(llm_model=a.llm_model, llm_url=a.llm_url)
    rows = []
    for qid, question in ds.queries.items():
        res = planner.search(question, SearchOptions(k=a.k, mode=a.mode, unit="page"))
        ans = answer(question, res.hits, gen)
        evidence = {d for d, rel in ds.qrels[qid].items() if rel > 0}
        cited = page_id(ans.citations[0].doc_id, ans.citations[0].page) if ans.citations and ans.citations[0].page else None
        top = page_id(res.hits[0].doc_id, res.hits[0].passage.page) if res.hits and res.hits[0].passage.page else None
        rows.append({"qid": qid, "cited": cited, "top_hit": top, "evidence": sorted(evidence),
                     "cited_ok": cited in evidence, "top_ok": top in evidence})
    n = len(rows)
    out = {
        "questions": n,
        "generator": "extractive" if gen is None else gen.name,
        "top_cited_page_is_evidence": round(sum(r["cited_ok"] for r in rows) / n, 4) if n else 0.0,
        "top_ranked_page_is_evidence": round(sum(r["top_ok"] for r in rows) / n, 4) if n else 0.0,
    }
    if a.json:
        print(json.dumps({**out, "per_question": rows}, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
