"""Who is told at each level: the reporting chain of ``config/levels.yaml`` resolved against the org chart.

Each level lists recipient groups (roles at a place of the org chart, counted from the incident's unit). Places
are found by walking up the tree, never by "the nearest unit where someone holds the role": a leader at a
sub-branch must not hide the branch's leaders, and the owning outlet's liaison and its sub-branch's general office
are told as well as the branch. A person in several groups is told once, with the first group's deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from incidents.policy import Policy, RecipientGroup
from yuqing.errors import ConfigError
from yuqing.org import OrgChart, Person, Role, Unit, UnitKind

log = logging.getLogger(__name__)

SCOPE_LABELS = {"owning_unit": "涉事单位", "intermediate": "上级支行", "branch": "分行", "head_office": "总行"}


@dataclass(frozen=True)
class ResolvedGroup:
    key: str
    label: str
    ack_minutes: int
    people: tuple[Person, ...]


def scope_units(org: OrgChart, unit_id: str, scope: str) -> list[Unit]:
    """The units a scope names for an incident about ``unit_id``."""
    unit = org.unit(unit_id)
    if scope == "owning_unit":
        return [unit]
    if scope == "head_office":
        return [org.root()]
    branch = org.owning_branch(unit_id)
    if scope == "branch":
        return [branch]
    if scope == "intermediate":
        if unit.kind in (UnitKind.branch, UnitKind.head_office):
            return []
        between = []
        for u in org.ancestors(unit_id)[1:]:
            if u.id == branch.id or u.kind in (UnitKind.branch, UnitKind.head_office):
                break
            between.append(u)
        return between
    raise ValueError(f"unknown scope {scope!r}")


def group_people(org: OrgChart, unit_id: str, group: RecipientGroup) -> list[Person]:
    """Everyone one group names, in org-chart order, without duplicates."""
    found: list[Person] = []
    for unit in scope_units(org, unit_id, group.scope):
        for role in group.roles:
            holders = org.people_with_role(role, unit.id)
            if group.titles:
                titled = [p for p in holders if any(t in (p.title or "") for t in group.titles)]
                if holders and not titled:
                    log.warning("no title in the org chart matches the reporting group; telling every holder",
                                extra={"group": group.key, "unit_id": unit.id, "titles": group.titles})
                holders = titled or holders
            found += [p for p in holders if p not in found]
    for pid in group.people:
        try:
            person = org.person(pid)
        except KeyError:
            log.warning("reporting chain names a person missing from the org chart",
                        extra={"group": group.key, "person": pid})
            continue
        if person not in found:
            found.append(person)
    return found


def resolve_chain(org: OrgChart, unit_id: str, groups: Sequence[RecipientGroup], *,
                  default_ack_minutes: int) -> list[ResolvedGroup]:
    """The level's groups with their people; each person appears once (first group wins); empty groups stay in
    the list so the timeline can say that nobody holds the role there."""
    seen: set[str] = set()
    out = []
    for g in groups:
        people = [p for p in group_people(org, unit_id, g) if p.id not in seen]
        seen.update(p.id for p in people)
        out.append(ResolvedGroup(g.key, g.label or f"{SCOPE_LABELS[g.scope]}{'、'.join(map(str, g.roles))}",
                                 g.ack_minutes or default_ack_minutes, tuple(people)))
    return out


def escalation_holders(org: OrgChart, role: Role, unit_id: str) -> list[Person]:
    """Who holds ``role`` for an escalation about ``unit_id``: leaders are the owning branch's leaders (a leader at
    a sub-branch never hides them); other roles are the nearest holders up the tree."""
    if role == Role.leader:
        branch = org.owning_branch(unit_id)
        leaders = org.people_with_role(Role.leader, branch.id)
        if leaders:
            return leaders
    return org.nearest_with_role(role, unit_id)


def check_chain_against_org(policy: Policy, org: OrgChart, levels_path: Path | str) -> None:
    """Raise a ConfigError naming the field when a reporting chain names someone missing from the org chart, or
    names a leader at level IV (which reaches no leader directly)."""
    known = {p.id: p for p in org.people}
    problems = []
    for i, lv in enumerate(policy.levels_file.levels):
        for j, g in enumerate(lv.reporting_chain):
            for k, pid in enumerate(g.people):
                field = f"levels[{i}].reporting_chain[{j}].people[{k}]"
                if pid not in known:
                    problems.append((field, f"no person {pid!r} in the org chart"))
                elif lv.code == "IV" and Role.leader in known[pid].roles:
                    problems.append((field, f"{pid!r} is a leader; level IV reaches no leader directly"))
    if problems:
        raise ConfigError(levels_path, problems)
