"""The knowledge base's pure core: articles (Markdown + front matter), passages, ranking.

Nothing here touches the store or the clock; ``gracedesk.service.knowledge`` keeps articles in
the database, full-text indexes them and caches the passage vectors (docs/knowledge.md).
"""

from __future__ import annotations

from gracedesk.knowledge.article import AUDIENCES, Article, ArticleInvalid, content_hash, parse
from gracedesk.knowledge.passage import Passage, embed_text, passages, plain, search_text
from gracedesk.knowledge.ranking import (
    Embedder,
    RankConfig,
    Ranked,
    SentenceEmbedder,
    best_per_article,
    default_embedder,
    fuse,
    with_memory,
)

__all__ = [
    "AUDIENCES",
    "Article",
    "ArticleInvalid",
    "Embedder",
    "Passage",
    "RankConfig",
    "Ranked",
    "SentenceEmbedder",
    "best_per_article",
    "content_hash",
    "default_embedder",
    "embed_text",
    "fuse",
    "parse",
    "passages",
    "plain",
    "search_text",
    "with_memory",
]
