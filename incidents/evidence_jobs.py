"""The evidence jobs of the pipeline loop: the deletion watch, then the screenshot job, in the background.

``start_evidence_jobs`` is called by the schedule stage (``runner.stages.start_evidence_if_due``, at most every
30 s, in ``yuqing run`` and ``yuqing worker schedule``) and by ``runner.runtime.run_pipeline`` after every round.
It starts one run of both jobs as an asyncio task unless the last run is still going, so a slow site or a
browser never holds up a round; each job is bounded per run (``per_round`` in ``config/evidence.yaml``), every
re-fetch runs in a worker thread and every browser in a child process with a time limit. ``stop_evidence_jobs``
cancels a run when the loop stops (which kills a running browser; a re-fetch in flight ends at its timeout).

``rt`` is the runtime (``runner.runtime.Runtime``): its ``settings``, ``session_factory``, ``clock``, ``sources``,
``evidence_config`` (None: no evidence jobs) and ``evidence_task`` (the running task, kept between rounds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from incidents.deletion_watch import run_deletion_watch
from incidents.screenshots import allowances_for, take_due_screenshots

log = logging.getLogger("yuqing.pipeline")


def start_evidence_jobs(rt: Any) -> bool:
    """Start one run of the evidence jobs unless the last is still going; returns whether it was started."""
    if rt.evidence_config is None or (rt.evidence_task is not None and not rt.evidence_task.done()):
        return False
    rt.evidence_task = asyncio.create_task(run_evidence_jobs(rt))
    return True


async def stop_evidence_jobs(rt: Any) -> None:
    """Cancel a run still going and wait for it to end."""
    task = rt.evidence_task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def run_evidence_jobs(rt: Any) -> None:
    """One run of the deletion watch then the screenshot job; a failure is logged, never raised (the next round
    starts them again)."""
    allowances = allowances_for(rt.sources, rt.settings.allow_private_sources)
    try:
        watch = await run_deletion_watch(rt.session_factory, clock=rt.clock, config=rt.evidence_config,
                                         allowances=allowances)
        shots = await take_due_screenshots(rt.session_factory, clock=rt.clock, config=rt.evidence_config,
                                           allowances=allowances)
    except Exception:  # evidence must never stop monitoring
        log.exception("evidence jobs failed")
        return
    log.info("evidence jobs", extra={"checked": watch.checked, "deleted": watch.deleted, "restored": watch.restored,
                                     "check_failed": watch.failed, "screenshots": shots.taken,
                                     "screenshots_failed": shots.failed})
