"""``yuqing incident action-done`` and ``yuqing incident resurgence-dismiss``: after a case closes, from the shell.

Registered on ``yuqing incident`` by one import in ``runner.cli``. Each command acts as a named user through the same
entry points as the API and the dashboard (``api.after_close``), so it is refused exactly where they would be.
"""

from __future__ import annotations

from typing import Annotated

import typer

from runner.cli import AsUser, IncidentId, _IncidentCli, incident_app

ItemId = Annotated[int, typer.Argument(min=1, help="action item id (show --json: reviews[].action_items[].id)")]


@incident_app.command("action-done")
def incident_action_done(ctx: typer.Context, incident_id: IncidentId, item_id: ItemId, as_: AsUser,
                         note: Annotated[str, typer.Option(help="how it was done (goes on the timeline)")] = ""
                         ) -> None:
    """整改事项标记完成: the item's owner, a commander or a leader."""
    from api import after_close

    cli = _IncidentCli(ctx, as_)
    cli.run(after_close.mark_action_item_done, incident_id=incident_id, item_id=item_id, note=note, org=cli.org)
    cli.done(incident_id, f"整改事项 {item_id} 已完成")


@incident_app.command("resurgence-dismiss")
def incident_resurgence_dismiss(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                                reason: Annotated[str, typer.Option(help="why the case stays closed")] = ""
                                ) -> None:
    """舆情反弹研判：暂不重新打开 a flagged closed case, with the reason (commander or leader)."""
    from api import after_close

    cli = _IncidentCli(ctx, as_)
    cli.run(after_close.dismiss_resurgence, incident_id=incident_id, reason=reason)
    cli.done(incident_id, "已记录研判：暂不重新打开")
