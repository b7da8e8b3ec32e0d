"""One error tree with coded messages.

GracedeskError
 ├── InvalidInput (GD1xx)    the caller's input cannot be used
 │    ├── EmptyText (GD101)
 │    ├── MalformedLine (GD102)
 │    └── InvalidContext (GD103)
 └── ModelError (GD2xx)      a shipped model is missing or cannot be loaded
      └── UnknownTier (GD201)

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
