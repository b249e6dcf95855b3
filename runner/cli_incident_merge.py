"""``yuqing incident merge B --into A --as USER``: merge one case into another about the same event, from the shell.

Registered on ``yuqing incident`` by one import in ``runner.cli``. Acts as the named user through the same entry
point as the API and the dashboard (``api.actions.merge_incident``), so it is refused exactly where they would be.
"""

from __future__ import annotations

from typing import Annotated

import typer

from runner.cli import AsUser, IncidentId, _IncidentCli, incident_app


@incident_app.command("merge")
def incident_merge(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                   into: Annotated[str, typer.Option("--into", help="the case to merge into: its id or number (YQ-…)")],
                   reason: Annotated[str, typer.Option(help="why they are one event (goes on both timelines)")] = ""
                   ) -> None:
    """合并事件: merge INCIDENT_ID into --into (commander or leader; both cases in your units). Prints the case
    merged into."""
    from api import actions

    cli = _IncidentCli(ctx, as_)
    target = cli.run(actions.merge_incident, incident_id=incident_id, into=into, reason=reason, org=cli.org,
                     policy=cli.policy)
    cli.done(target.id, f"已并入事件（原事件 {incident_id} 已合并）")
