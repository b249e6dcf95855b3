"""``/readyz``: is this process ready to serve — does the database answer within ``READY_TIMEOUT_S``?

``/healthz`` (in ``api.app``) waits as long as the database takes; a load balancer deciding whether to send traffic
here needs an answer in bounded time, so ``/readyz`` gives the ping that long and then answers 503 whatever the
database is doing (the abandoned ping finishes, or times out on the engine's own limits, in its worker thread).
"""

from __future__ import annotations

import logging

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from api import queries
from api.schemas import HealthRead

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 2.0


def _ping(request: Request) -> None:
    with request.app.state.session_factory() as session:
        queries.ping(session)


@router.get("/readyz", response_model=HealthRead, summary="就绪检查（数据库须在 2 秒内应答）",
            responses={503: {"model": HealthRead, "description": "数据库不可用或超时"}})
async def readyz(request: Request) -> JSONResponse:
    problem = "数据库应答超时"
    with anyio.move_on_after(READY_TIMEOUT_S):
        try:
            await anyio.to_thread.run_sync(_ping, request, abandon_on_cancel=True)
            return JSONResponse({"status": "ok"})
        except SQLAlchemyError as exc:
            log.warning("readyz: database unavailable", extra={"error": str(exc)[:200]})
            problem = "数据库不可用"
    return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
