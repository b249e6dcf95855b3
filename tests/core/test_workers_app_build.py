"""``runner.workers.build_app`` twice in one process (the distributed demo builds an app, a test or a second demo
another): each app has every yuqing job once, named ``yuqing:<job>``, deferring through its own connector.

procrastinate's ``add_tasks_from`` renames the blueprint's tasks in place; with one module-level blueprint the
second app got ``yuqing:yuqing:…`` names and the first app's tasks were repointed at the second app."""

from __future__ import annotations

from runner.workers import PRIORITY, TICK_CRON, build_app
from yuqing.settings import Settings

BUILTIN = ("builtin:", "procrastinate.")  # procrastinate's own tasks, in every app
JOBS = {*(f"yuqing:tick_{stage}" for stage in TICK_CRON), "yuqing:crawl_source", "yuqing:retry_stalled"}


def _settings(tmp_path, database: str) -> Settings:
    # building an app opens no connection: the URL only has to be PostgreSQL's
    return Settings(data_dir=tmp_path, secret_key="build-app-tests-9Qx4Lm7Vn2Kd8Zc5Rb1Wt6Hp3Gj0Fs",
                    database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}")


def test_two_apps_built_in_one_process_each_have_every_job_once_under_its_own_name(tmp_path):
    first = build_app(_settings(tmp_path, "first"))
    second = build_app(_settings(tmp_path, "second"))
    for app in (first, second):
        ours = {name: task for name, task in app.tasks.items() if not name.startswith(BUILTIN)}
        assert set(ours) == JOBS
        for name, task in ours.items():
            assert task.name == name  # not renamed again by the other build
            assert task.blueprint is app  # defers through this app's connector, not the other's
        periodic = {p.task.name: p.cron for p in app.periodic_registry.periodic_tasks.values()
                    if not p.task.name.startswith(BUILTIN)}
        assert periodic == {**{f"yuqing:tick_{s}": cron for s, cron in TICK_CRON.items()},
                            "yuqing:retry_stalled": "* * * * * *"}
    assert first.connector is not second.connector
    assert all(first.tasks[name] is not second.tasks[name] for name in JOBS)
    tick = first.tasks["yuqing:tick_schedule"]
    assert (tick.queue, tick.queueing_lock, tick.lock, tick.priority) == (
        "schedule", "tick:schedule", "schedule", PRIORITY["schedule"])
    crawl = second.tasks["yuqing:crawl_source"]
    assert (crawl.queue, crawl.pass_context, crawl.priority) == ("crawl", True, PRIORITY["crawl"])
