"""Seed conversations for ``gracedesk serve --demo``.

``conversations.jsonl`` ships with the package: real public customer-care tweets, masked and
selected by ``train/make_demo.py`` (see docs/demo.md). One JSON object per line::

    {"customer": {"external_id", "name", "email", "tier"}, "channel", "subject",
     "messages": [{"role": "customer" | "agent", "text", "offset_minutes"}, ...]}
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

RESOURCE = "conversations.jsonl"
TIERS = ("standard", "silver", "gold")
ROLES = ("customer", "agent")
CUSTOMER_KEYS = ("external_id", "name", "email", "tier")

__all__ = ["RESOURCE", "load_conversations", "parse_conversations", "validate_conversation"]


def validate_conversation(obj: Any) -> dict[str, Any]:
    """``obj`` when it has the seed shape; ValueError (what is wrong) otherwise."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    customer = obj.get("customer")
    if not isinstance(customer, dict):
        raise ValueError("'customer' must be an object")
    for key in CUSTOMER_KEYS:
        if not isinstance(customer.get(key), str) or not customer[key]:
            raise ValueError(f"customer.{key} must be a non-empty string")
    if customer["tier"] not in TIERS:
        raise ValueError(f"customer.tier must be one of {', '.join(TIERS)}")
    if not isinstance(obj.get("channel"), str) or not obj["channel"]:
        raise ValueError("'channel' must be a non-empty string")
    if "subject" in obj and not isinstance(obj["subject"], str):
        raise ValueError("'subject' must be a string")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    last = 0
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"messages[{i}] must be an object")
        if msg.get("role") not in ROLES:
            raise ValueError(f"messages[{i}].role must be 'customer' or 'agent'")
        if not isinstance(msg.get("text"), str) or not msg["text"].strip():
            raise ValueError(f"messages[{i}].text must be a non-empty string")
        offset = msg.get("offset_minutes")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < last:
            raise ValueError(f"messages[{i}].offset_minutes must be an int >= the one before")
        last = offset
    if messages[-1]["role"] != "customer":
        raise ValueError("the last message must be the customer's")
    return obj


def parse_conversations(text: str, *, source: str = RESOURCE) -> list[dict[str, Any]]:
    """Parse and validate JSON Lines; ValueError naming ``source`` and the line otherwise."""
    out: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(validate_conversation(json.loads(line)))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"{source} line {n}: {exc}") from None
    return out


def load_conversations() -> list[dict[str, Any]]:
    """The packaged seed conversations, validated, in file order."""
    text = files("gracedesk.demo").joinpath(RESOURCE).read_text(encoding="utf-8")
    return parse_conversations(text)
