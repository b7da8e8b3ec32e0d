"""Training on the desk: practice sessions, assignments, certification, scenarios from the desk.

A session stores only what replays it: the scenario id, the seed and the trainee's turns. Every
request rebuilds the simulated customer with ``training.replay`` (deterministic), so nothing of
the simulator's state lives in the store and a new simulator version replays old sessions.
When the simulation ends (or the trainee ends it) the score, pass and outcome are copied onto
the row, for the progress tables.

- **Sessions**: :func:`start`, :func:`reply` and :func:`finish` act for the signed-in user on
  their own session; :func:`practice` shows one (its owner, or a supervisor or admin).
- **Assignments**: supervisors and admins :func:`assign` a scenario or a named set to an agent,
  optionally with a due date; an assignment is done when the agent passes, after it was made,
  every scenario it names.
- **Certification**: an agent who has passed every scenario of a set (``training/sets.toml``)
  is certified for it once, with the passing sessions' ids.
- **Progress** (:func:`progress`): each person's sessions and scores over time.
- **From the desk** (:func:`desk_conversations`): the store's resolved conversations as the
  plain values ``training.from_desk`` turns into scenarios.

Every change is an audit event: ``training.started``, ``training.finished``,
``training.assigned``, ``training.certified``.
"""

from __future__ import annotations

import functools
import logging
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gracedesk.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ScenarioInvalid,
)
from gracedesk.model.staff import Staff
from gracedesk.service.desk import audit
from gracedesk.service.erasure import ERASED_FLAG
from gracedesk.service.records import SUPERVISING, require
from gracedesk.store import training as training_store
from gracedesk.training import PASS_MARK, load_scenarios, parse_scenario, replay
from gracedesk.training.from_desk import DeskConversation, DeskTurn, ranked

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from gracedesk.store import Store
    from gracedesk.training import Scenario, SessionResult, Simulation

TEXT_MAX = 2000  # characters of one trainee reply
SEED_MAX = 2**31 - 1
SETS_FILE = "sets.toml"
DESK_CANDIDATES = 2000  # resolved conversations ranked for ``train build --from-desk``


# -- the library: scenarios and sets ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """A named set of scenarios; passing all of them certifies an agent for the set."""

    name: str
    title: str
    description: str
    scenarios: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Library:
    """The scenarios a desk can practise (packaged, plus the data directory's) and the sets."""

    scenarios: dict[str, Scenario]
    sets: dict[str, TrainingSet]
    local: frozenset[str] = frozenset()  # ids from the data directory, not the package

    def scenario(self, scenario_id: str) -> Scenario:
        try:
            return self.scenarios[scenario_id]
        except KeyError:
            raise NotFound(f"there is no scenario {scenario_id!r}") from None

    def named_set(self, name: str) -> TrainingSet:
        try:
            return self.sets[name]
        except KeyError:
            raise NotFound(f"there is no training set {name!r}") from None


def scenario_dirs(home: Path) -> tuple[Path, ...]:
    """The data directory's ``scenarios/`` folder when it exists (``train build`` writes it)."""
    folder = home.expanduser() / "scenarios"
    return (folder,) if folder.is_dir() else ()


def _stamp(dirs: Sequence[Path]) -> tuple[tuple[str, int], ...]:
    """What the folders hold now (names and modification times): a changed file reloads."""
    out = []
    for d in dirs:
        for p in sorted(d.glob("*.toml")):
            out.append((str(p), p.stat().st_mtime_ns))
    return tuple(out)


def library(extra_dirs: Sequence[Path] = ()) -> Library:
    """The scenarios (shipped first, then ``extra_dirs``) and the sets of ``sets.toml``."""
    dirs = tuple(Path(d) for d in extra_dirs)
    return _library(dirs, _stamp(dirs))


@functools.lru_cache(maxsize=8)
def _library(dirs: tuple[Path, ...], stamp: tuple[tuple[str, int], ...]) -> Library:
    """The packaged scenarios, then each valid file of ``dirs``. A file of the team's folder that
    does not validate, or repeats an id, is left out and logged by name (not the folder): one
    bad file must not close the training pages to everyone."""
    scenarios = {s.id: s for s in load_scenarios()}
    local: set[str] = set()
    for d in dirs:
        for f in sorted(d.glob("*.toml")):
            try:
                sc = parse_scenario(f.read_text("utf-8"), f.name, stem=f.stem)
            except (ScenarioInvalid, OSError, UnicodeDecodeError) as exc:
                log.warning("scenario file %s left out: %s", f.name, type(exc).__name__)
                continue
            if sc.id in scenarios:
                log.warning("scenario file %s left out: its id is already used", f.name)
                continue
            scenarios[sc.id] = sc
            local.add(sc.id)
    return Library(scenarios, load_sets(), frozenset(local))


