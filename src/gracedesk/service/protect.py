"""Protecting agents from abusive words: masking, who sees it, and deliberate reveals.

Why: an agent who reads the same insults all day is worn down by them, and knowing *that* a
customer insulted them is what the job needs, not the words. So the desk replaces each abusive
span (evidence whose signal is ``abuse.*``) with its label, ``[insult]``, before anything is
rendered: the raw words never reach the browser (a CSS blur would still send them, into the
page source, the cache and every screenshot).

- ``mask(text, evidence)`` (pure): one message, by the evidence offsets; the same words elsewhere
  in the text too, and the words of ``also`` (other messages of the conversation).
- ``scrub(text, terms)`` (pure): known abusive words replaced wherever they are quoted without
  offsets (the subject, the guidance's "why", hand-over packet lines, notes).
- ``masking_for(desk, user)``: the user's own choice (``users.mask_abuse``), else the team's
  default (``desk_settings`` key ``mask_abuse``, set by a supervisor), else on.
- ``set_user_masking`` / ``set_team_masking``: audited ``settings.changed``.
- ``reveal``: audited ``message.revealed``. A reveal shows that one message unmasked in the
  response to the reveal itself and lasts no longer: reloading the page masks it again, so
  every sight of the words is a choice the audit trail records.
- ``conversation_view``, ``listing_view``, ``escalations_view``, ``held_view``: the read models
  of ``service.views`` with masking applied for the user who will see them.

The REST API returns the stored text unmasked: integrations need it, and they are not people.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import InvalidRequest, NotFound, PermissionDenied
from gracedesk.model.signals import ABUSE
from gracedesk.model.staff import Staff
from gracedesk.service import views
from gracedesk.service.desk import audit
from gracedesk.service.records import SUPERVISING, require
from gracedesk.store import protect as masking_x
from gracedesk.store.engine import PerEngine

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from gracedesk.service.desk import Desk
    from gracedesk.store.escalations import Scrub

ABUSE_PREFIX = "abuse."
SETTING = "mask_abuse"  # desk_settings key of the team's default
DEFAULT_MASKING = True  # when no supervisor chose

Evidence = Iterable[Mapping[str, Any]]
Terms = Mapping[str, str]  # abusive words (as written) -> label


# -- pure text ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaskedSpan:
    """One masked stretch: where its placeholder is in the masked text, where the words were."""

    start: int  # in the masked text
    end: int
    source_start: int  # in the original text
    source_end: int
    signals: tuple[str, ...]  # abuse.insult, ...

    @property
    def label(self) -> str:
        return label_of(self.signals)


def label_of(signals: Iterable[str]) -> str:
    """``insult, profanity``: the kinds of abuse, most specific first (``offensive`` only when
    it is the only one, since it says least)."""
    kinds = {s.removeprefix(ABUSE_PREFIX) for s in signals}
    order = [k for k in ABUSE if k in kinds] + sorted(kinds - set(ABUSE))
    specific = [k for k in order if k != "offensive"]
    return ", ".join(specific or order or ["abuse"])


def placeholder(label: str) -> str:
    return f"[{label}]"


def _pattern(words: str) -> re.Pattern[str] | None:
    """``words`` anywhere, any case and spacing, not inside a longer word."""
    parts = words.split()
    if not parts:
        return None
    body = r"\s+".join(re.escape(p) for p in parts)
    head = r"(?<!\w)" if parts[0][0].isalnum() else ""
    tail = r"(?!\w)" if parts[-1][-1].isalnum() else ""
    return re.compile(head + body + tail, re.IGNORECASE)


def _abusive(ev: Mapping[str, Any]) -> str | None:
    signal = ev.get("signal")
    return signal if isinstance(signal, str) and signal.startswith(ABUSE_PREFIX) else None


def terms_of(evidence: Evidence, text: str | None = None) -> dict[str, str]:
    """The abusive words of a message's evidence, with their labels (for ``scrub``)."""
    found: dict[str, set[str]] = {}
    for ev in evidence:
        signal = _abusive(ev)
        if signal is None:
            continue
        words = [ev.get("text")]
        start, end = ev.get("start"), ev.get("end")
        if text is not None and isinstance(start, int) and isinstance(end, int):
            words.append(text[start:end] if 0 <= start < end <= len(text) else None)
        for w in words:
            if isinstance(w, str) and w.strip():
                found.setdefault(" ".join(w.split()), set()).add(signal)
    return {w: label_of(s) for w, s in found.items()}


