"""Knowledge-base articles: Markdown with a YAML front matter block, parsed once and checked.

    ---
    id: refunds
    title: Refunds
    tags: [refund, money back]
    audience: customer          # customer | internal
    updated: 2026-11-01
    policy_rules: [refund-over-authority]   # optional: the policy rules it explains
    ---
    Plain words first: what the customer can do next, and by when.

Articles are data reviewed like code, so a file that does not match is refused whole, with an
error naming the file and the field (an unknown key is an error too: a typo such as ``audiance``
must not silently make an internal article public). The content hash covers the whole file as
written (line endings normalised), so importing the same folder twice changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

from gracedesk.errors import InvalidRequest

AUDIENCES = ("customer", "internal")
REQUIRED = ("id", "title", "audience", "updated")
OPTIONAL = ("tags", "policy_rules")
ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")
TITLE_MAX, TAG_MAX, BODY_MAX, FRONT_MAX = 200, 60, 100_000, 8_000
_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)


class ArticleInvalid(InvalidRequest):
    """An article file that cannot be used; ``source`` and ``field`` say where (GD110, 422)."""

    def __init__(self, source: str, field: str | None, problem: str) -> None:
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Article:
    """One version of an article: its front matter, its Markdown body and the whole text."""

    id: str
    title: str
    audience: str
    updated: date
    tags: tuple[str, ...]
    policy_rules: tuple[str, ...]
    body: str  # the Markdown after the front matter; passage spans index this
    markdown: str  # the whole file, front matter included (what a version stores)

    @property
    def hash(self) -> str:
        return content_hash(self.markdown)


def normalise(markdown: str) -> str:
    """Line endings as ``\\n``, no byte-order mark, one final newline: what is hashed and kept."""
    text = markdown.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return text.rstrip() + "\n"


def content_hash(markdown: str) -> str:
    return hashlib.sha256(normalise(markdown).encode("utf-8")).hexdigest()


def parse(markdown: str, *, source: str = "<article>") -> Article:
    """An :class:`Article` from a file's text; ``source`` (the file name) goes in the errors."""
    text = normalise(markdown)
    m = _FRONT.match(text)
    if m is None:
        raise ArticleInvalid(source, None, "no front matter: start the file with a '---' block")
    if "\x00" in text:
        raise ArticleInvalid(source, None, "the file contains a NUL character")
    if len(m.group(1) or "") > FRONT_MAX:
        raise ArticleInvalid(source, None, f"front matter longer than {FRONT_MAX:,} characters")
    try:
        meta = yaml.safe_load(m.group(1) or "")
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # ValueError: a date YAML reads as one but the calendar refuses ("2026-13-45")
        raise ArticleInvalid(source, None, f"front matter is not valid YAML ({exc})") from exc
    if not isinstance(meta, dict):
        raise ArticleInvalid(source, None, "front matter must be a mapping of keys to values")
    body = text[m.end() :]
    _check_keys(meta, source)
    if not body.strip():
        raise ArticleInvalid(source, "body", "the article has no text after the front matter")
    if len(body) > BODY_MAX:
        raise ArticleInvalid(source, "body", f"longer than {BODY_MAX:,} characters")
    return Article(
        id=_id(meta["id"], source),
        title=_text(meta["title"], source, "title", TITLE_MAX),
        audience=_audience(meta["audience"], source),
        updated=_date(meta["updated"], source),
        tags=_names(meta.get("tags"), source, "tags"),
        policy_rules=_names(meta.get("policy_rules"), source, "policy_rules"),
        body=body,
        markdown=text,
    )


def _check_keys(meta: dict[Any, Any], source: str) -> None:
    known = set(REQUIRED) | set(OPTIONAL)
    for key in meta:
        if key not in known:
            raise ArticleInvalid(
                source, str(key), f"unknown key; known keys: {', '.join(REQUIRED + OPTIONAL)}"
            )
    for key in REQUIRED:
        if meta.get(key) is None:
            raise ArticleInvalid(source, key, "missing (required)")


def _id(value: Any, source: str) -> str:
    if not isinstance(value, str) or not ID.match(value):
        raise ArticleInvalid(
            source, "id", f"{value!r} is not an id (lower-case letters, digits, '-', '_', '.')"
        )
    return value


def _text(value: Any, source: str, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ArticleInvalid(source, field, f"{value!r} is not a non-empty string")
    if len(value) > limit or "\x00" in value:
        raise ArticleInvalid(source, field, f"longer than {limit} characters or has a NUL")
    return value.strip()


def _audience(value: Any, source: str) -> str:
    if value not in AUDIENCES:
        raise ArticleInvalid(source, "audience", f"{value!r}; choose one of {', '.join(AUDIENCES)}")
    return str(value)


def _date(value: Any, source: str) -> date:
    if isinstance(value, date):  # YAML reads 2026-11-01 as a date (a datetime is a date too)
        return value if type(value) is date else date(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ArticleInvalid(source, "updated", f"{value!r} is not a date (YYYY-MM-DD)")


def _names(value: Any, source: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ArticleInvalid(source, field, f"{value!r} is not a list of strings")
    out: list[str] = []
    for v in value:
        name = _text(v, source, field, TAG_MAX)
        if name not in out:
            out.append(name)
    return tuple(out)
