"""Who may enter complaints, take their handling steps, and be made to handle one — the same rules for the API,
the dashboard and ``yuqing complaint --as``.

* **enter** (``ENTER_ROLES``): monitors, liaisons (an outlet's head at a walk-in), commanders, leaders, admins —
  for a unit in their scope (the caller checks the scope);
* **steps** (:func:`may_act`): a commander, leader or admin (``STEP_ROLES``), or the person handling the complaint
  (its 首问 owner or assignee: ``masking.handles``);
* **handling** (:func:`may_handle`): the assignee or the 首问 owner must be someone who works complaints
  (``ENTER_ROLES``) and sees the complaint's unit (the unit complained about or the handling unit): made assignee,
  a person gets step rights and, by ``masking.may_reveal``, the customer's full details, so a legal reviewer or a
  colleague of another branch is refused.

A person's scope is the dashboard's (``api.users.scope_unit_ids``): the owning branch's tree for the branch-wide
roles, their own unit's tree for the others.
"""

from __future__ import annotations

from collections.abc import Iterable

from incidents.complaints.masking import handles
from incidents.complaints.models import Complaint
from yuqing.org import ROLE_LABELS, OrgChart, Person, Role

ENTER_ROLES: tuple[Role, ...] = (Role.monitor, Role.liaison, Role.commander, Role.leader, Role.admin)
STEP_ROLES: tuple[Role, ...] = (Role.commander, Role.leader, Role.admin)
# The roles whose scope is the whole branch (the same set as api.users.BRANCH_WIDE_ROLES).
BRANCH_WIDE_ROLES = frozenset({Role.monitor, Role.commander, Role.leader, Role.admin, Role.legal})


def _has(roles: Iterable[str], allowed: Iterable[Role]) -> bool:
    wanted = {r.value for r in allowed}
    return any(str(r) in wanted for r in roles)


def may_enter(roles: Iterable[str]) -> bool:
    return _has(roles, ENTER_ROLES)


def may_act(c: Complaint, *, login: str | None, roles: Iterable[str]) -> bool:
    """Steps and attachments: a commander / leader / admin, or the complaint's 首问 owner or assignee."""
    return _has(roles, STEP_ROLES) or handles(c, login)


def role_names(roles: Iterable[Role]) -> str:
    return "、".join(ROLE_LABELS.get(r, str(r)) for r in roles)


ENTER_REFUSAL = f"无权登记投诉：需为{role_names(ENTER_ROLES)}"
STEP_REFUSAL = f"无权办理该投诉：限该投诉的首问责任人、承办人及{role_names(STEP_ROLES)}"


def person_unit_ids(org: OrgChart, person: Person) -> frozenset[str]:
    """The units a person of the org chart sees (see the module docstring)."""
    try:
        root = org.owning_branch(person.unit).id if any(r in BRANCH_WIDE_ROLES for r in person.roles) \
            else person.unit
    except KeyError:
        return frozenset()
    return frozenset([root, *(u.id for u in org.descendants(root))])


def may_handle(org: OrgChart, person: Person, *, unit_id: str, handling_unit_id: str | None = None) -> bool:
    """Whether ``person`` may be a complaint's assignee or 首问 owner: a role of ``ENTER_ROLES`` and the unit
    complained about, or the handling unit, in their scope."""
    if not may_enter(person.roles):
        return False
    units = person_unit_ids(org, person)
    return unit_id in units or (handling_unit_id or unit_id) in units