def _cuts(text: str, evidence: Evidence, also: Terms) -> list[tuple[int, int, set[str]]]:
    """Abusive stretches of ``text`` (original offsets), overlapping ones merged.

    Fails closed: evidence whose offsets do not fit the text is looked for by its words, and
    every occurrence of an abusive word is masked, not only the one the evidence points at.
    """
    cuts: list[tuple[int, int, set[str]]] = []
    words: dict[str, set[str]] = {}
    for ev in evidence:
        signal = _abusive(ev)
        if signal is None:
            continue
        start, end, said = ev.get("start"), ev.get("end"), ev.get("text")
        fits = isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)
        if fits:
            assert isinstance(start, int) and isinstance(end, int)
            cuts.append((start, end, {signal}))
            words.setdefault(text[start:end], set()).add(signal)
        if isinstance(said, str) and not (fits and text[start:end] == said):
            words.setdefault(said, set()).add(signal)
    for term, label in also.items():
        words.setdefault(term, set()).update(ABUSE_PREFIX + k for k in label.split(", "))
    for term, signals in words.items():
        pattern = _pattern(term)
        if pattern is not None:
            cuts += [(m.start(), m.end(), set(signals)) for m in pattern.finditer(text)]
    merged: list[tuple[int, int, set[str]]] = []
    for start, end, signals in sorted(cuts, key=lambda c: (c[0], c[1])):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] | signals)
        else:
            merged.append((start, end, set(signals)))
    return merged


def mask(
    text: str, evidence: Evidence | None, *, also: Terms | None = None
) -> tuple[str, tuple[MaskedSpan, ...]]:
    """``text`` with every abusive span replaced by ``[label]``, and where each one went.

    Only ``abuse.*`` evidence masks; other evidence is left to ``masked_evidence``. The result
    is plain text (the template escapes it, like any customer text).
    """
    out: list[str] = []
    spans: list[MaskedSpan] = []
    at = length = 0
    for start, end, signals in _cuts(text, evidence or (), also or {}):
        ordered = tuple(sorted(signals))
        shown = placeholder(label_of(ordered))
        length += start - at
        spans.append(MaskedSpan(length, length + len(shown), start, end, ordered))
        out += [text[at:start], shown]
        length += len(shown)
        at = end
    out.append(text[at:])
    return "".join(out), tuple(spans)


def _moved(pos: int, spans: Sequence[MaskedSpan], *, closing: bool) -> int:
    """Where an original offset lands in the masked text (inside a span: that span's edge)."""
    shift = 0
    for sp in spans:  # in text order, not overlapping
        if closing and sp.source_start < pos <= sp.source_end:
            return sp.end
        if not closing and sp.source_start <= pos < sp.source_end:
            return sp.start
        if sp.source_end > pos:
            break
        shift = sp.end - sp.source_end  # how far everything after this span moved
    return pos + shift


