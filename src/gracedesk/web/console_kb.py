"""Console: the knowledge base. Every role reads and searches; supervisors and admins edit.

- ``GET /console/kb?q=``: the articles, and the passages that answer a search;
- ``GET /console/kb/{id}?version=``: an article rendered, its versions (who, why, when) and
  what the shown version changed from the one before;
- ``GET|POST /console/kb/{id}/edit`` and ``/console/kb/_new``: the editor (a textarea with the
  front matter and the Markdown), for supervisors and admins (``knowledge_use.save`` refuses
  others: the 403 page). An article that does not validate comes back in the editor, as typed,
  with the reason (422). ``_new`` cannot be an article id: ids start with a letter or digit.

Markdown is rendered by markdown-it-py with raw HTML off (it is shown as text) and its own
link check (no ``javascript:`` links); everything else on the pages is escaped by Jinja.
"""

from __future__ import annotations

import difflib
import functools
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from gracedesk.errors import InvalidRequest
from gracedesk.model.staff import Staff
from gracedesk.service import knowledge, knowledge_use
from gracedesk.service.desk import Desk
from gracedesk.service.records import SUPERVISING, require
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, page, see_other

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

ArticleId = Annotated[str, Path(max_length=80, pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]
Markdown = Annotated[str, Form(min_length=1, max_length=120_000)]
Reason = Annotated[str, Form(max_length=2000)]
SEARCH_HITS = 10
NEW = """---
id: {id}
title: A question as the customer would ask it
audience: customer
updated: {today}
tags: []
---
# A question as the customer would ask it

The answer first, in plain words: what the customer can do now.

## What happens next

Who does what, and by when.
"""


@functools.cache
def _markdown() -> MarkdownIt:
    # lazy: markdown-it loads only when an article is rendered
    from markdown_it import MarkdownIt

    return MarkdownIt("js-default", {"html": False, "linkify": False})


def rendered(body: str) -> Markup:
    """An article's body as HTML: raw HTML in it is escaped, unsafe links are not links."""
    return Markup(_markdown().render(body))  # markdown-it escapes: raw HTML is off


def diff_lines(before: str, after: str) -> list[tuple[str, str]]:
    """A unified diff as ``(kind, line)``: kind is ``add``, ``del``, ``hunk`` or ``same``."""
    out: list[tuple[str, str]] = []
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2)
    for line in list(lines)[2:]:  # the two file header lines
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        out.append((kind, line))
    return out


@router.get("/kb", response_class=HTMLResponse)
def articles(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    q: Annotated[str, Query(max_length=knowledge.QUERY_MAX)] = "",
) -> HTMLResponse:
    query = q.replace("\x00", " ").strip()  # a NUL cannot be searched for in PostgreSQL
    hits = knowledge.search(desk, query, k=SEARCH_HITS) if query else []
    ctx = {
        "articles": knowledge.list_articles(desk),
        "q": query,
        "hits": [knowledge_use.ref(h) for h in hits],
        "can_edit": user.role in SUPERVISING,
    }
    return page(request, "kb.html", ctx, user=user)


def _editor(
    request: Request,
    user: Staff,
    *,
    markdown: str,
    reason: str = "",
    article_id: str | None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = {"markdown": markdown, "reason": reason, "article_id": article_id, "error": error}
    return page(request, "kb_edit.html", ctx, user=user, status=status)


def _save(
    request: Request,
    desk: Desk,
    user: Staff,
    *,
    markdown: str,
    reason: str,
    article_id: str | None,
) -> Response:
    """Save and go to the article, or show the editor again with the reason it was refused."""
    try:
        saved = knowledge_use.save(desk, markdown, user=user, reason=reason, article_id=article_id)
    except InvalidRequest as exc:
        return _editor(
            request,
            user,
            markdown=markdown,
            reason=reason,
            article_id=article_id,
            error=exc.message,
            status=422,
        )
    sess.flash(request, "success", f"Saved: {saved.title} is now version {saved.version}.")
    return see_other(f"/console/kb/{saved.id}")


@router.get("/kb/_new", response_class=HTMLResponse)
def new_form(request: Request, user: sess.UserDep, at: sess.Now) -> HTMLResponse:
    require(user, *SUPERVISING)
    text = NEW.format(id="a-short-id", today=at.date().isoformat())
    return _editor(request, user, markdown=text, article_id=None)


@router.post("/kb/_new")
def create(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    markdown: Markdown,
    reason: Reason = "",
) -> Response:
    return _save(request, desk, user, markdown=markdown, reason=reason, article_id=None)


@router.get("/kb/{article_id}", response_class=HTMLResponse)
def article(
    article_id: ArticleId,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    view = knowledge.get_article(desk, article_id, version)
    changes: list[tuple[str, str]] = []
    if view.version > 1:
        before = knowledge.get_article(desk, article_id, view.version - 1)
        changes = diff_lines(before.markdown, view.markdown)
    ctx = {
        "view": view,
        "a": view.article,
        "body": rendered(view.article.body),
        "changes": changes,
        "can_edit": user.role in SUPERVISING,
    }
    return page(request, "kb_article.html", ctx, user=user)


@router.get("/kb/{article_id}/edit", response_class=HTMLResponse)
def edit_form(
    article_id: ArticleId, request: Request, desk: sess.DeskDep, user: sess.UserDep
) -> HTMLResponse:
    require(user, *SUPERVISING)
    view = knowledge.get_article(desk, article_id)
    return _editor(request, user, markdown=view.markdown, article_id=article_id)


@router.post("/kb/{article_id}/edit")
def edit(
    article_id: ArticleId,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    markdown: Markdown,
    reason: Reason = "",
) -> Response:
    return _save(request, desk, user, markdown=markdown, reason=reason, article_id=article_id)
