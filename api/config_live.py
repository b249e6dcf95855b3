"""The dashboard and API follow saved configuration documents without a restart.

The app keeps the org chart, the incidents policy, the sources and the settings it reads configuration files
through on ``app.state``. ``install`` adds a middleware that, before a request, asks the database for the
configuration generation (``yuqing.config_store.config_generation``: one indexed ``max()``) — at most once per
``app.state.config_check_seconds`` (1 s) — and when it moved, loads the effective configuration (database documents
over files) and swaps those pieces in: the org chart (and the users brought in line with it, ``api.users
.sync_with_org``), the policy, the sources and their display names, and ``app.state.settings`` pointing at the
effective configuration directory, so the pages that read a file per request (keyword plans, statements, holidays)
read the saved document. A configuration that fails to load keeps the old pieces and is logged once per generation.
"""

from __future__ import annotations

import logging
import threading
import time

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from yuqing import config_store
from yuqing.errors import ConfigError
from yuqing.settings import Settings

log = logging.getLogger("yuqing.config")
CHECK_SECONDS = 1.0
SKIP_PATHS = ("/static/", "/healthz", "/readyz")  # answers that read no configuration


def install(app: FastAPI) -> None:
    """Remember the settings as given (the effective ones are derived from them) and check before requests."""
    state = app.state
    state.base_settings = state.settings
    state.config_generation = 0  # what the pieces on app.state were built from (0: the files, as given)
    state.config_checked_at = 0.0
    state.config_check_seconds = CHECK_SECONDS
    state.config_lock = threading.Lock()

    app.add_middleware(FollowConfiguration)


class FollowConfiguration:
    """ASGI middleware (plain, so streamed responses such as Server-Sent Events pass untouched): before an HTTP
    request, apply a newly saved configuration (checked at most once per ``config_check_seconds``)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("path", "").startswith(SKIP_PATHS):
            app = scope["app"]
            state = app.state
            now = time.monotonic()
            if now >= state.config_checked_at + state.config_check_seconds:
                state.config_checked_at = now
                await run_in_threadpool(refresh, app)
        await self.app(scope, receive, send)


def refresh(app: FastAPI) -> bool:
    """Apply the effective configuration when its generation moved; True when new pieces were swapped in."""
    state = app.state
    try:
        with state.session_factory() as session:
            generation = config_store.config_generation(session)
    except SQLAlchemyError as exc:  # no config tables (a database before migration 0018) or no database
        log.debug("config generation unavailable", extra={"error": str(exc)[:200]})
        return False
    if generation == state.config_generation and state.settings.config_dir.is_dir():
        return False
    with state.config_lock:  # (a directory pruned under a long-running process is written again)
        if generation == state.config_generation and state.settings.config_dir.is_dir():
            return False
        try:
            apply(app, generation)
        except (ConfigError, OSError, SQLAlchemyError) as exc:
            state.config_generation = generation  # logged once; the next save tries again
            log.error("配置已更改但仪表盘未采用，继续使用原配置：%s", str(exc)[:1000],
                      extra={"generation": generation})
            return False
    log.info("仪表盘已采用新配置（第 %s 代）", generation, extra={"generation": generation})
    return True


def apply(app: FastAPI, generation: int) -> None:
    """Load org chart, policy and sources from the effective configuration, then swap them in together."""
    from api.users import sync_with_org
    from incidents.complaints.links import INTERNAL_SOURCE, INTERNAL_SOURCE_NAME
    from incidents.policy import load_policy
    from yuqing.org import load_org

    state = app.state
    with state.session_factory() as session:
        settings, _ = config_store.effective_settings(session, state.base_settings)
        org = load_org(settings.org_path)
        policy = load_policy(settings.levels_path, settings.checklists_path)
        sources = _sources(settings, state.sources)
        sync_with_org(session, org, clock=state.clock)  # a person's new roles or unit apply at their next request
        session.commit()
    # names of sources no longer configured stay: their articles are still shown under them
    names = dict(state.source_names) | {INTERNAL_SOURCE: INTERNAL_SOURCE_NAME} | {s.id: s.name for s in sources}
    state.settings, state.org, state.sources, state.source_names = settings, org, sources, names
    state.policy_provider = lambda: policy
    state.complaints_cfg = None
    # the templates keep their globals (the inbox's unread count); only the source-name filter follows the sources
    state.templates.env.filters["source_name"] = lambda source_id: names.get(source_id, source_id)
    state.config_generation = generation


def _sources(settings: Settings, current: list) -> list:
    """The sources the 信息源 page shows: the sources file and the catalogue entries enabled in it, as the pipeline
    crawls them; when they do not load (the pipeline then keeps its own too), the ones shown so far."""
    from crawlers.sources import PUBLIC_CATALOGUE_FILE, add_public_catalogue, load_sources

    try:
        sources = load_sources(settings.sources_path)
        return add_public_catalogue(sources, settings.config_dir / PUBLIC_CATALOGUE_FILE,
                                    allowed_private=settings.allow_private_sources)
    except ConfigError as exc:
        log.warning("sources not reloaded; the dashboard keeps the previous list", extra={"error": str(exc)[:500]})
        return list(current)
