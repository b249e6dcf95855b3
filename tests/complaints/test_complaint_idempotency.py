"""Idempotency keys belong to their submitter: another user's identical key is another complaint — it neither
returns nor names someone else's record — while the submitter's own retry returns the first record. From the CLI a
key needs an explicit --received-at (a defaulted "now" would differ on every retry)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from runner.cli import app as cli_app
from tests.complaints.support import local
from tests.complaints.web import WALK_IN, counts
from yuqing.clock import FrozenClock

runner = CliRunner()


def test_another_users_identical_key_is_another_complaint(bearer, session):
    monitor, commander = bearer("wangmin"), bearer("liuqiang")
    key = {"Idempotency-Key": "ticket-7"}
    first = monitor.post("/api/v1/complaints", json=WALK_IN, headers=key)
    assert first.status_code == 201, first.text
    same_body = commander.post("/api/v1/complaints", json=WALK_IN, headers=key)
    assert same_body.status_code == 201 and same_body.json()["id"] != first.json()["id"]
    other_body = bearer("wujun").post("/api/v1/complaints", headers=key, json={
        **WALK_IN, "unit_id": "binjiang", "description": "另一件事"})  # a liaison of another sub-branch
    assert other_body.status_code == 201, other_body.text
    assert first.json()["number"] not in other_body.text
    # the submitter's own retry still returns the first record, and a different body is still refused
    retry = monitor.post("/api/v1/complaints", json=WALK_IN, headers=key)
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    assert monitor.post("/api/v1/complaints", json={**WALK_IN, "description": "改了"}, headers=key).status_code == 409
    assert counts(session)["complaints"] == 3




def test_a_cli_retry_with_a_key_needs_the_time_of_receipt(cli_db):
    clock = FrozenClock(local(2026, 11, 23, 9, 0))

    def add(*extra: str):
        return runner.invoke(cli_app, ["complaint", "add", "--unit", "xinhualu", "--channel", "hotline",
                                       "--category", "opaque_fees", "--text", "年费多收", "--idempotency-key",
                                       "crm-9", "--json", *extra], obj={"clock": clock})

    refused = add()
    assert refused.exit_code == 1 and "--received-at" in refused.stderr and refused.stdout == ""
    first = add("--received-at", "2026-11-23T08:30:00+08:00")
    assert first.exit_code == 0, first.output
    clock.set(local(2026, 11, 23, 9, 5))  # the retry, minutes later
    again = add("--received-at", "2026-11-23T08:30:00+08:00")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["id"] == json.loads(first.stdout)["id"]
    assert json.loads(again.stdout)["created"] is False