def forget_customer(store: Store, home: Path, customer_id: int) -> int:
    """Delete the scenario files ``train build --from-desk`` made from a customer's
    conversations (``desk-<conversation id>-*.toml``), after the customer is erased: they
    hold the customer's masked words. Returns how many were deleted."""
    dirs = scenario_dirs(home)
    if not dirs:
        return 0
    with store.read_core() as conn:
        ids = training_store.customer_conversation_ids(conn, customer_id)
    n = 0
    for d in dirs:
        for cid in ids:
            for f in d.glob(f"desk-{cid}-*.toml"):
                f.unlink(missing_ok=True)
                n += 1
    return n


@functools.cache
def load_sets() -> dict[str, TrainingSet]:
    """``training/sets.toml``: ``[sets.NAME]`` with ``title``, ``description``, ``scenarios``.

    Unknown keys are errors (like every data file here); ids are checked against the library
    by the tests, not at load, so a desk that removes a scenario still starts."""
    raw = tomllib.loads(files("gracedesk.training").joinpath(SETS_FILE).read_text("utf-8"))
    if set(raw) != {"sets"} or not isinstance(raw["sets"], dict):
        raise ValueError(f"{SETS_FILE}: the file holds one table, [sets.NAME]")
    out = {}
    for name, body in raw["sets"].items():
        if not isinstance(body, dict) or set(body) - {"title", "description", "scenarios"}:
            raise ValueError(f"{SETS_FILE}: sets.{name}: keys are title, description, scenarios")
        ids = body.get("scenarios")
        if not isinstance(ids, list) or not ids or not all(isinstance(x, str) for x in ids):
            raise ValueError(f"{SETS_FILE}: sets.{name}.scenarios: a list of scenario ids")
        out[name] = TrainingSet(
            name, str(body.get("title", name)), str(body.get("description", "")), tuple(ids)
        )
    return out


# -- sessions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Practice:
    """A session as a page shows it: the row's facts and the replayed simulation."""

    id: int
    user_id: int
    scenario: Scenario
    seed: int
    status: str  # in_progress | done
    started_at: datetime
    finished_at: datetime | None
    simulation: Simulation
    result: SessionResult | None  # when done

    @property
    def done(self) -> bool:
        return self.status == "done"


def _session(conn: Connection, session_id: int, *, lock: bool = False) -> Row[Any]:
    row = training_store.session(conn, session_id, lock=lock)
    if row is None:
        raise NotFound(f"training session {session_id} does not exist")
    return row


def _replay(scenario: Scenario, row: Row[Any], turns: Sequence[str]) -> Simulation:
    """The session rebuilt. Always the fast analysis tier (the simulator's default), whatever
    the desk's: a stored session must replay the same after the desk changes tier."""
    return replay(scenario, row.seed, list(turns))


def _view(row: Row[Any], lib: Library) -> Practice:
    scenario = lib.scenario(row.scenario_id)
    sim = _replay(scenario, row, [str(t) for t in row.turns])
    done = row.status == "done"
    return Practice(
        id=row.id,
        user_id=row.user_id,
        scenario=scenario,
        seed=row.seed,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        simulation=sim,
        result=sim.result(pass_mark=PASS_MARK) if done else None,
    )


def start(
    store: Store,
    lib: Library,
    scenario_id: str,
    *,
    user: Staff,
    now: datetime,
    seed: int | None = None,
) -> int:
    """A new session of ``scenario_id`` for ``user``; its id. The seed defaults to that id, so
    two sessions of one scenario differ and each replays the same."""
    lib.scenario(scenario_id)  # NotFound before anything is written
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise InvalidRequest(f"seed must be 0..{SEED_MAX}")
    with store.write() as s:
        row = training_store.add_session(
            s.connection(), user_id=user.id, scenario_id=scenario_id, seed=seed, now=now
        )
        audit(s, "training.started", now=now, actor=user, session=row.id, scenario=scenario_id)
        return int(row.id)


def practice(store: Store, lib: Library, session_id: int, *, user: Staff) -> Practice:
    """One session, replayed: its owner's, or anyone's for a supervisor or admin."""
    with store.read_core() as conn:
        row = _session(conn, session_id)
    if row.user_id != user.id and user.role not in SUPERVISING:
        raise PermissionDenied("this is another person's practice session")
    return _view(row, lib)


