"""``yuqing api --workers N``: several uvicorn worker processes serving the dashboard and the API on one port.

One process serves one request's Python at a time (rendering, serialisation, the ORM), so on a machine with more
than one core a single ``yuqing api`` leaves cores idle under load (``docs/benchmarks.md``, API throughput). With
``--workers N`` the parent process does what must happen once — check the secret key, migrate, refuse a demo
database, bring the users in line with the org chart — then hands the listening socket to uvicorn's process
manager, which starts N workers that each build the app with :func:`worker_app` from the same settings (the
environment, plus the ``--host`` / ``--port`` given on the command line, passed on through the environment).
uvicorn restarts a worker that dies; SIGINT / SIGTERM stop them all.

What is per process, and so per worker: the live-update hub (each worker pushes the changes its own requests
made; the pipeline's changes reach every worker through the database poll the pages already do), the login
throttle and the password gate (an address is locked after its failures *at one worker*, so up to N times as many
guesses get through before every worker has locked it; argon2 still bounds each worker's rate).
"""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI

from yuqing.settings import Settings, load_settings


def worker_app() -> FastAPI:
    """The app one worker process serves (uvicorn calls this factory in each worker)."""
    from api.app import create_app
    from api.server import settle_heap
    from incidents.policy import load_policy
    from yuqing.clock import SystemClock
    from yuqing.db import engine_for, make_sessionmaker
    from yuqing.org import load_org

    settings = load_settings()
    engine = engine_for(settings)
    app = create_app(settings=settings, session_factory=make_sessionmaker(engine), org=load_org(settings.org_path),
                     clock=SystemClock(), policy=load_policy(settings.levels_path, settings.checklists_path))
    settle_heap()
    return app


def run_api_workers(settings: Settings, workers: int) -> None:
    """Prepare the database once, then serve with ``workers`` processes until SIGINT / SIGTERM."""
    from runner.service import announce_dashboard, prepare_accounts
    from yuqing.clock import SystemClock
    from yuqing.db import engine_for, make_sessionmaker
    from yuqing.migrate import upgrade
    from yuqing.org import load_org
    from yuqing.security import require_secret_key

    require_secret_key(settings.secret_key)
    engine = engine_for(settings)
    upgrade(engine)
    prepare_accounts(make_sessionmaker(engine), load_org(settings.org_path), clock=SystemClock())
    engine.dispose()
    os.environ["YUQING_API_HOST"] = settings.api_host  # the workers read their settings from the environment
    os.environ["YUQING_API_PORT"] = str(settings.api_port)
    announce_dashboard(settings)
    uvicorn.run("runner.api_workers:worker_app", factory=True, host=settings.api_host, port=settings.api_port,
                workers=workers, timeout_graceful_shutdown=3,  # open live-update streams must not hold a stop
                log_level="warning", access_log=False, proxy_headers=False, server_header=False)
