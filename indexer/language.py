"""Moved to complaintwatch.language (the crawl side needs it too, and crawlers/
imports nothing of the indexer but the store); kept for old imports."""

from complaintwatch.language import detect_language, language_scores

__all__ = ["detect_language", "language_scores"]
