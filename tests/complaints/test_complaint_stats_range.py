"""A month outside the years statistics cover is refused for what it is — out of range — not as a malformed
YYYY-MM, through the API and the CLI."""

from __future__ import annotations

from typer.testing import CliRunner

from runner.cli import app

runner = CliRunner()


def test_the_api_says_the_month_is_out_of_range(bearer):
    r = bearer("liuqiang").get("/api/v1/complaints/stats?month=1999-01")
    assert r.status_code == 422
    message = r.json()["detail"]["message"]
    assert "between 2000-01 and 2100-12" in message and "YYYY-MM" not in message




def test_the_cli_says_the_month_is_out_of_range(cli_db):
    r = runner.invoke(app, ["complaint", "stats", "--month", "2101-01"])
    assert r.exit_code == 1 and "月份应在 2000-01 至 2100-12 之间" in r.stderr and "格式" not in r.stderr
