"""The bank's org chart: units from head office down to outlets, their names and aliases, and their people.

Loaded from ``config/org.yaml`` and validated strictly, because attribution (which outlet a post is about) and
escalation (who is told next) both walk this tree: a typo here silently sends an alert to nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from yuqing.yamlfile import load_model

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UnitKind(StrEnum):
    head_office = "head_office"
    branch = "branch"
    city_branch = "city_branch"
    sub_branch = "sub_branch"
    outlet = "outlet"


UNIT_KIND_LABELS = {
    UnitKind.head_office: "总行",
    UnitKind.branch: "分行",
    UnitKind.city_branch: "二级分行",
    UnitKind.sub_branch: "支行",
    UnitKind.outlet: "网点",
}
# Which kinds may sit directly under which: the tree must read head office → branch → (city branch) → sub-branch
# → outlet, though a level may be skipped (an outlet run directly by a branch's business department).
_ALLOWED_PARENTS = {
    UnitKind.head_office: set(),
    UnitKind.branch: {UnitKind.head_office},
    UnitKind.city_branch: {UnitKind.branch},
    UnitKind.sub_branch: {UnitKind.branch, UnitKind.city_branch},
    UnitKind.outlet: {UnitKind.branch, UnitKind.city_branch, UnitKind.sub_branch},
}


class Role(StrEnum):
    monitor = "monitor"
    commander = "commander"
    leader = "leader"
    liaison = "liaison"
    admin = "admin"
    legal = "legal"  # 法律合规: reviews public statements (口径) before a leader signs them off


ROLE_LABELS = {
    Role.monitor: "值班监测",
    Role.commander: "应急处置负责人",
    Role.leader: "分行领导",
    Role.liaison: "联络人",
    Role.admin: "系统管理员",
    Role.legal: "法律合规",
}


class Contacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9-]{5,20}$")] | None = None
    wecom: str | None = None
    dingtalk: str | None = None


class Unit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug
    kind: UnitKind
    name: Text = Field(description="full official name, e.g. 示例银行江城分行光明路支行")
    short_name: Text | None = Field(default=None, description="e.g. 光明路支行")
    aliases: list[Text] = Field(default_factory=list, description="other names people use")
    parent: Slug | None = None
    address: str | None = None
    regions: list[Text] = Field(default_factory=list, description="place names the unit serves (江城, 江城市): a "
                                "post naming the bank and one of them, but no unit, is about this unit")
    general_office: Contacts | None = Field(default=None, description="the unit's 综合管理部 contact")

    @property
    def kind_label(self) -> str:
        return UNIT_KIND_LABELS[self.kind]

    def all_names(self) -> list[str]:
        names = [self.name]
        if self.short_name:
            names.append(self.short_name)
        names.extend(self.aliases)
        return list(dict.fromkeys(names))


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug
    name: Text
    title: str | None = None
    unit: Slug
    roles: list[Role] = Field(min_length=1)
    contacts: Contacts = Field(default_factory=Contacts)


class Bank(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    aliases: list[Text] = Field(default_factory=list)

    def all_names(self) -> list[str]:
        return list(dict.fromkeys([self.name, *self.aliases]))


class OrgChart(BaseModel):
    """The whole org chart with integrity checks and tree helpers."""

    model_config = ConfigDict(extra="forbid")

    bank: Bank
    units: list[Unit] = Field(min_length=1)
    people: list[Person] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_tree(self) -> OrgChart:
        by_id: dict[str, Unit] = {}
        for i, u in enumerate(self.units):
            if u.id in by_id:
                raise ValueError(f"units[{i}].id: duplicate unit id {u.id!r}")
            by_id[u.id] = u
        roots = [u for u in self.units if u.parent is None]
        if len(roots) != 1 or roots[0].kind != UnitKind.head_office:
            raise ValueError("units: exactly one unit must have no parent, and it must be the head_office")
        for i, u in enumerate(self.units):
            if u.parent is None:
                continue
            parent = by_id.get(u.parent)
            if parent is None:
                raise ValueError(f"units[{i}].parent: unknown unit {u.parent!r} (unit {u.id!r})")
            if parent.kind not in _ALLOWED_PARENTS[u.kind]:
                raise ValueError(
                    f"units[{i}].parent: a {u.kind.value} cannot sit under a {parent.kind.value} (unit {u.id!r})")
        # With kinds strictly ordered and one root, cycles are impossible, but check reachability anyway.
        for u in self.units:
            seen: set[str] = set()
            cur: Unit | None = u
            while cur is not None and cur.parent is not None:
                if cur.id in seen:
                    raise ValueError(f"units: cycle through {cur.id!r}")
                seen.add(cur.id)
                cur = by_id[cur.parent]
        owner: dict[str, str] = {}
        for i, u in enumerate(self.units):
            for name in u.all_names():
                if name in owner and owner[name] != u.id:
                    raise ValueError(
                        f"units[{i}].aliases: name {name!r} is used by both {owner[name]!r} and {u.id!r}")
                owner[name] = u.id
        person_ids: set[str] = set()
        for i, p in enumerate(self.people):
            if p.id in person_ids:
                raise ValueError(f"people[{i}].id: duplicate person id {p.id!r}")
            person_ids.add(p.id)
            if p.unit not in by_id:
                raise ValueError(f"people[{i}].unit: unknown unit {p.unit!r} (person {p.id!r})")
        return self

    # --- lookups -------------------------------------------------------------------------------------------------
    def unit(self, unit_id: str) -> Unit:
        for u in self.units:
            if u.id == unit_id:
                return u
        raise KeyError(unit_id)

    def person(self, person_id: str) -> Person:
        for p in self.people:
            if p.id == person_id:
                return p
        raise KeyError(person_id)

    def find_person(self, person_id: str | None) -> Person | None:
        """The person, or None for no id or an id no longer in the chart (a stored owner who has since left)."""
        if not person_id:
            return None
        try:
            return self.person(person_id)
        except KeyError:
            return None

    def root(self) -> Unit:
        return next(u for u in self.units if u.parent is None)

    def ancestors(self, unit_id: str) -> list[Unit]:
        """The unit itself, then its parent, up to the head office."""
        chain = []
        cur: Unit | None = self.unit(unit_id)
        while cur is not None:
            chain.append(cur)
            cur = self.unit(cur.parent) if cur.parent else None
        return chain

    def children(self, unit_id: str) -> list[Unit]:
        return [u for u in self.units if u.parent == unit_id]

    def descendants(self, unit_id: str) -> Iterator[Unit]:
        for child in self.children(unit_id):
            yield child
            yield from self.descendants(child.id)

    def depth(self, unit_id: str) -> int:
        return len(self.ancestors(unit_id)) - 1

    def people_with_role(self, role: Role, unit_id: str | None = None) -> list[Person]:
        return [p for p in self.people if role in p.roles and (unit_id is None or p.unit == unit_id)]

    def nearest_with_role(self, role: Role, unit_id: str) -> list[Person]:
        """People holding ``role`` at the unit or, failing that, at the closest ancestor that has any."""
        for u in self.ancestors(unit_id):
            found = self.people_with_role(role, u.id)
            if found:
                return found
        return []

    def owning_branch(self, unit_id: str) -> Unit:
        """The 分行 a unit belongs to (the head office for the head office itself)."""
        for u in self.ancestors(unit_id):
            if u.kind == UnitKind.branch:
                return u
        return self.root()


def load_org(path: Path | str) -> OrgChart:
    """Load and validate an org chart; errors name the file, the field and the reason."""
    return load_model(path, OrgChart)
