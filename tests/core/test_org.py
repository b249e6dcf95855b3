"""The org chart loads, and every kind of mistake an admin can make names the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from yuqing.errors import ConfigError
from yuqing.org import Role, UnitKind, load_org
from yuqing.settings import PROJECT_ROOT

ORG_FILE = PROJECT_ROOT / "config" / "org.yaml"


def _write(tmp_path: Path, data: object) -> Path:
    p = tmp_path / "org.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def _base() -> dict:
    return yaml.safe_load(ORG_FILE.read_text(encoding="utf-8"))


def test_demo_org_chart_has_the_shape_the_demo_needs(org):
    kinds = [u.kind for u in org.units]
    assert kinds.count(UnitKind.head_office) == 1
    assert [u.name for u in org.units if u.kind == UnitKind.branch] == ["示例银行江城分行"]
    assert kinds.count(UnitKind.sub_branch) >= 3
    assert kinds.count(UnitKind.outlet) >= 8
    assert all(u.aliases for u in org.units)
    for role in Role:
        assert org.people_with_role(role), f"no one holds role {role}"


def test_ancestors_walk_from_outlet_to_head_office(org):
    assert [u.id for u in org.ancestors("xinhualu")] == ["xinhualu", "guangminglu", "jiangcheng", "head-office"]
    assert org.owning_branch("xinhualu").id == "jiangcheng"
    assert org.depth("head-office") == 0


def test_nearest_with_role_climbs_to_the_branch_general_office(org):
    # the outlet has a liaison but no commander: the branch's commander owns the incident
    assert [p.id for p in org.nearest_with_role(Role.liaison, "xinhualu")] == ["huangwei"]
    assert [p.id for p in org.nearest_with_role(Role.commander, "xinhualu")] == ["liuqiang"]


def test_unknown_parent_names_file_field_and_unit(tmp_path):
    data = _base()
    data["units"][3]["parent"] = "nowhere"
    with pytest.raises(ConfigError) as exc:
        load_org(_write(tmp_path, data))
    msg = str(exc.value)
    assert "org.yaml" in msg and "units[3].parent" in msg and "nowhere" in msg


def test_outlet_directly_under_head_office_is_rejected(tmp_path):
    data = _base()
    outlet = next(u for u in data["units"] if u["kind"] == "outlet")
    outlet["parent"] = "head-office"
    with pytest.raises(ConfigError, match="cannot sit under a head_office"):
        load_org(_write(tmp_path, data))


def test_alias_shared_by_two_units_is_rejected(tmp_path):
    data = _base()
    data["units"][5]["aliases"].append(data["units"][6]["short_name"])
    with pytest.raises(ConfigError, match="used by both"):
        load_org(_write(tmp_path, data))


def test_bad_role_and_bad_email_name_the_field(tmp_path):
    data = _base()
    data["people"][0]["roles"] = ["boss"]
    data["people"][1]["contacts"]["email"] = "not-an-email"
    with pytest.raises(ConfigError) as exc:
        load_org(_write(tmp_path, data))
    msg = str(exc.value)
    assert "people.0.roles.0" in msg
    assert "people.1.contacts.email" in msg


def test_unknown_field_is_an_error_not_silently_ignored(tmp_path):
    data = _base()
    data["units"][0]["adress"] = "typo"
    with pytest.raises(ConfigError, match=r"units\.0\.adress"):
        load_org(_write(tmp_path, data))


def test_yaml_syntax_error_names_line(tmp_path):
    p = tmp_path / "org.yaml"
    p.write_text("bank:\n  name: [示例银行\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"org\.yaml.*line \d+"):
        load_org(p)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_org(tmp_path / "absent.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="file is empty"):
        load_org(empty)


def test_non_utf8_file_is_reported(tmp_path):
    p = tmp_path / "org.yaml"
    p.write_bytes("bank: {name: 示例银行}".encode("gb18030"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_org(p)