def reply(
    store: Store,
    lib: Library,
    session_id: int,
    text: str,
    *,
    user: Staff,
    now: datetime,
    turn: int | None = None,
) -> Practice:
    """The trainee's next reply. ``turn`` (the replies already given, as the page showed
    them) makes a resent form harmless: a stale count is a Conflict, nothing is added.

    When the customer accepts or leaves (the simulation is done), the session ends here."""
    text = text.strip()
    if not text:
        raise InvalidRequest("the reply is empty")
    if len(text) > TEXT_MAX:
        raise InvalidRequest(f"a reply has at most {TEXT_MAX} characters")
    with store.write() as s:
        conn = s.connection()
        row = _session(conn, session_id, lock=True)
        if row.user_id != user.id:
            raise PermissionDenied("only the trainee can reply in their practice session")
        if row.status != "in_progress":
            raise Conflict("this practice session has ended")
        if turn is not None and turn != len(row.turns):
            raise Conflict("this reply was already sent (the page was out of date)")
        scenario = lib.scenario(row.scenario_id)
        turns = [*(str(t) for t in row.turns), text]
        sim = _replay(scenario, row, turns)
        training_store.set_turns(conn, row.id, turns)
        if sim.done:
            _finish(s, row, sim, lib, user=user, now=now)
        return _view(_session(conn, session_id), lib)


def finish(store: Store, lib: Library, session_id: int, *, user: Staff, now: datetime) -> Practice:
    """End the session now (the trainee stops early): scored on the replies given."""
    with store.write() as s:
        conn = s.connection()
        row = _session(conn, session_id, lock=True)
        if row.user_id != user.id:
            raise PermissionDenied("only the trainee can end their practice session")
        if row.status != "in_progress":
            raise Conflict("this practice session has already ended")
        sim = _replay(lib.scenario(row.scenario_id), row, [str(t) for t in row.turns])
        _finish(s, row, sim, lib, user=user, now=now)
        return _view(_session(conn, session_id), lib)


def _finish(
    s: Session, row: Row[Any], sim: Simulation, lib: Library, *, user: Staff, now: datetime
) -> None:
    result = sim.result(pass_mark=PASS_MARK)
    conn = s.connection()
    training_store.finish_session(
        conn,
        row.id,
        score=float(result.score),
        passed=bool(result.passed),
        outcome=str(result.outcome) if result.outcome else None,
        now=now,
    )
    row = _session(conn, row.id)
    audit(
        s,
        "training.finished",
        now=now,
        actor=user,
        session=row.id,
        scenario=row.scenario_id,
        score=row.score,
        passed=row.passed,
        outcome=row.outcome,
    )
    if row.passed:
        _close_assignments(conn, row.user_id, lib, now=now)
        _certify(s, row.user_id, lib, user=user, now=now)


def _passed(conn: Connection, user_id: int, since: datetime | None = None) -> dict[str, int]:
    """Each scenario the user passed (after ``since``) and its first passing session's id."""
    return training_store.passed_scenarios(conn, user_id, since)


def _wanted(a: Row[Any], lib: Library) -> tuple[str, ...]:
    if a.scenario_id is not None:
        return (a.scenario_id,)
    named = lib.sets.get(a.set_name or "")
    return named.scenarios if named else ()


def _close_assignments(conn: Connection, user_id: int, lib: Library, *, now: datetime) -> None:
    for a in training_store.open_assignments(conn, user_id):
        wanted = _wanted(a, lib)
        if wanted and set(wanted) <= set(_passed(conn, user_id, since=a.created_at)):
            training_store.close_assignment(conn, a.id, now=now)


def _certify(s: Session, user_id: int, lib: Library, *, user: Staff, now: datetime) -> None:
    conn = s.connection()
    passed = _passed(conn, user_id)
    have = training_store.certified_sets(conn, user_id)
    for name, ts in lib.sets.items():
        if name in have or not set(ts.scenarios) <= set(passed):
            continue
        ids = [passed[x] for x in ts.scenarios]
        if not training_store.add_certification(
            conn, user_id=user_id, set_name=name, now=now, sessions=ids
        ):  # a session of theirs that finished at the same moment certified
            continue
        audit(s, "training.certified", now=now, actor=user, set=name, sessions=ids)


# -- assignments --------------------------------------------------------------------------------


def assign(
    store: Store,
    lib: Library,
    *,
    by: Staff,
    agent_id: int,
    now: datetime,
    scenario_id: str | None = None,
    set_name: str | None = None,
    due_at: datetime | None = None,
) -> dict[str, Any]:
    """Ask an agent to practise a scenario or a set (supervisors and admins)."""
    require(by, *SUPERVISING)
    if (scenario_id is None) == (set_name is None):
        raise InvalidRequest("assign either a scenario or a set")
    if scenario_id is not None:
        lib.scenario(scenario_id)
    if set_name is not None:
        lib.named_set(set_name)
    if due_at is not None and due_at.tzinfo is None:
        raise InvalidRequest("the due date must carry a time zone")
    with store.write() as s:
        conn = s.connection()
        agent = training_store.user(conn, agent_id)
        if agent is None or not agent.active:
            raise NotFound(f"there is no active user {agent_id}")
        row = training_store.add_assignment(
            conn,
            user_id=agent.id,
            assigned_by=by.id,
            scenario_id=scenario_id,
            set_name=set_name,
            due_at=due_at,
            now=now,
        )
        audit(
            s,
            "training.assigned",
            now=now,
            actor=by,
            assignment=row.id,
            agent=agent.name,
            scenario=scenario_id,
            set=set_name,
            due=due_at.isoformat() if due_at else None,
        )
        return assignment_dict(row, agent.name, by.name, lib)


