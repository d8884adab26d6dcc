"""Exact and near-duplicate detection: a blake2b key per document plus MinHash over word 5-grams with LSH banding.

- ``exact_key``: 16-byte blake2b of the lowercased text's sequence of word hashes (so case and spacing do not
  matter). A document's key covers its cleaned text alone, not its title (``document_fingerprint``): a copy of a
  file under another name (so another title) is still an exact duplicate.
- ``MinHasher``: words are maximal runs of non-whitespace (``str.split`` on the lowercased text), hashed to
  64 bits (FNV-1a over their lowercased code points, then mixed; ``rag.textscan`` does it in one compiled pass
  over the UTF-8 bytes; each character of a script written without spaces, such as Chinese, Japanese or Thai, is a
  word of its own, so such text is shingled by character n-grams); shingles are runs of ``shingle_size``
  consecutive words (a text with fewer words is one
  shingle), each hashed to 64 bits by a vectorised polynomial of its word hashes (``shingle_hashes``; no
  shingle strings are built, which is what makes this fast); rensa's ``RMinHash`` turns the set of shingle
  hashes into ``num_perm`` uint32 minima. Signatures are stored by the index, so they must stay comparable
  across runs: ``MinHasher.describe()`` names everything they depend on (parameters, our hash version,
  rensa's algorithm version and a probe signature); an index built under another description must rebuild
  its signatures.
- ``Deduper``: in-memory state (exact keys, signatures, LSH band tables) with add/remove and a bulk
  ``add_many`` rebuild. A near duplicate is an LSH candidate whose estimated Jaccard (the share of equal
  signature slots) is at least the threshold; the most similar kept document is reported. Bands and rows are
  chosen as datasketch's ``MinHashLSH`` does (minimising the sum of false positive and false negative areas),
  e.g. 9 bands of 13 rows for threshold 0.8 at 128 permutations. rensa's own LSH cannot remove keys inserted
  from raw signatures, so banding is done here: a band's key is Python's ``hash`` of its bytes (a key
  collision can only add a candidate, which the similarity check then rejects).
- Fingerprints of documents in bulk, optionally in worker processes, are ``rag.prepare``'s (the path ingest runs):
  ordered results, so duplicate decisions stay deterministic.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rag.textscan import scan_word_hashes

__all__ = [
    "DedupeResult",
    "Deduper",
    "MinHasher",
    "band_keys",
    "band_keys_many",
    "document_fingerprint",
    "exact_key",
    "optimal_lsh_params",
]

HASH_VERSION = 3  # bump when word or shingle hashing changes: stored signatures then need rebuilding
# 1: rensa's token hash of each word, exact key over the joined words; 2: rag.textscan's FNV-1a word hashes;
# 3: a document's exact key covers its text without the title (signatures unchanged).
# Splitting spaceless-script characters into words of their own changed no hash of text without such characters
# (every English index keeps its signatures); text with them was dropped by the default quality rules before,
# so only an index built with the rules off can hold signatures of such text made the older way.
_CHUNK_CHARS = 1 << 20  # bounds the temporary buffers on huge documents
_PROBE_TEXT = "the quick brown fox jumps over the lazy dog while the cat sleeps"
_SHINGLE_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic); returns a new array."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _chunks(text: str) -> list[str]:
    """Pieces of at most about ``_CHUNK_CHARS`` characters cut after whitespace, so words stay whole."""
    if len(text) <= _CHUNK_CHARS:
        return [text]
    pieces, start = [], 0
    while start < len(text):
        end = min(start + _CHUNK_CHARS, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            end = cut + 1 if cut > start else end  # one word over a million characters is cut
        pieces.append(text[start:end])
        start = end
    return pieces


def _analyse(text: str) -> tuple[bytes, np.ndarray]:
    """``(exact_key, word_hashes)`` of ``text``: words lowercased and hashed in one compiled pass (``rag.textscan``),
    chunked so huge texts stay bounded; the exact key digests the word hash sequence."""
    parts = [scan_word_hashes(piece) for piece in _chunks(text)]
    words_hashed = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
    return hashlib.blake2b(words_hashed.astype("<u8", copy=False).tobytes(), digest_size=16).digest(), words_hashed


def document_fingerprint(title: str, text: str) -> tuple[bytes, np.ndarray]:
    """``(exact key of the text alone, word hashes of title + newline + text)``: the MinHash words are those of
    ``lexical_text`` (what BM25 indexes), the exact key ignores the title.

    >>> a, wa = document_fingerprint("a.pdf", "Same  text here")
    >>> b, wb = document_fingerprint("copy of a.pdf", "same text here")
    >>> a == b == exact_key("same text here"), len(wa), len(wb), bool((wa == _analyse("a.pdf\\nSame text here")[1]).all())
    (True, 4, 6, True)
    """
    key, words = _analyse(text)
    if title:
        words = np.concatenate([_analyse(title)[1], words])
    return key, words


def exact_key(text: str) -> bytes:
    """16-byte blake2b of the 64-bit hashes (little-endian) of the lowercased text's words, in order.

    >>> exact_key("Hello   World\\n") == exact_key("hello world")
    True
    >>> len(exact_key("x"))
    16
    """
    return _analyse(text)[0]


def shingle_hashes(word_hashes: np.ndarray, shingle_size: int) -> np.ndarray:
    """uint64 ``[max(n - k + 1, 1)]`` shingle hashes from uint64 ``[n]`` word hashes (empty input: empty output).

    A shingle hash is ``mix64`` of the polynomial ``((h_i * P + h_{i+1}) * P + ...)`` over ``k`` consecutive
    word hashes; fewer than ``k`` words make one shingle of all of them.

    >>> h = np.array([1, 2, 3], dtype=np.uint64)
    >>> shingle_hashes(h, 2).shape, shingle_hashes(h, 5).shape, shingle_hashes(h[:0], 5).shape
    ((2,), (1,), (0,))
    """
    n = word_hashes.size
    if n == 0:
        return word_hashes
    k = min(shingle_size, n)
    count = n - k + 1
    acc = word_hashes[:count].copy()
    for j in range(1, k):
        acc *= _SHINGLE_MULTIPLIER
        acc += word_hashes[j : j + count]
    return _mix64(acc)


@functools.cache
def _rensa() -> Any:
    try:
        import rensa
    except ImportError as err:
        raise ImportError("near-duplicate detection needs rensa: pip install rensa") from err
    return rensa


class MinHasher:
    """MinHash signatures of word shingles (rensa ``RMinHash`` over our 64-bit shingle hashes).

    ``signature`` returns uint32 ``[num_perm]``; ``signatures`` returns uint32 ``[n, num_perm]``. The empty
    text (no words) has the empty set's signature: every slot 0xFFFFFFFF.
    """

    __slots__ = ("num_perm", "seed", "shingle_size")

    def __init__(self, num_perm: int = 128, shingle_size: int = 5, seed: int = 42) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be >= 1 (got {num_perm}); 128 is the usual choice")
        if shingle_size < 1:
            raise ValueError(f"shingle_size must be >= 1 word (got {shingle_size}); 5 is the usual choice")
        if not 0 <= seed < 2**64:
            raise ValueError(f"seed must be in [0, 2**64) (got {seed})")
        self.num_perm = int(num_perm)
        self.shingle_size = int(shingle_size)
        self.seed = int(seed)

    def __getstate__(self) -> tuple[int, int, int]:
        return (self.num_perm, self.shingle_size, self.seed)

    def __setstate__(self, state: tuple[int, int, int]) -> None:
        self.num_perm, self.shingle_size, self.seed = state

    def describe(self) -> dict[str, Any]:
        """Everything a stored signature depends on; compare before mixing signatures from different runs."""
        return {
            "num_perm": self.num_perm,
            "shingle_size": self.shingle_size,
            "seed": self.seed,
            "hash_version": HASH_VERSION,
            "rensa_algorithm": int(_rensa().RMinHash.ALGORITHM_VERSION),
            # Changes whenever anything upstream (rensa's token hash, its permutations) changes.
            "probe": hashlib.blake2b(self.signature(_PROBE_TEXT).tobytes(), digest_size=8).hexdigest(),
        }

    def _digest(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        flat = np.concatenate(shingle_sets) if len(shingle_sets) > 1 else shingle_sets[0]
        offsets = np.zeros(len(shingle_sets) + 1, dtype=np.uint64)
        np.cumsum([s.size for s in shingle_sets], out=offsets[1:])
        matrix = _rensa().RMinHash.digest_matrix_from_flat_token_hashes(
            np.ascontiguousarray(flat, dtype=np.uint64), offsets, self.num_perm, self.seed
        )
        return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(shingle_sets), self.num_perm)

    def signature_of_words(self, word_hashes: np.ndarray) -> np.ndarray:
        """uint32 ``[num_perm]`` from uint64 ``[n]`` word hashes (as ``_analyse`` makes them)."""
        return self._digest([shingle_hashes(word_hashes, self.shingle_size)])[0]

    def signature(self, text: str) -> np.ndarray:
        """uint32 ``[num_perm]`` MinHash signature of ``text``'s word shingles."""
        return self.signature_of_words(_analyse(text)[1])

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """uint32 ``[len(texts), num_perm]``; one rensa call for the whole batch."""
        if len(texts) == 0:
            return np.zeros((0, self.num_perm), dtype=np.uint32)
        return self._digest([shingle_hashes(_analyse(t)[1], self.shingle_size) for t in texts])


