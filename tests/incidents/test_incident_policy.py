"""Policy files: the defaults load and mean what the level table says; a bad file names the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from incidents.policy import load_policy
from yuqing.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_default_levels_follow_the_domain_table(policy):
    one, two, three, four = (policy.level(c) for c in ("I", "II", "III", "IV"))
    assert (one.name, one.colour, one.ack_minutes, one.leadership_notify_minutes) == ("特别重大", "red", 5, 30)
    assert (one.initial_report_minutes, one.update_report_minutes, one.leadership_by_phone) == (60, 120, True)
    assert (two.name, two.colour, two.ack_minutes, two.initial_report_minutes, two.update_report_minutes) == (
        "重大", "orange", 15, 120, 240)
    assert (three.name, three.colour, three.ack_minutes, three.leadership_notify_minutes) == (
        "较大", "yellow", 30, "daily")
    assert (three.initial_report_minutes, three.update_report_minutes) == (1440, 1440)
    assert (four.name, four.colour, four.ack_minutes, four.leadership_notify_minutes) == ("一般", "blue", 120, "weekly")
    assert four.initial_report_minutes is None and four.update_report_minutes is None
    assert [lv.auto_open_incident for lv in (one, two, three, four)] == [True, True, True, False]
    assert one.regulator_report_minutes == 720
    assert policy.levels_file.final_report_minutes_after_close == 1440
    assert policy.levels_file.review_working_days == 5


def test_default_playbooks_are_chosen_by_category_channel_and_level(policy):
    assert set(policy.playbooks) >= {"media_exposure", "viral_complaint", "rumour_bank_run", "generic"}
    assert policy.choose_playbook(category="withdrawal_bank_run", level="I", channels=["news"]).id == "rumour_bank_run"
    assert policy.choose_playbook(category="opaque_fees", level="II", channels=["news"]).id == "media_exposure"
    assert policy.choose_playbook(category="service_attitude", level="III", channels=["complaint"]).id == (
        "viral_complaint")
    assert policy.choose_playbook(category="regulatory_penalty", level="II", channels=["regulator"]).id == "generic"
    run = policy.playbooks["rumour_bank_run"]
    pboc = next(s for s in run.steps if s.key == "pboc_report")
    assert pboc.due_minutes == 120 and pboc.owner_role == "commander" and "{recipient}" in pboc.title
    complaint = policy.playbooks["viral_complaint"]
    resolve = next(s for s in complaint.steps if s.key == "resolve_case")
    assert resolve.working_days == 5 and resolve.working_days_by_level == {"IV": 3}
    assert "preliminary_solution" not in {s.key for s in complaint.steps_for("III")}
    assert "preliminary_solution" in {s.key for s in complaint.steps_for("II")}


def _copy_config(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copy(CONFIG / "levels.yaml", tmp_path / "levels.yaml")
    shutil.copytree(CONFIG / "checklists", tmp_path / "checklists")
    return tmp_path / "levels.yaml", tmp_path / "checklists"


def test_bad_level_value_names_file_and_field(tmp_path):
    levels, checklists = _copy_config(tmp_path)
    levels.write_text(levels.read_text(encoding="utf-8").replace("ack_minutes: 15", "ack_minutes: -15"),
                      encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    assert err.value.path == str(levels)
    assert any(field == "levels.1.ack_minutes" for field, _ in err.value.problems)
    assert "levels.yaml: levels.1.ack_minutes" in str(err.value)


def test_missing_level_is_reported(tmp_path):
    levels, checklists = _copy_config(tmp_path)
    levels.write_text(levels.read_text(encoding="utf-8").replace("code: IV", "code: III"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    assert "levels" in str(err.value) and "exactly once" in str(err.value)


def test_bad_checklist_step_names_file_and_field(tmp_path):
    levels, checklists = _copy_config(tmp_path)
    bad = checklists / "media_exposure.yaml"
    bad.write_text(bad.read_text(encoding="utf-8").replace("owner_role: liaison", "owner_role: janitor", 1),
                   encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    assert err.value.path.endswith("media_exposure.yaml")
    assert [f for f, _ in err.value.problems] == ["steps.0.owner_role"]


def test_unknown_category_and_conflicting_deadlines_are_rejected(tmp_path):
    levels, checklists = _copy_config(tmp_path)
    (checklists / "extra.yaml").write_text(
        "id: extra\nname: 额外清单\napplies_to: {categories: [bank_robbery]}\n"
        "steps:\n  - {key: a, title: 甲, owner_role: commander, due_minutes: 5, working_days: 1}\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    fields = {f for f, _ in err.value.problems}
    assert err.value.path.endswith("extra.yaml")
    assert "applies_to.categories" in fields and "steps.0" in fields


def test_yaml_syntax_error_and_missing_fallback(tmp_path):
    levels, checklists = _copy_config(tmp_path)
    (checklists / "generic.yaml").unlink()
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    assert "generic fallback" in str(err.value)
    (checklists / "broken.yaml").write_text("id: broken\nsteps: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    assert err.value.path.endswith("broken.yaml") and "YAML syntax error" in str(err.value)


def test_channels_file_errors_name_the_field(tmp_path):
    levels, checklists = _copy_config(tmp_path)
    (tmp_path / "channels.yaml").write_text("channels:\n  wecom: {enabled: true}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(levels, checklists)
    assert err.value.path.endswith("channels.yaml") and "channels.wecom" in str(err.value)
    (tmp_path / "channels.yaml").unlink()
    assert load_policy(levels, checklists).channels.person_channels(has_email=True) == ["in_app"]
