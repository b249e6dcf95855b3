"""``yuqing demo --workers N`` refuses, before starting anything, a database that is not PostgreSQL (the job queue
of its worker processes lives there), and refuses N < 1; the worker end of its control channel stops a worker
whose demo went away before sending the clock."""

from __future__ import annotations

import asyncio
import io

import pytest
from typer.testing import CliRunner

from runner.cli import app
from runner.demo_workers import DemoLink

runner = CliRunner()


@pytest.mark.parametrize("url", ["", "sqlite:///{tmp}/demo.db"])
def test_demo_with_workers_refuses_anything_but_postgresql(url, tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("YUQING_DATABASE_URL", url.format(tmp=tmp_path))
    result = runner.invoke(app, ["demo", "--headless", "--workers", "1"])
    assert result.exit_code == 2
    assert "yuqing demo --workers 需要 PostgreSQL" in result.output
    assert not (tmp_path / "demo.db").exists()  # refused before the demo created its database
    assert not (tmp_path / "demo-workers").exists()  # and before any worker was started


def test_demo_workers_count_starts_at_one(tmp_path, monkeypatch):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["demo", "--headless", "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_a_worker_whose_demo_is_gone_before_the_clock_stops_quietly():
    """End of input before the wiring: the worker exits (status 0) instead of waiting for ever."""
    link = DemoLink(["crawl"], stream=io.StringIO(""))
    with pytest.raises(SystemExit) as stopped:
        asyncio.run(link.setup(None))  # type: ignore[arg-type]  # the runtime is not reached
    assert stopped.value.code == 0