# ----------------------------------------------------------------------------------------------------------------
# LSH parameters (as datasketch.lsh._optimal_param)
# ----------------------------------------------------------------------------------------------------------------


@functools.cache
def optimal_lsh_params(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands * rows <= num_perm`` minimising the weighted false positive and negative areas.

    A pair of Jaccard ``s`` becomes a candidate with probability ``1 - (1 - s**rows)**bands``; the false
    positive area integrates it over ``[0, threshold]``, the false negative area its complement over
    ``[threshold, 1]`` (datasketch's ``MinHashLSH`` picks its parameters the same way).

    >>> optimal_lsh_params(0.8, 128)
    (9, 13)
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1] (got {threshold})")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1 (got {num_perm})")
    try:
        from scipy.integrate import quad
    except ImportError as err:
        raise ImportError("choosing LSH bands needs scipy: pip install scipy") from err
    best, best_error = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = quad(lambda s, r=rows, b=bands: 1 - (1 - s**r) ** b, 0.0, threshold)[0]
            fn = quad(lambda s, r=rows, b=bands: (1 - s**r) ** b, threshold, 1.0)[0]
            error = fp * false_positive_weight + fn * false_negative_weight
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[int]:
    """One key per band of a uint32 ``[num_perm]`` signature: Python's ``hash`` of the band's bytes.

    The keys only live in memory (an index rebuilds its Deduper from stored signatures), so the per-process
    salt of ``hash`` does not matter; a 64-bit collision only adds a candidate that the similarity check
    rejects. ``band_keys_many`` gives the same keys for many signatures at once.

    >>> s = np.arange(8, dtype=np.uint32)
    >>> k = band_keys(s, bands=2, rows=4)
    >>> len(k), k == band_keys(s.copy(), 2, 4), k[0] == band_keys(np.r_[s[:4], s[:4] + 1], 2, 4)[0]
    (2, True, True)
    """
    raw = np.ascontiguousarray(signature, dtype=np.uint32).tobytes()
    width = 4 * rows
    return [hash(raw[band * width : (band + 1) * width]) for band in range(bands)]


