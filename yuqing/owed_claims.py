"""Claims a process owes back to a database it could not reach.

A worker that claims rows (a lease so nobody else takes them) and then loses the database mid-batch cannot give the
claims back either: the rows would sit until the lease passes — minutes of a pipeline standing still after a few
seconds' outage — although the process knows the work was not done. It remembers them here and gives them back
first thing once the database answers again. Kept per database (its URL): one process may use more than one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

Claim = TypeVar("Claim")


class OwedClaims(Generic[Claim]):
    """This process's owed claims, one list per database URL, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owed: list[tuple[str, Claim]] = []

    def owe(self, session: Session, claim: Claim) -> None:
        with self._lock:
            self._owed.append((str(session.get_bind().url), claim))

    def give_back(self, session: Session, give: Callable[[Session, list[Claim]], int]) -> int:
        """Run ``give`` on this database's owed claims (it gives them back and commits) and forget them; returns
        what ``give`` returns (0 when nothing is owed). Raises, keeping them owed, while the database is still
        away."""
        database = str(session.get_bind().url)
        with self._lock:
            owed = [entry for entry in self._owed if entry[0] == database]
        if not owed:
            return 0
        try:
            given = give(session, [claim for _, claim in owed])
        except BaseException:
            session.rollback()
            raise
        with self._lock:
            for entry in owed:
                self._owed.remove(entry)
        return given
