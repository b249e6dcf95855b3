"""``Idempotency-Key`` on the API's creates: a client that did not hear the answer (a timeout, a dropped
connection) sends the same request again with the same key and gets the first answer back, with 200 and the header
``Idempotent-Replayed: true``, instead of filing a second 续报, drafting a second statement or recording a second
regulator report.

The complaint intake has its own key on the complaint row (``incidents.complaints.flows``); this module reuses
its rule for what a key means — ``scoped_key``: a key is the caller's own, so another caller's identical key is
another request and never finds, or reveals, this one — and, like it, answers 409 when a key comes back with a
different request (route or body). Records are kept in ``idempotency_records`` for ``KEEP_FOR`` (7 days); an
older key is forgotten and acts again.

Order of events: the key is claimed (a row without an answer, committed) before the action runs, so two copies of
one request racing each other cannot both act — the second sees the claim and gets 409 "still running"; when the
action is refused (4xx) the claim is removed, so the client may correct the request and retry with the same key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, HTTPException, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.models import IdempotencyRecord
from incidents.complaints.flows import scoped_key
from yuqing import audit_chain
from yuqing.clock import Clock

REPLAYED_HEADER = "Idempotent-Replayed"
KEEP_FOR = timedelta(days=7)  # a retry comes within minutes; a week covers a client that was down over a weekend
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=200,
    description="幂等键：同一键、同一请求重试时返回首次结果（200，Idempotent-Replayed: true）；"
                "同一键用于不同请求为 409")]


def once(session: Session, *, actor: str, key: str | None, route: str, body: Any, clock: Clock,
         run: Callable[[], BaseModel], status_code: int = status.HTTP_200_OK) -> BaseModel | JSONResponse:
    """Run ``run`` once per (caller, key); without a key, just run it. ``route`` and ``body`` identify the request
    (the same key with another route or body is 409)."""
    key = (key or "").strip() or None
    if key is None:
        return run()
    # answers older than KEEP_FOR are forgotten (the table stays small; such a key acts again)
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < clock.now() - KEEP_FOR))
    scoped = scoped_key(actor, key)
    fingerprint = hashlib.sha256(audit_chain.canonical_json({"route": route, "body": jsonable_encoder(body)})
                                 .encode("utf-8")).hexdigest()
    replay = _replay(session, scoped, fingerprint)
    if replay is not None:
        return replay
    record = IdempotencyRecord(key=scoped, fingerprint=fingerprint, created_at=clock.now())
    session.add(record)
    try:
        session.commit()
    except IntegrityError:  # the same key claimed a moment ago by a concurrent copy of this request
        session.rollback()
        return _replay(session, scoped, fingerprint) or _still_running()
    record_id = record.id
    try:
        result = run()
    except Exception:
        session.rollback()
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
        session.commit()
        raise
    answer = jsonable_encoder(result)
    stored = session.get(IdempotencyRecord, record_id)
    stored.status_code, stored.response = status_code, answer
    session.commit()
    return JSONResponse(answer, status_code=status_code)


def _replay(session: Session, scoped: str, fingerprint: str) -> JSONResponse | None:
    record = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == scoped))
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise HTTPException(status.HTTP_409_CONFLICT, "幂等键（Idempotency-Key）已用于另一个内容不同的请求")
    if record.status_code is None:
        raise _still_running()
    return JSONResponse(record.response, status_code=status.HTTP_200_OK, headers={REPLAYED_HEADER: "true"})


def _still_running() -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, "使用同一幂等键（Idempotency-Key）的请求仍在处理中，请稍后重试")