def band_keys_many(signatures: np.ndarray, bands: int, rows: int) -> list[list[int]]:
    """``band_keys`` of every row of uint32 ``[n, num_perm]``, as ``bands`` lists of ``n`` keys (one list per band)."""
    out = []
    for band in range(bands):
        block = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows], dtype=np.uint32)
        out.append(list(map(hash, block.view(f"V{4 * rows}").ravel().tolist())))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Deduper
# ----------------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DedupeResult:
    """What ``Deduper.check`` found; ``exact_key`` and ``signature`` are what ``Deduper.add`` needs."""

    kind: Literal["exact", "near"] | None
    duplicate_of: str | None
    exact_key: bytes
    signature: np.ndarray  # uint32 [num_perm]
    similarity: float | None  # 1.0 for exact, estimated Jaccard for near, None when unique


def _validate_key(key: object) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != 16:
        raise ValueError(f"an exact key is the 16 bytes exact_key() returns (got {key!r:.40})")
    return bytes(key)


class _BandTable:
    """band key -> slots. Most keys hold one slot (kept documents rarely share a band), kept in a plain dict."""

    __slots__ = ("first", "more")

    def __init__(self) -> None:
        self.first: dict[int, int] = {}
        self.more: dict[int, list[int]] = {}

    def add(self, key: int, slot: int) -> None:
        if self.first.setdefault(key, slot) != slot:
            self.more.setdefault(key, []).append(slot)

    def add_many(self, key_list: list[int], slot_list: list[int]) -> None:
        if not self.first:  # bulk build: reversed so that the earliest slot of a repeated key wins
            self.first = dict(zip(key_list[::-1], slot_list[::-1]))
            if len(self.first) < len(key_list):
                for key, slot in zip(key_list, slot_list):
                    if self.first[key] != slot:
                        self.more.setdefault(key, []).append(slot)
            return
        for key, slot in zip(key_list, slot_list):
            self.add(key, slot)

    def remove(self, key: int, slot: int) -> None:
        if self.first.get(key) == slot:
            extra = self.more.get(key)
            if extra:
                self.first[key] = extra.pop(0)
                if not extra:
                    del self.more[key]
            else:
                del self.first[key]
        else:
            extra = self.more.get(key)
            if extra and slot in extra:
                extra.remove(slot)
                if not extra:
                    del self.more[key]

    def get(self, key: int) -> list[int]:
        slot = self.first.get(key)
        if slot is None:
            return []
        extra = self.more.get(key)
        return [slot, *extra] if extra else [slot]