def masked_evidence(
    text: str, evidence: Evidence | None, *, also: Terms | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The masked text and its evidence moved onto it, for highlighting.

    Each masked span becomes evidence of its abuse signals (so it is still marked ``ev-abuse``);
    other evidence keeps its signal and covers the same words, a placeholder whole where it
    overlapped one. Every ``text`` in the result is cut from the masked text.
    """
    items = list(evidence or ())
    masked, spans = mask(text, items, also=also)
    out: list[dict[str, Any]] = []
    for sp in spans:
        out += [{"signal": s, "start": sp.start, "end": sp.end} for s in sp.signals]
    for ev in items:
        start, end = ev.get("start"), ev.get("end")
        if _abusive(ev) is not None or not (isinstance(start, int) and isinstance(end, int)):
            continue
        if not 0 <= start < end <= len(text):
            continue
        a, b = _moved(start, spans, closing=False), _moved(end, spans, closing=True)
        out.append({**ev, "start": a, "end": b})
    for ev in out:
        ev["text"] = masked[ev["start"] : ev["end"]]
    return masked, out


def scrub(text: str, terms: Terms) -> str:
    """``text`` with each abusive word of ``terms`` replaced by ``[label]``, wherever it is."""
    if not text or not terms:
        return text
    for term in sorted(terms, key=len, reverse=True):
        pattern = _pattern(term)
        if pattern is not None:
            text = pattern.sub(placeholder(terms[term]), text)
    return text


def scrub_tree(value: Any, terms: Terms) -> Any:
    """Every string in a JSON-like value scrubbed; evidence ``abuse.*`` texts replaced whole."""
    if isinstance(value, str):
        return scrub(value, terms)
    if isinstance(value, list | tuple):
        return [scrub_tree(v, terms) for v in value]
    if isinstance(value, Mapping):
        signal = _abusive(value)
        out = {k: scrub_tree(v, terms) for k, v in value.items()}
        if signal is not None and isinstance(value.get("text"), str):
            out["text"] = placeholder(label_of([signal]))
        return out
    return value


# -- who sees masked words ------------------------------------------------------------------------


def team_masking(conn: Connection) -> bool:
    """The team's default: the supervisors' choice, else on."""
    stored = masking_x.setting_value(conn, SETTING)
    value = stored.get("value") if isinstance(stored, dict) else None
    return value if isinstance(value, bool) else DEFAULT_MASKING


def masking_for(desk: Desk, user: Staff) -> bool:
    """Whether ``user`` sees abusive words masked: their own choice, else the team's default."""
    with desk.store.read() as s:
        conn = s.connection()
        own = masking_x.own_masking(conn, user.id)
        return own if own is not None else team_masking(conn)


def team_setting(desk: Desk) -> dict[str, Any]:
    """The team's default and who set it last (for the team page)."""
    with desk.store.read() as s:
        conn = s.connection()
        row = masking_x.setting_row(conn, SETTING)
        by = masking_x.user(conn, row.updated_by) if row is not None and row.updated_by else None
        return {
            "mask_abuse": team_masking(conn),
            "updated_by": by.name if by is not None else None,
            "updated_at": row.updated_at.isoformat() if row is not None else None,
        }


def set_user_masking(desk: Desk, user: Staff, value: bool | None, now: datetime) -> dict[str, Any]:
    """A user's own choice (None: follow the team's default); returns what now applies."""
    with desk.store.write() as s:
        conn = s.connection()
        u = masking_x.user(conn, user.id)
        if u is None:
            raise NotFound(f"user {user.id} does not exist")
        before = u.mask_abuse
        masking_x.set_user_masking(conn, u.id, value)
        audit(
            s,
            "settings.changed",
            now=now,
            actor=user,
            key=SETTING,
            scope="user",
            user=u.name,
            old=before,
            new=value,
        )
        effective = value if value is not None else team_masking(conn)
        return {"user": u.name, "mask_abuse": value, "masked": effective}


def set_team_masking(desk: Desk, user: Staff, value: bool, now: datetime) -> dict[str, Any]:
    """The team's default (supervisors and admins); users with their own choice keep it."""
    require(user, *SUPERVISING)
    if not isinstance(value, bool):
        raise InvalidRequest("mask_abuse must be true or false")
    with desk.store.write() as s:
        conn = s.connection()
        before = team_masking(conn)
        masking_x.put_setting(conn, key=SETTING, value=value, by=user.id, now=now)
        audit(
            s,
            "settings.changed",
            now=now,
            actor=user,
            key=SETTING,
            scope="team",
            old=before,
            new=value,
        )
        return {"mask_abuse": value, "updated_by": user.name, "updated_at": now.isoformat()}


def reveal(desk: Desk, conv_id: int, message_id: int, *, user: Staff, now: datetime) -> None:
    """Record that ``user`` chose to read one customer message unmasked (who, when, which)."""
    with desk.store.write() as s:
        conn = s.connection()
        m = masking_x.message(conn, message_id)
        if m is None or m.conversation_id != conv_id:
            raise NotFound(f"conversation {conv_id} has no message {message_id}")
        if m.author != "customer":
            raise InvalidRequest(f"message {message_id} is not a customer's: nothing is masked")
        if m.hold == "held" and user.role not in SUPERVISING:
            raise PermissionDenied(f"message {message_id} is held for a supervisor")
        customer_id = masking_x.customer_of(conn, conv_id)
        audit(
            s,
            "message.revealed",
            now=now,
            actor=user,
            conversation_id=conv_id,
            customer_id=customer_id,
            reason="shown unmasked on request",
            message_id=message_id,
        )


# -- read models, masked ------------------------------------------------------------------------


class _TermsCache:
    """The abusive words of each analysed customer message of one database, by the message's
    version (its id, state and analysis attempts: a re-analysis or an erasure is a new one),
    so that the evidence of a conversation's earlier messages, read again for every
    notification and masked page, is parsed once per process. Bounded: the oldest entries go
    first."""

    SIZE = 100_000

    def __init__(self) -> None:
        self._terms: OrderedDict[tuple[int, str, int], dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def by_conversation(self, conn: Connection, wanted: list[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {i: {} for i in wanted}
        rows = masking_x.analysed_customer_messages(conn, wanted)
        keys = {
            int(r.id): (int(r.id), str(r.analysis_state), int(r.analysis_attempts)) for r in rows
        }
        with self._lock:
            known = {k: self._terms[k] for k in keys.values() if k in self._terms}
        missing = [i for i, k in keys.items() if k not in known]
        if missing:
            fresh = {
                keys[int(i)]: terms_of(evidence or [], text)
                for i, text, evidence in masking_x.customer_evidence(conn, missing)
            }
            known.update(fresh)
            self.remember(fresh)
        for r in rows:
            out[int(r.conversation_id)].update(known.get(keys[int(r.id)], {}))
        return out

    def remember(self, terms: Mapping[tuple[int, str, int], dict[str, str]]) -> None:
        with self._lock:
            self._terms.update(terms)
            while len(self._terms) > self.SIZE:
                self._terms.popitem(last=False)

    def forget(self, keys: Iterable[tuple[int, str, int]]) -> None:
        with self._lock:
            for k in keys:
                self._terms.pop(k, None)


_TERMS = PerEngine(_TermsCache)  # a message id is only unique within one database


def _cache_of(conn: Connection) -> _TermsCache:
    return _TERMS.of(conn.engine)


def _terms_by_conversation(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The abusive words of each conversation's customer messages."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return _cache_of(conn).by_conversation(conn, wanted)


def remember_terms(conn: Connection, analysed: Mapping[int, tuple[Iterable[Any], str]]) -> None:
    """Keep the abusive words of messages whose analyses the caller's transaction has just
    stored (``{message id: (the analysis' evidence, the text)}``), under the versions it reads
    (one statement): the worker's notifications then do not read that evidence back. Each
    message's row is the transaction's own until it commits, so the version read is the one
    the analysis made; if it rolls back, they are forgotten."""
    if not analysed:
        return
    rows = masking_x.versions(conn, sorted(analysed))
    kept = {
        (int(i), str(state), int(attempts)): terms_of(
            [e.to_dict() for e in analysed[int(i)][0]], analysed[int(i)][1]
        )
        for i, state, attempts in rows
    }
    cache = _cache_of(conn)
    cache.remember(kept)
    # rolled back, those versions were never stored: another analysis may be stored under them
    masking_x.on_rollback(conn, lambda: cache.forget(kept))


def notification_text(conn: Connection, conv_id: int, text: str) -> str:
    """Text about a conversation on its way out by e-mail or webhook, scrubbed of the words
    the customer's abuse used there while the team masks (the recipients are not one user)."""
    return notification_scrubber()(conn, conv_id, text)


def notification_scrubber(prefetch: Sequence[int] = ()) -> Scrub:
    """:func:`notification_text` for the notifications of a micro-batch: the team's choice is
    read once, when the first notification needs it, and a conversation's abusive words when
    its first notification needs them (only a new escalation's does; the words already learnt
    make that a read of the messages' versions). ``prefetch``: the conversations whose
    notifications the batch expects, read together at that first need (one statement for the
    batch instead of one per notification, under the write lock)."""
    masking: bool | None = None
    terms: dict[int, dict[str, str]] = {}
    ahead = sorted(set(prefetch))

    def scrub_one(c: Connection, conv_id: int, text: str) -> str:
        nonlocal masking, ahead
        if masking is None:
            masking = team_masking(c)
        if not masking:
            return text
        if conv_id not in terms:
            terms.update(_terms_by_conversation(c, [conv_id, *ahead]))
            ahead = []
        return scrub(text, terms[conv_id])

    return scrub_one


def _message(m: dict[str, Any], terms: Terms, revealed: bool) -> dict[str, Any]:
    if m["author"] != "customer":
        return {**scrub_tree(m, terms), "masked": [], "revealed": False}
    if revealed:
        return {**m, "masked": [], "revealed": True}
    signals = m.get("signals") or {}
    text, evidence = masked_evidence(m["text"], signals.get("evidence"), also=terms)
    shown = {**scrub_tree({k: v for k, v in m.items() if k != "text"}, terms), "text": text}
    kinds = {e["signal"] for e in evidence if _abusive(e)}
    labels = [label_of(kinds)] if kinds else []
    if signals:
        shown["signals"] = {**shown["signals"], "evidence": evidence}
    return {**shown, "masked": labels, "revealed": False}


def mask_detail(
    detail: Mapping[str, Any], *, revealed: Iterable[int] = (), extra: Terms | None = None
) -> dict[str, Any]:
    """A ``views.conversation_detail`` with every abusive word masked (pure).

    Customer messages are masked by their evidence (except those in ``revealed``); every other
    string (subject, guidance, decisions, packets, notes, history) is scrubbed of the words the
    customer's messages used, and of ``extra`` (words of the customer's other conversations).
    """
    terms: dict[str, str] = dict(extra or {})
    for m in detail.get("messages", []):
        if m.get("author") == "customer":
            terms.update(terms_of((m.get("signals") or {}).get("evidence") or [], m.get("text")))
    shown = set(revealed)
    out: dict[str, Any] = scrub_tree({k: v for k, v in detail.items() if k != "messages"}, terms)
    out["messages"] = [_message(m, terms, m["id"] in shown) for m in detail.get("messages", [])]
    last = next((m for m in reversed(out["messages"]) if m["author"] == "customer"), None)
    if last is not None and detail.get("signals") is not None:
        out["signals"] = last.get("signals")
    return out


def conversation_view(
    desk: Desk,
    conv_id: int,
    *,
    user: Staff,
    now: datetime,
    revealed: Iterable[int] = (),
) -> dict[str, Any]:
    """``views.conversation_detail`` as ``user`` may see it; ``masking`` says if it was masked.

    A message a sanction holds is for supervisors to read: an agent gets it without its text
    (``withheld``), masked or not, revealed or not (it was never analysed, so masking could not
    find its abusive words)."""
    detail = _withhold_held(views.conversation_detail(desk, conv_id, user=user, now=now), user)
    if not masking_for(desk, user):
        return {**detail, "masking": False}
    history = [h["id"] for h in detail["customer"]["history"]]
    with desk.store.read_core() as conn:
        extra: dict[str, str] = {}
        for terms in _terms_by_conversation(conn, history).values():
            extra.update(terms)
    return {**mask_detail(detail, revealed=revealed, extra=extra), "masking": True}


def _withhold_held(detail: dict[str, Any], user: Staff) -> dict[str, Any]:
    if user.role in SUPERVISING:
        return detail
    messages = [
        {**m, "text": "", "signals": None, "withheld": True} if m.get("hold") == "held" else m
        for m in detail.get("messages", [])
    ]
    return {**detail, "messages": messages}


def _scrub_each(
    desk: Desk, user: Staff, items: list[dict[str, Any]], key: str
) -> list[dict[str, Any]]:
    """Each item scrubbed of its conversation's abusive words (``item[key]`` names it)."""
    if not items or not masking_for(desk, user):
        return items
    with desk.store.read_core() as conn:
        terms = _terms_by_conversation(conn, [int(i[key]) for i in items])
    return [scrub_tree(i, terms[int(i[key])]) for i in items]


def listing_view(desk: Desk, listing: dict[str, Any], *, user: Staff) -> dict[str, Any]:
    """``views.list_conversations`` with the subjects masked for ``user``."""
    return {**listing, "items": _scrub_each(desk, user, list(listing["items"]), "id")}


def escalations_view(
    desk: Desk, items: list[dict[str, Any]], *, user: Staff
) -> list[dict[str, Any]]:
    """``views.list_escalations`` with reasons, subjects and hand-over packets masked."""
    return _scrub_each(desk, user, items, "conversation_id")


def held_view(desk: Desk, items: list[dict[str, Any]], *, user: Staff) -> list[dict[str, Any]]:
    """``views.held_messages`` scrubbed of the words their conversation used before (a held
    message is not analysed, so only words known from earlier messages can be masked)."""
    return _scrub_each(desk, user, items, "conversation_id")
