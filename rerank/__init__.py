"""latte: rerank. MaxSim over binary-quantized (or float16) token tensors, on the CPU or with Triton.

Public entry points: ``maxsim`` and ``score_documents`` (``rerank.maxsim``), ``TokenStore`` (``rerank.store``),
``pack_bits`` / ``unpack_bits`` (``rerank.bits``). Importing this package imports numpy only; torch and triton are
imported when a backend needs them.
"""

from rerank.bits import pack_bits, unpack_bits
from rerank.maxsim import maxsim, score_documents, token_max
from rerank.store import TokenStore

__all__ = ["TokenStore", "maxsim", "pack_bits", "score_documents", "token_max", "unpack_bits"]
