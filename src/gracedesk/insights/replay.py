"""Policy replay, the report: how a candidate policy's decisions differ from those that ran.

Pure: :class:`Replayed` rows in (one per stored customer message, with the decisions stored for
it and the candidate's, built by :func:`gracedesk.service.replay.replay`), a JSON-ready dict out
(:func:`report`) and its text form (:func:`render_text`). Decisions compare on action, target
(for ``set_priority``: the priority) and rule id, and whether they wait for a supervisor.

Supervisor workload counts what a supervisor has to decide: escalations, approvals and sanctions
to confirm. As the desk does not open a second escalation (or approval) of the same kind and
target while one is pending, each counts once per conversation, in the week of the message that
first asked for it. docs/insights-outcomes.md ("Policy replay").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SANCTIONS = ("warn_customer", "restrict", "block")
SUPERVISED = ("escalate", "require_approval")  # always wait for a supervisor


@dataclass(frozen=True, slots=True, order=True)
class Choice:
    """One decision as replay compares it."""

    action: str
    target: str | None  # set_priority: the priority; otherwise the decision's target
    rule_id: str
    supervisor: bool = False  # a supervisor must decide it (escalation, approval, sanction)

    def label(self) -> str:
        what = self.action if self.target is None else f"{self.action} {self.target}"
        return f"{what} [{self.rule_id}]" + (" (supervisor)" if self.supervisor else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "target": self.target,
            "rule_id": self.rule_id,
            "supervisor": self.supervisor,
        }


def choice_of(d: dict[str, Any]) -> Choice:
    """A decision's dict (``Decision.to_dict()`` or a stored row's) as a :class:`Choice`."""
    action = str(d["action"])
    target = d.get("priority") if action == "set_priority" else d.get("target")
    supervisor = action in SUPERVISED or (action in SANCTIONS and bool(d.get("approval_required")))
    return Choice(action, None if target is None else str(target), str(d["rule_id"]), supervisor)


@dataclass(frozen=True, slots=True)
class Replayed:
    """One stored customer message: the decisions that ran and the candidate's."""

    conversation_id: int
    message_id: int
    at: datetime  # when the decisions were made (the replay's ``now``)
    before: tuple[Choice, ...]
    after: tuple[Choice, ...]
    ran: str = ""  # the policy version that made the stored decisions

    @property
    def added(self) -> list[Choice]:
        return sorted((Counter(self.after) - Counter(self.before)).elements())

    @property
    def removed(self) -> list[Choice]:
        return sorted((Counter(self.before) - Counter(self.after)).elements())

    @property
    def changed(self) -> bool:
        return Counter(self.before) != Counter(self.after)


def link(conversation_id: int, message_id: int) -> str:
    """The message in the console (its thread entry carries ``id="m<id>"``)."""
    return f"/console/conversations/{conversation_id}#m{message_id}"


def week(at: datetime) -> str:
    y, w, _ = at.isocalendar()
    return f"{y}-W{w:02d}"


def _weeks(first: datetime, last: datetime) -> list[str]:
    """Every ISO week from ``first`` to ``last`` (a quiet week counts as zero, not as absent)."""
    monday = first.date() - timedelta(days=first.weekday())
    out: list[str] = []
    while monday <= last.date():
        out.append(week(datetime.combine(monday, datetime.min.time())))
        monday += timedelta(days=7)
    return out


def workload(rows: Sequence[Replayed], side: str) -> Counter[str]:
    """Supervisor items per ISO week, each (kind, target) once per conversation."""
    seen: set[tuple[int, str, str | None]] = set()
    out: Counter[str] = Counter()
    for r in sorted(rows, key=lambda r: r.message_id):
        for c in getattr(r, side):
            key = (r.conversation_id, c.action, c.target)
            if c.supervisor and key not in seen:
                seen.add(key)
                out[week(r.at)] += 1
    return out


def _count(rows: Iterable[Replayed], side: str, field: str) -> Counter[str]:
    return Counter(str(getattr(c, field)) for r in rows for c in getattr(r, side))


def _moves(rows: Sequence[Replayed], actions: Sequence[str]) -> dict[str, dict[str, int]]:
    """Added and removed decisions of ``actions``, by action and target."""
    out: dict[str, dict[str, int]] = {"added": {}, "removed": {}}
    for side in ("added", "removed"):
        n: Counter[str] = Counter(
            c.label().split(" [")[0] for r in rows for c in getattr(r, side) if c.action in actions
        )
        out[side] = dict(sorted(n.items()))
    return out


