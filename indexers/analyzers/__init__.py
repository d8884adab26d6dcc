"""Analyzers per language for the lexical indexes: one language table, segmenters, detection, and the
multilingual analyzer new indexes use (``indexers.analyzer.Analyzer`` stays the English one)."""

from indexers.analyzers.detect import detect_language
from indexers.analyzers.multilingual import LangText, MultilingualAnalyzer, analyzer_from_dict
from indexers.analyzers.table import LANGUAGES, Language

__all__ = ["LANGUAGES", "LangText", "Language", "MultilingualAnalyzer", "analyzer_from_dict", "detect_language"]