class Deduper:
    """Exact and near-duplicate detection over the documents added so far.

    ``check`` never adds: the caller adds what it keeps, so one object dedupes within a batch and across
    batches. State is in memory only; the index stores each kept document's exact key and signature and
    rebuilds with ``add_many`` when opened. Adding an id that is already present replaces it.
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, shingle_size: int = 5, seed: int = 42) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1] (got {threshold}); 0.8 is the usual choice")
        self.threshold = float(threshold)
        self.hasher = MinHasher(num_perm, shingle_size, seed)
        self.bands, self.rows = optimal_lsh_params(self.threshold, self.hasher.num_perm)
        self._tables = [_BandTable() for _ in range(self.bands)]
        self._exact: dict[bytes, list[str]] = {}
        self._slot_of: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._keys: list[bytes | None] = []
        self._order = np.zeros(0, dtype=np.int64)  # insertion counter per slot: ties go to the earliest document
        self._sigs = np.zeros((0, self.hasher.num_perm), dtype=np.uint32)
        self._free: list[int] = []
        self._counter = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._slot_of

    # -- checking ------------------------------------------------------------------------------------------------
    def check(self, text: str, title: str = "") -> DedupeResult:
        """Is ``text`` (with ``title``) an exact or near duplicate of a document added so far? Does not add it."""
        key, words = document_fingerprint(title, text)
        return self.match(key, self.hasher.signature_of_words(words))

    def match(self, exact_key: bytes, signature: np.ndarray) -> DedupeResult:
        """``check`` for a precomputed key and uint32 ``[num_perm]`` signature (see ``rag.prepare``)."""
        signature = self._validate_signature(signature)
        same = self._exact.get(exact_key)
        if same:
            return DedupeResult("exact", same[0], exact_key, signature, 1.0)
        candidates: set[int] = set()
        for table, key in zip(self._tables, band_keys(signature, self.bands, self.rows)):
            candidates.update(table.get(key))
        if not candidates:
            return DedupeResult(None, None, exact_key, signature, None)
        slots = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        sims = (self._sigs[slots] == signature).mean(axis=1)
        best = np.lexsort((self._order[slots], -sims))[0]  # most similar, then earliest added
        if sims[best] < self.threshold:
            return DedupeResult(None, None, exact_key, signature, None)
        return DedupeResult("near", self._ids[int(slots[best])], exact_key, signature, float(sims[best]))

    # -- state ---------------------------------------------------------------------------------------------------
    def add(self, doc_id: str, exact_key: bytes, signature: np.ndarray) -> None:
        """Add a kept document (replacing ``doc_id`` if present)."""
        signature = self._validate_signature(signature)
        key = _validate_key(exact_key)
        if doc_id in self._slot_of:
            self.remove(doc_id)
        (slot,) = self._take_slots(1)
        self._sigs[slot] = signature
        self._order[slot] = self._counter
        self._counter += 1
        self._ids[slot] = doc_id
        self._keys[slot] = key
        self._slot_of[doc_id] = slot
        self._exact.setdefault(key, []).append(doc_id)
        for table, band_key in zip(self._tables, band_keys(signature, self.bands, self.rows)):
            table.add(band_key, slot)

    def add_many(self, doc_ids: Sequence[str], exact_keys: Sequence[bytes], signatures: np.ndarray) -> None:
        """Add many documents at once (the fast rebuild when an index is opened); equals adding them in order.

        ``signatures``: uint32 ``[len(doc_ids), num_perm]``.
        """
        n = len(doc_ids)
        sigs = np.asarray(signatures)
        if len(exact_keys) != n or sigs.ndim != 2 or sigs.shape != (n, self.hasher.num_perm):
            raise ValueError(
                f"add_many needs one exact key and one signature row per id: got {n} ids, {len(exact_keys)} keys, "
                f"signatures of shape {sigs.shape} (expected ({n}, {self.hasher.num_perm}))"
            )
        if n == 0:
            return
        sigs = self._as_uint32(sigs)
        if len(set(doc_ids)) != n:
            # Later rows replace earlier ones with the same id, as repeated add() calls would.
            last = {doc_id: i for i, doc_id in enumerate(doc_ids)}
            rows = sorted(last.values())
            doc_ids = [doc_ids[i] for i in rows]
            exact_keys = [exact_keys[i] for i in rows]
            sigs = sigs[rows]
            n = len(rows)
        keys = [_validate_key(key) for key in exact_keys]
        for doc_id in doc_ids:
            if doc_id in self._slot_of:
                self.remove(doc_id)
        slots = self._take_slots(n)
        slot_rows = np.asarray(slots, dtype=np.int64)
        self._sigs[slot_rows] = sigs
        self._order[slot_rows] = np.arange(self._counter, self._counter + n)
        self._counter += n
        for slot, doc_id, key in zip(slots, doc_ids, keys):
            self._ids[slot] = doc_id
            self._keys[slot] = key
            self._slot_of[doc_id] = slot
            self._exact.setdefault(key, []).append(doc_id)
        for table, band_column in zip(self._tables, band_keys_many(sigs, self.bands, self.rows)):
            table.add_many(band_column, slots)

    def remove(self, doc_id: str) -> bool:
        """Forget ``doc_id``; returns False when it was not present."""
        slot = self._slot_of.pop(doc_id, None)
        if slot is None:
            return False
        key = self._keys[slot]
        same = self._exact[key]  # type: ignore[index]  # a used slot always has a key
        same.remove(doc_id)
        if not same:
            del self._exact[key]  # type: ignore[arg-type]
        for table, band_key in zip(self._tables, band_keys(self._sigs[slot], self.bands, self.rows)):
            table.remove(band_key, slot)
        self._ids[slot] = None
        self._keys[slot] = None
        self._free.append(slot)
        return True

    def _take_slots(self, n: int) -> list[int]:
        reuse = [self._free.pop() for _ in range(min(n, len(self._free)))]
        fresh = n - len(reuse)
        start = len(self._ids)
        if fresh:
            self._ids.extend([None] * fresh)
            self._keys.extend([None] * fresh)
            if start + fresh > self._sigs.shape[0]:
                capacity = max(start + fresh, 2 * self._sigs.shape[0], 64)
                grown = np.zeros((capacity, self.hasher.num_perm), dtype=np.uint32)
                grown[:start] = self._sigs[:start]
                order = np.zeros(capacity, dtype=np.int64)
                order[:start] = self._order[:start]
                self._sigs, self._order = grown, order
        return reuse + list(range(start, start + fresh))

    def _as_uint32(self, sigs: np.ndarray) -> np.ndarray:
        if sigs.dtype == np.uint32:
            return sigs
        if not np.issubdtype(sigs.dtype, np.integer) or (sigs.size and (sigs.min() < 0 or sigs.max() > 0xFFFFFFFF)):
            raise ValueError(f"signatures are uint32 MinHash values from MinHasher (got dtype {sigs.dtype})")
        return sigs.astype(np.uint32)

    def _validate_signature(self, signature: np.ndarray) -> np.ndarray:
        sig = np.asarray(signature)
        if sig.shape != (self.hasher.num_perm,):
            raise ValueError(
                f"a signature has shape ({self.hasher.num_perm},) for this Deduper (got {sig.shape}); "
                "was it made with another num_perm?"
            )
        return self._as_uint32(sig)
