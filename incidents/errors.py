"""Errors raised when someone asks for an impossible state change (close a closed incident, finish a task twice).

Each carries an English message for logs and a Chinese ``user_message`` the dashboard shows as it is.
"""

from __future__ import annotations


class IncidentError(Exception):
    """An invalid request against an alert, incident or task."""

    def __init__(self, message: str, user_message: str, *, code: str = "invalid_state"):
        super().__init__(message)
        self.user_message = user_message
        self.code = code


class NotFound(IncidentError):
    """The alert, incident or task does not exist."""

    def __init__(self, what: str, ident: object, label: str):
        super().__init__(f"{what} {ident} not found", f"{label}不存在（编号 {ident}）", code="not_found")