def assignment_dict(a: Row[Any], agent: str, by: str | None, lib: Library) -> dict[str, Any]:
    return {
        "id": a.id,
        "agent_id": a.user_id,
        "agent": agent,
        "assigned_by": by,
        "scenario_id": a.scenario_id,
        "set_name": a.set_name,
        "what": a.scenario_id or f"set {a.set_name}",
        "scenarios": list(_wanted(a, lib)),
        "due_at": a.due_at,
        "created_at": a.created_at,
        "done_at": a.done_at,
    }


def assignments(
    store: Store, lib: Library, *, user: Staff, agent_id: int | None = None
) -> list[dict[str, Any]]:
    """Assignments, open first then newest: an agent's own; anyone's for supervisors."""
    if user.role not in SUPERVISING:
        if agent_id not in (None, user.id):
            raise PermissionDenied("an agent sees only their own assignments")
        agent_id = user.id
    names = user_names(store)
    with store.read_core() as conn:
        rows = training_store.assignments(conn, agent_id=agent_id)
    rows.sort(key=lambda a: (a.done_at is not None, -a.created_at.timestamp(), -a.id))
    return [
        assignment_dict(
            a, names.get(a.user_id, "?"), names.get(a.assigned_by) if a.assigned_by else None, lib
        )
        for a in rows
    ]


def user_names(store: Store) -> dict[int, str]:
    with store.read_core() as conn:
        return training_store.user_names(conn)


def trainees(store: Store, *, by: Staff) -> list[dict[str, Any]]:
    """The active people a supervisor can assign training to (agents first, by name)."""
    require(by, *SUPERVISING)
    with store.read_core() as conn:
        rows = training_store.active_users(conn)
        people = [{"id": u.id, "name": u.name, "role": u.role} for u in rows]
    return sorted(people, key=lambda p: (p["role"] != "agent", p["name"]))


# -- scenarios from the desk's hardest conversations -------------------------------------------


def desk_conversations(store: Store, *, limit: int) -> list[DeskConversation]:
    """The resolved conversations ``training.from_desk`` ranks, the hardest ``limit`` of them
    with their messages (customer messages with their stored signals).

    Candidates: resolved conversations that were escalated, rated 1-2, or reached risk 0.5+
    (at most ``DESK_CANDIDATES``, riskiest first); ranked by ``from_desk.hardness``. An erased
    customer's conversations are left out (their text is gone, and must stay gone)."""
    with store.read_core() as conn:
        rows = training_store.desk_candidates(conn, limit=DESK_CANDIDATES)
        shells = [
            DeskConversation(
                id=c.id,
                channel=c.channel,
                subject=c.subject,
                risk=max(c.risk or 0.0, c.peak_risk or 0.0),
                escalated=bool(c.escalated),
                csat=int(c.score) if c.score is not None else None,
                resolution=c.resolution,
            )
            for c in rows
        ]
        out: list[DeskConversation] = []
        for x in ranked(x for x in shells if x.escalated or x.risk >= 0.5 or (x.csat or 5) <= 2):
            full = _with_messages(conn, x)
            if full is not None and full.customer_turns:  # agent notes only teach nothing
                out.append(full)
            if len(out) == limit:
                break
        return out


def _with_messages(conn: Connection, c: DeskConversation) -> DeskConversation | None:
    """``c`` with its messages and the names to mask; None for an erased customer's."""
    cust = training_store.conversation_customer(conn, c.id)
    if cust is not None and ERASED_FLAG in (cust.flags or []):
        return None
    msgs = training_store.desk_turns(conn, c.id)
    agent_ids = {m.author_user_id for m in msgs if m.author_user_id is not None}
    agents = [(name, display) for name, display in training_store.staff_names(conn, agent_ids)]
    return replace(
        c,
        customer_name=cust.name if cust is not None else None,
        agent_names=tuple(sorted({n for pair in agents for n in pair})),
        turns=tuple(
            DeskTurn(m.author, m.text, m.signals if isinstance(m.signals, dict) else None)
            for m in msgs
        ),
    )
