"""Build the Desk for some settings: the store (migrated), the policy and the models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gracedesk.analysis.pipeline import get_analyzer
from gracedesk.policy import load_policy
from gracedesk.service.desk import Desk
from gracedesk.store import Store

if TYPE_CHECKING:
    from gracedesk.settings import Settings


def build_desk(settings: Settings, *, migrate: bool = True) -> Desk:
    """Store, policy and models for ``settings`` (migrations applied unless ``migrate`` is
    False: a process started by one that migrated)."""
    store = Store.open(settings.url())
    if migrate:
        store.migrate()
    return Desk(
        store,
        policy=load_policy(settings.policy_dir),
        analyzer=get_analyzer(settings.tier),
        supervisor_email=settings.supervisor_email,
        base_url=settings.base_url,
        follow_up_lead_minutes=settings.follow_up_lead_minutes,
        reply_webhook_url=settings.reply_webhook_url,
        measured_phrases=settings.measured_phrases,
    )
