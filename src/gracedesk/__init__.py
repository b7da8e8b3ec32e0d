"""gracedesk: handle difficult customers with grace.

>>> import gracedesk
>>> s = gracedesk.analyze("You idiots charged me twice. I want a refund now!")
>>> s.labels
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gracedesk.model import Signals


def analyze(text: str, *, context: Any = None, tier: str = "fast") -> Signals:
    """Signals for one message (models load once, lazily). See ``gracedesk.analysis.pipeline``."""
    # lazy: `import gracedesk` stays light; the pipeline loads on first use
    from gracedesk.analysis.pipeline import get_analyzer

    return get_analyzer(tier).analyze(text, context=context)


def analyze_many(texts: Iterable[str], *, tier: str = "fast") -> list[Signals]:
    """Signals for many messages, batched: the fast path for bulk work."""
    # lazy: `import gracedesk` stays light; the pipeline loads on first use
    from gracedesk.analysis.pipeline import get_analyzer

    return get_analyzer(tier).analyze_many(list(texts))


__all__ = ["__version__", "analyze", "analyze_many"]
