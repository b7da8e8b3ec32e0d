"""REST API ``/api/v1/kb``: the knowledge base's articles, their versions, and search.

Every role reads and searches (agents explain policies too); supervisors and admins write
(``service.knowledge_use.save``: PermissionDenied, 403). A PUT is the editor's save: the body's
Markdown with its front matter becomes a new version when its text changed, and the id in the
address must be the id in the front matter (422 otherwise, as for any article that does not
validate: the problem's detail names the field). docs/knowledge.md lists the routes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from gracedesk.knowledge.article import BODY_MAX
from gracedesk.service import knowledge, knowledge_use
from gracedesk.web import problems
from gracedesk.web.api import ID_MAX, DeskDep, Storable, Strict, UserDep
from gracedesk.web.schemas import Out

# on every route, as on the rest of /api/v1: bad input, a client locked out, a store away
router = APIRouter(
    prefix="/api/v1/kb", tags=["knowledge base"], responses=problems.responses(422, 429, 503)
)

ArticleId = Annotated[
    Storable, Path(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")
]
Audience = Annotated[Literal["customer", "internal"] | None, Query()]
MARKDOWN_MAX = BODY_MAX + 20_000  # the body's limit plus room for the front matter


class ArticleOut(Out):
    """An article as it is now: its front matter and current version."""

    id: str
    title: str
    audience: Literal["customer", "internal"]
    tags: list[str]
    policy_rules: list[str]
    updated: date
    version: int
    hash: str
    updated_at: datetime

    @classmethod
    def of(cls, a: knowledge.ArticleSummary) -> ArticleOut:
        return cls(
            id=a.id,
            title=a.title,
            audience=a.audience,  # type: ignore[arg-type]  # validated when it was parsed
            tags=list(a.tags),
            policy_rules=list(a.policy_rules),
            updated=a.updated,
            version=a.version,
            hash=a.hash,
            updated_at=a.updated_at,
        )


class VersionOut(Out):
    """One saved version: who saved it, why and when (``reason`` of an import: the file)."""

    version: int
    author: str
    reason: str
    hash: str
    created_at: datetime


class ArticleDetailOut(ArticleOut):
    """The article with one version's text (``shown_version``; the current one unless asked)
    and every version, oldest first."""

    shown_version: int
    shown_title: str
    markdown: str
    body: str
    versions: list[VersionOut]


class HitOut(Out):
    """An article found for a query, with its best passage (``start``/``end``: its span in the
    article's body) in Markdown as written."""

    id: str
    title: str
    version: int
    score: float
    passage: str
    heading: str | None
    start: int
    end: int


class SearchOut(Out):
    query: str
    hits: list[HitOut]


class ArticleIn(Strict):
    markdown: str = Field(
        min_length=1,
        max_length=MARKDOWN_MAX,
        description="The whole article: the front matter block (id, title, audience, updated, "
        "tags?, policy_rules?) and the Markdown body.",
    )
    reason: str = Field(default="", max_length=2000, description="Why it changed (the audit).")


def _detail(view: knowledge.ArticleView) -> ArticleDetailOut:
    return ArticleDetailOut(
        **ArticleOut.of(view.summary).model_dump(),
        shown_version=view.version,
        shown_title=view.article.title,
        markdown=view.article.markdown,
        body=view.article.body,
        versions=[
            VersionOut(
                version=v.version,
                author=v.author,
                reason=v.reason,
                hash=v.hash,
                created_at=v.created_at,
            )
            for v in view.versions
        ],
    )


@router.get("/articles", responses=problems.responses(401, 422))
def list_articles(desk: DeskDep, user: UserDep, audience: Audience = None) -> list[ArticleOut]:
    """Every article (``audience``: only those for customers, or only internal ones)."""
    return [ArticleOut.of(a) for a in knowledge.list_articles(desk, audience=audience)]


@router.get("/articles/{article_id}", responses=problems.responses(401, 404, 422))
def get_article(
    article_id: ArticleId,
    desk: DeskDep,
    user: UserDep,
    version: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
) -> ArticleDetailOut:
    """An article with its versions; ``version``: the text of that version (404 if none)."""
    return _detail(knowledge.get_article(desk, article_id, version))


@router.put("/articles/{article_id}", responses=problems.responses(401, 403, 404, 413, 422))
def put_article(
    article_id: ArticleId, body: ArticleIn, desk: DeskDep, user: UserDep
) -> ArticleDetailOut:
    """Save an article (supervisors and admins): a new version when the text changed, the
    current one when it did not; a new id makes a new article. 422 names the front matter's
    field that does not validate, or an id that is not the one in the address."""
    knowledge_use.save(desk, body.markdown, user=user, reason=body.reason, article_id=article_id)
    return _detail(knowledge.get_article(desk, article_id))


@router.get("/search", responses=problems.responses(401, 422))
def search(
    desk: DeskDep,
    user: UserDep,
    q: Annotated[Storable, Query(min_length=1, max_length=knowledge.QUERY_MAX)],
    k: Annotated[int, Query(ge=1, le=knowledge.K_MAX)] = 5,
    audience: Audience = None,
) -> SearchOut:
    """The ``k`` articles that best answer ``q`` (full text and meaning), best first."""
    hits = knowledge.search(desk, q, k=k, audience=audience)
    return SearchOut(query=q, hits=[HitOut(**h.to_dict()) for h in hits])
