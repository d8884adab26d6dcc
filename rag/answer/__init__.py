"""Cited answers from a local LLM, streamed: ground the question in ranked hits, generate, check citations.

Input is the question plus ranked ``rag.records.Hit`` (retrieval is not imported here). Backends:
``LlamaCppGenerator`` (in-process llama.cpp, the ``[llm]`` extra, imported lazily) and
``OpenAIHTTPGenerator`` (any OpenAI-compatible server over httpx); without one, an extractive answer.
"""

from rag.answer.base import Generator, Message, flatten_messages
from rag.answer.citations import CitedText, check_citations, map_citations
from rag.answer.llamacpp import LlamaCppGenerator
from rag.answer.openai_http import OpenAIHTTPGenerator
from rag.answer.prompt import SYSTEM_PROMPT, PackedContext, pack_context
from rag.answer.records import Answer, AnswerEvent, Citation, GenerationError
from rag.answer.service import answer

__all__ = [
    "Answer",
    "AnswerEvent",
    "Citation",
    "CitedText",
    "GenerationError",
    "Generator",
    "LlamaCppGenerator",
    "Message",
    "OpenAIHTTPGenerator",
    "PackedContext",
    "SYSTEM_PROMPT",
    "answer",
    "check_citations",
    "flatten_messages",
    "map_citations",
    "pack_context",
]
