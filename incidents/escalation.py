"""Escalation chains: who is told next when nobody acknowledges an alert in time.

The chain is resolved from the org chart when the alert is created (and again when its level changes) and stored
with the alert (a snapshot), so an org-chart edit in the middle of a crisis does not silently reroute it. For an
alert about unit U the default chain is: the monitors nearest U (the owning branch's 综合管理部 duty desk) → the
nearest incident commander → the owning branch's leaders (walked up to the 分行, so a sub-branch leader never hides
them). Each level may stop the chain earlier (``escalate_to`` in ``config/levels.yaml``): a level IV alert never
reaches a leader. Step 0 is told when the alert is raised; each missed acknowledgement deadline moves one step on;
acknowledgement stops the chain (no more pages after someone has it in hand).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from incidents.routing import escalation_holders
from yuqing.org import OrgChart, Role


@dataclass(frozen=True)
class EscalationStep:
    index: int
    role: str
    people: tuple[str, ...]

    def to_json(self) -> dict:
        return {"index": self.index, "role": self.role, "people": list(self.people)}

    @classmethod
    def from_json(cls, data: dict) -> EscalationStep:
        return cls(int(data["index"]), str(data["role"]), tuple(data["people"]))


def build_chain(org: OrgChart, unit_id: str, roles: Sequence[Role | str]) -> list[EscalationStep]:
    """Resolve the chain for ``unit_id``; steps without anyone new are left out, so no step is empty."""
    steps: list[EscalationStep] = []
    seen: set[str] = set()
    for role in roles:
        people = [p.id for p in escalation_holders(org, Role(role), unit_id) if p.id not in seen]
        if not people:
            continue
        seen.update(people)
        steps.append(EscalationStep(len(steps), str(Role(role)), tuple(people)))
    return steps


def next_step(chain: Sequence[EscalationStep], current_step: int, *, status: str, ack_due_at: datetime | None,
              now: datetime) -> EscalationStep | None:
    """The step to escalate to now, or None (acknowledged, not yet due, or already at the end of the chain)."""
    if status != "open" or ack_due_at is None or now < ack_due_at:
        return None
    nxt = current_step + 1
    return chain[nxt] if nxt < len(chain) else None