def _example(r: Replayed) -> dict[str, Any]:
    return {
        "conversation_id": r.conversation_id,
        "message_id": r.message_id,
        "at": r.at.isoformat(),
        "link": link(r.conversation_id, r.message_id),
        "added": [c.to_dict() for c in r.added],
        "removed": [c.to_dict() for c in r.removed],
        "what": [f"+ {c.label()}" for c in r.added] + [f"- {c.label()}" for c in r.removed],
        "rules": sorted({c.rule_id for c in (*r.added, *r.removed)}),
    }


def report(
    rows: Sequence[Replayed],
    *,
    candidate: str = "",
    examples: int = 20,
    skipped: int = 0,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """How the candidate's decisions differ from the stored ones (JSON-ready)."""
    changed = [r for r in rows if r.changed]
    actions = sorted(set(_count(rows, "before", "action")) | set(_count(rows, "after", "action")))
    b_act, a_act = _count(rows, "before", "action"), _count(rows, "after", "action")
    b_rule, a_rule = _count(rows, "before", "rule_id"), _count(rows, "after", "rule_id")
    b_work, a_work = workload(rows, "before"), workload(rows, "after")
    weeks = _weeks(min(r.at for r in rows), max(r.at for r in rows)) if rows else []
    return {
        "candidate": candidate,
        "ran": dict(sorted(Counter(r.ran for r in rows).items())),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "messages": len(rows),
        "skipped": skipped,
        "conversations": len({r.conversation_id for r in rows}),
        "changed": len({r.conversation_id for r in changed}),
        "changed_messages": len(changed),
        "by_action": {
            a: {
                "before": b_act[a],
                "after": a_act[a],
                "added": sum(1 for r in changed for c in r.added if c.action == a),
                "removed": sum(1 for r in changed for c in r.removed if c.action == a),
            }
            for a in actions
        },
        "by_rule": {
            k: {"before": b_rule[k], "after": a_rule[k]} for k in sorted(set(b_rule) | set(a_rule))
        },
        "escalations": _moves(changed, ("escalate",)),
        "approvals": _moves(changed, ("require_approval",)),
        "sanctions": _moves(changed, SANCTIONS),
        "workload": {
            "weeks": [{"week": w, "before": b_work[w], "after": a_work[w]} for w in weeks],
            "before_per_week": round(sum(b_work.values()) / len(weeks), 2) if weeks else 0.0,
            "after_per_week": round(sum(a_work.values()) / len(weeks), 2) if weeks else 0.0,
        },
        "examples": [_example(r) for r in changed[:examples]],
    }


def render_text(rep: dict[str, Any]) -> str:
    """The report for a person: totals, what moved, workload, examples."""
    out = [
        f"candidate {rep['candidate']} against the decisions stored "
        f"({', '.join(f'{v}: {n}' for v, n in rep['ran'].items()) or 'none'})",
        f"replayed {rep['messages']} message(s) in {rep['conversations']} conversation(s) "
        f"({rep['skipped']} not analysed, skipped); changed: {rep['changed']} conversation(s), "
        f"{rep['changed_messages']} message(s)",
        "",
        "decisions by action (before -> after, +added -removed):",
    ]
    for a, n in rep["by_action"].items():
        out.append(f"  {a:20} {n['before']:>6} -> {n['after']:<6} +{n['added']} -{n['removed']}")
    out += ["", "decisions by rule (before -> after, changed only):"]
    moved = {k: n for k, n in rep["by_rule"].items() if n["before"] != n["after"]}
    out += [f"  {k:32} {n['before']:>6} -> {n['after']}" for k, n in moved.items()] or ["  none"]
    for key in ("escalations", "approvals", "sanctions"):
        m = rep[key]
        added = ", ".join(f"{k} x{n}" for k, n in m["added"].items()) or "none"
        removed = ", ".join(f"{k} x{n}" for k, n in m["removed"].items()) or "none"
        out.append(f"{key}: added {added}; removed {removed}")
    w = rep["workload"]
    out += [
        "",
        f"supervisor workload per week: {w['before_per_week']} -> {w['after_per_week']}",
        *(f"  {x['week']}  {x['before']:>4} -> {x['after']}" for x in w["weeks"]),
    ]
    if rep["examples"]:
        out += ["", "examples:"]
        for e in rep["examples"]:
            out.append(
                f"  conversation {e['conversation_id']} message {e['message_id']}  {e['link']}"
            )
            out += [f"      {line}" for line in e["what"]]
    return "\n".join(out) + "\n"
