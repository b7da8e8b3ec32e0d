"""The knowledge base's results, as the API, the console and the CLI receive them.

Frozen values built by :mod:`gracedesk.service.knowledge` from rows; ``to_dict`` is the one
JSON form (``gracedesk kb ... --format json`` and the API's bodies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from gracedesk.knowledge import Article


@dataclass(frozen=True, slots=True)
class KbHit:
    """An article found for a query, with its best passage (span into the article's body)."""

    article_id: str
    title: str
    version: int
    score: float
    passage: str
    heading: str | None
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.article_id,
            "title": self.title,
            "version": self.version,
            "score": round(self.score, 4),
            "passage": self.passage,
            "heading": self.heading,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True, slots=True)
class ArticleSummary:
    id: str
    title: str
    audience: str
    tags: tuple[str, ...]
    policy_rules: tuple[str, ...]
    updated: date
    version: int
    hash: str
    updated_at: datetime
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "audience": self.audience,
            "tags": list(self.tags),
            "policy_rules": list(self.policy_rules),
            "updated": self.updated.isoformat(),
            "version": self.version,
            "hash": self.hash,
            "updated_at": self.updated_at.isoformat(),
            "deleted": self.deleted,
        }


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    author: str
    reason: str
    hash: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "author": self.author,
            "reason": self.reason,
            "hash": self.hash,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ArticleView:
    """One version of an article (the current one unless asked) and the article's history."""

    summary: ArticleSummary  # the article as it is now
    version: int  # the version shown
    article: Article  # that version, parsed
    versions: tuple[VersionInfo, ...]  # oldest first

    @property
    def markdown(self) -> str:
        return self.article.markdown

    def to_dict(self) -> dict[str, Any]:
        a = self.article
        return {
            **self.summary.to_dict(),
            "shown_version": self.version,
            "shown": {
                "title": a.title,
                "audience": a.audience,
                "tags": list(a.tags),
                "policy_rules": list(a.policy_rules),
                "updated": a.updated.isoformat(),
            },
            "markdown": a.markdown,
            "body": a.body,
            "versions": [v.to_dict() for v in self.versions],
        }


@dataclass(slots=True)
class QuestionsReport:
    """What ``add_questions`` did: questions added, already known, and the input rows (by
    position) whose article does not exist or whose text is empty."""

    added: int = 0
    unchanged: int = 0
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (row, article id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "unknown": [{"row": r, "article": a} for r, a in self.unknown],
        }


@dataclass(slots=True)
class KbImportReport:
    """What an import changed: article ids added, updated (new version), unchanged; files that
    could not be used, each with the reason (the others are imported all the same)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)

    @property
    def ok(self) -> bool:
        return not self.invalid

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "invalid": [{"file": f, "reason": r} for f, r in self.invalid],
        }


@dataclass(frozen=True, slots=True)
class SharedArticle:
    """An article an agent's reply in a conversation quoted (for the hand-over packet)."""

    article_id: str
    title: str
    version: int
    message_id: int
    at: datetime
