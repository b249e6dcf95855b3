"""No task title promises what the product does not do: every hour, minute or working-day figure a checklist title
names is that step's deadline at every level the step applies to (so "黄金4小时" only where the step is due in 4
hours), and no title claims a snapshot or a hash the product does not take."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from incidents.clocks import step_due_at
from incidents.regulators import step_title
from yuqing.categories import LEVEL_ORDER

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai, no holiday within weeks
FIGURE = re.compile(r"(\d+(?:\.\d+)?)\s*(个工作日|工作日|小时|分钟|天)")
CHINESE_FIGURE = re.compile(r"[一二两三四五六七八九十半]+\s*(个工作日|小时|分钟|天)")
PROMISES_THE_PRODUCT_DOES_NOT_KEEP = ("快照", "哈希", "自动发布", "自动报送")


def _steps(policy):
    for pb in policy.playbooks.values():
        for step in pb.steps:
            yield pb, step


def _minutes(step, level, policy) -> float | None:
    due = step_due_at(step, level=level, start=MONDAY, policy=policy)
    return None if due is None else (due - MONDAY).total_seconds() / 60


def _working_days(step, level) -> int | None:
    return step.working_days_by_level.get(level, step.working_days)


def test_every_figure_in_a_title_is_the_steps_deadline_at_every_level(policy, org):
    checked = 0
    for pb, step in _steps(policy):
        for level in LEVEL_ORDER:
            if not step.applies_at(level):
                continue
            title = step_title(step.title, key=step.key, regs=policy.regulators, org=org, unit_id="xinhualu")
            where = f"{pb.id}.{step.key} at level {level}: {title!r}"
            assert not CHINESE_FIGURE.search(title), f"{where}: write figures in digits so they can be checked"
            for number, unit in FIGURE.findall(title):
                value = float(number)
                if unit in ("个工作日", "工作日"):
                    assert _working_days(step, level) == value, f"{where}: {value} working days"
                else:
                    minutes = _minutes(step, level, policy)
                    want = value * {"小时": 60, "分钟": 1, "天": 1440}[unit]
                    assert minutes == want, f"{where}: names {number}{unit}, due after {minutes} minutes"
                checked += 1
    assert checked >= 8  # the shipped titles name figures (12小时, 2小时, 24小时 …) and each was checked


def test_titles_promise_no_snapshot_or_hash_and_name_the_recipient(policy, org):
    for pb, step in _steps(policy):
        for word in PROMISES_THE_PRODUCT_DOES_NOT_KEEP:
            assert word not in step.title, f"{pb.id}.{step.key}: {step.title!r} promises {word}"
        if step.key in ("regulator_report", "pboc_report"):
            assert "{recipient}" in step.title, f"{pb.id}.{step.key} does not name its recipient"
            rendered = step_title(step.title, key=step.key, regs=policy.regulators, org=org, unit_id="xinhualu")
            assert ("国家金融监督管理总局江城监管分局" if step.key == "regulator_report"
                    else "中国人民银行江城市分行") in rendered


@pytest.mark.parametrize("title", ["发布回应（黄金4小时内首次发声）", "48小时内联系"])
def test_the_check_catches_a_title_whose_figure_is_not_the_deadline(policy, org, title):
    step = next(s for pb, s in _steps(policy) if s.key == "public_reply").model_copy(update={"title": title})
    wrong = [level for level in LEVEL_ORDER for number, unit in FIGURE.findall(title)
             if _minutes(step, level, policy) != float(number) * 60]
    assert wrong  # the shipped public_reply step is due in 4 h only at I and II
