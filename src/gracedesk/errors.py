"""One error tree with coded messages.

GracedeskError
 ├── InvalidInput (GD1xx)       the caller's input cannot be used
 │    ├── EmptyText (GD101)
 │    ├── MalformedLine (GD102)
 │    ├── InvalidContext (GD103)
 │    ├── InvalidRequest (GD110)    a desk request's fields cannot be used (HTTP 422)
 │    ├── InvalidFacts (GD310)      a decide scenario's facts cannot be used
 │    └── InvalidCoachContext (GD402, also a CoachError)  bad context line, time zone or calendar
 ├── ModelError (GD2xx)         a shipped model is missing or cannot be loaded
 │    └── UnknownTier (GD201)
 ├── PolicyError (GD3xx)        a policy cannot be loaded or applied
 │    ├── PolicyNotFound (GD301)
 │    └── PolicyInvalid (GD302)     ``.problems`` lists every "file: rule: key: message"
 ├── CoachError (GD4xx)         a draft cannot be coached
 │    └── CoachRulesError (GD401)   coach_rules.toml does not load (group, key, regex error)
 ├── GuidanceError (GD5xx)      guidance cannot be given
 │    ├── PhraseFileError (GD501)   a phrase pack does not match its schema (file, phrase id, key)
 │    └── InvalidScenario (GD502)   conversation, customer history, agent or commitments unusable
 ├── NotificationError (GD600)  every configured channel failed; the job retries later
 ├── TrainingError (GD9xx)      ScenarioInvalid (GD901), ScenarioNotFound (GD902), SessionEnded (GD903)
 └── DeskError (GD7xx)          the desk: store, service, web
      ├── NotFound (GD701), PermissionDenied (GD702), Conflict (GD703), Unauthenticated (GD704)
      └── StoreUnavailable (GD710)  the database cannot be reached or stays locked (HTTP 503)

The core raises these; entry points (CLI, web) map them to exit codes or HTTP problems.
"""

from __future__ import annotations


class GracedeskError(Exception):
    code = "GD000"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "type": type(self).__name__, "message": self.message}


class InvalidInput(GracedeskError):
    code = "GD100"


class EmptyText(InvalidInput):
    code = "GD101"


class MalformedLine(InvalidInput):
    code = "GD102"


class InvalidContext(InvalidInput):
    code = "GD103"


class ModelError(GracedeskError):
    code = "GD200"


class UnknownTier(ModelError):
    code = "GD201"


# -- guidance (GD5xx) ---------------------------------------------------------------------------


class GuidanceError(GracedeskError):
    code = "GD500"


class PhraseFileError(GuidanceError):
    code = "GD501"


class InvalidScenario(GuidanceError):
    code = "GD502"


# -- policy (GD3xx) -----------------------------------------------------------------------------


class InvalidFacts(InvalidInput):
    code = "GD310"


class PolicyError(GracedeskError):
    code = "GD300"


class PolicyNotFound(PolicyError):
    code = "GD301"


class PolicyInvalid(PolicyError):
    """A policy that failed validation; ``problems`` holds one line per error found."""

    code = "GD302"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{n} problem(s) in the policy:\n  " + "\n  ".join(self.problems))


# -- coach (GD4xx) ------------------------------------------------------------------------------


class CoachError(GracedeskError):
    code = "GD400"


class CoachRulesError(CoachError):
    code = "GD401"


class InvalidCoachContext(CoachError, InvalidInput):
    code = "GD402"


# -- notifications (GD6xx) ----------------------------------------------------------------------


class NotificationError(GracedeskError):
    code = "GD600"


# -- channels (GD8xx): e-mail, helpdesk connectors, imports ------------------------------------


class ChannelError(GracedeskError):
    code = "GD800"


class DeliveryError(ChannelError):
    """A reply could not be handed to its channel. ``retryable``: try again later (a server
    away, a 5xx, a timeout); otherwise it can never succeed as it is (no address, a 4xx)."""

    code = "GD801"

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class BadSignature(ChannelError):
    """A helpdesk webhook whose signature or shared secret does not verify (or is stale)."""

    code = "GD802"


class ImportFailed(ChannelError):
    code = "GD803"


# -- training (GD9xx): simulated customers, scenarios (gracedesk.training, docs/training.md) -----


class TrainingError(GracedeskError):
    code = "GD900"


class ScenarioInvalid(TrainingError, InvalidInput):
    """A scenario file that does not match the format; the message names the file and key."""

    code = "GD901"


class ScenarioNotFound(TrainingError):
    code = "GD902"


class SessionEnded(TrainingError):
    """A reply given to a training session that has already ended."""

    code = "GD903"


# -- desk (GD7xx): store, service, web ----------------------------------------------------------


class DeskError(GracedeskError):
    code = "GD700"


class NotFound(DeskError):
    code = "GD701"


class PermissionDenied(DeskError):
    code = "GD702"


class Conflict(DeskError):
    code = "GD703"


class Unauthenticated(DeskError):
    code = "GD704"


class StoreUnavailable(DeskError):
    """The database cannot be reached (down, refusing connections, locked beyond the timeout,
    its file unreadable): answered 503 with ``Retry-After``; nothing already stored is lost."""

    code = "GD710"


class InvalidRequest(InvalidInput):
    """A desk request whose fields cannot be used (wrong state, bad value)."""

    code = "GD110"
