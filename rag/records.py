"""The typed records, re-exported from ``core.records`` (their home: the bottom layer, which indexers import too).

``from rag.records import Hit`` keeps working; new code imports ``core.records``.
"""

from core.records import (
    Document,
    Drop,
    Hit,
    IngestOutcome,
    LoadProblem,
    OutcomeStatus,
    PageSpan,
    Passage,
    RetrieverScore,
    id_problem,
    lexical_text,
)

__all__ = [
    "Document",
    "Drop",
    "Hit",
    "IngestOutcome",
    "LoadProblem",
    "OutcomeStatus",
    "PageSpan",
    "Passage",
    "RetrieverScore",
    "id_problem",
    "lexical_text",
]
