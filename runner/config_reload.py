"""Configuration applied without a restart: the pipeline reads the effective configuration (database documents over
files, ``yuqing.config_store``) and rebuilds its configuration pieces in place when a document is saved.

``effective_config`` is what ``runner.runtime.load_config`` runs when it is given the database: the same loaders and
start-up checks over the effective configuration directory, with errors naming the document as the admin knows it
(``sources.yaml (数据库版本 3)``). ``reload_if_changed`` is called at the start of every pipeline round: one cheap
query (``config_generation``) tells whether anything was saved since the runtime was built; if so, and the new
configuration passes the start-up checks, the org chart, sources, policy, matcher, risk context, senders, reports and
evidence configuration are swapped in; an invalid one keeps the old and logs why (once per generation).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from yuqing import config_store
from yuqing.errors import ConfigError
from yuqing.settings import Settings

if TYPE_CHECKING:
    from runner.runtime import LoadedConfig, Runtime

log = logging.getLogger("yuqing.config")


def has_store(engine: Engine) -> bool:
    """Whether the database has the documents table (a database migrated before 0018 has none: files only)."""
    try:
        return inspect(engine).has_table(config_store.ConfigDocument.__tablename__)
    except SQLAlchemyError:
        return False


def effective_config(settings: Settings, engine: Engine, *, source_vars: dict[str, str] | None = None
                     ) -> LoadedConfig:
    """``load_config`` over the effective configuration; the result carries the effective settings and the
    generation it was read at. A ConfigError names the document (``org.yaml (数据库版本 2)``) or its file."""
    from runner.runtime import load_config

    if not has_store(engine):
        return load_config(settings, source_vars=source_vars)
    with Session(engine) as session:
        generation = config_store.config_generation(session)
        effective, versions = config_store.effective_settings(session, settings)
    try:
        cfg = load_config(effective, source_vars=source_vars)
    except ConfigError as exc:
        raise relabel(exc, effective, settings, versions) from None
    return replace(cfg, settings=effective, generation=generation)


def relabel(exc: ConfigError, effective: Settings, settings: Settings, versions: dict[str, int]) -> ConfigError:
    """The same error naming the database document (and its version) or the original file, not the copy under
    ``var/config-effective``."""
    name = config_store.name_in(effective.config_dir, exc.path)
    if name is None or effective is settings:
        return exc
    label = (config_store.document_label(name, versions[name]) if name in versions
             else str(config_store.document_files(settings).get(name, exc.path)))
    return ConfigError(label, exc.problems)


def reload_if_changed(rt: Runtime) -> bool:
    """Rebuild ``rt``'s configuration pieces in place when a document was saved since it was built; True when the
    new configuration was applied. Never raises: a failing check or load is logged and the old one kept."""
    try:
        with rt.session_factory() as session:
            generation = config_store.config_generation(session)
    except SQLAlchemyError as exc:  # e.g. a database not migrated to 0018 yet: keep running on the files
        log.debug("config generation unavailable", extra={"error": str(exc)[:200]})
        return False
    if generation == rt.config_generation and rt.settings.config_dir.is_dir():  # (a pruned directory: rewrite)
        return False
    base = rt.base_settings or rt.settings
    try:
        cfg = effective_config(base, rt.engine, source_vars=rt.source_vars)
        apply(rt, cfg)
    except Exception as exc:  # the old configuration keeps running; the admin sees why in the log
        rt.config_generation = generation  # said once per generation, not every round
        log.error("配置已更改但未生效，继续使用原配置：%s", str(exc)[:1000],
                  extra={"generation": generation, "error": str(exc)[:1000]})
        return False
    log.info("配置已更新并生效（第 %s 代）", cfg.generation, extra={"generation": cfg.generation})
    return True


def apply(rt: Runtime, cfg: LoadedConfig) -> None:
    """Swap the configuration pieces of ``rt`` for those of ``cfg`` (built first, assigned last: a failure while
    building leaves ``rt`` as it was). The classifier is a model, not configuration, and stays; the story index
    is rebuilt from the database only when stories.yaml changed its windows; the channels' circuit breakers keep their
    state (a new threshold and cool-down apply when the delivery settings changed)."""
    from crawlers.matching import Matcher
    from crawlers.story_config import STORIES_FILE, load_story_config
    from incidents.briefings.delivery import REPORTS_FILE, load_reports_config
    from incidents.evidence_config import EVIDENCE_FILE, load_evidence_config
    from incidents.notify import ChannelBreakers, default_senders
    from sentiment.service import RiskContext

    settings = cfg.settings or rt.base_settings or rt.settings
    matcher = Matcher.from_org(cfg.org, cfg.plans)
    risk_ctx = RiskContext(org=cfg.org, config=cfg.risk_config, authorities={s.id: s.authority for s in cfg.sources})
    senders = rt.senders if rt.fixed_senders else default_senders(cfg.policy, settings)
    reports = load_reports_config(settings.config_dir / REPORTS_FILE)
    evidence = load_evidence_config(settings.config_dir / EVIDENCE_FILE)
    story_index = rt.story_index
    fresh = load_story_config(settings.config_dir / STORIES_FILE).index()
    if (fresh.window, fresh.slow_window, fresh.slow_events) != (story_index.window, story_index.slow_window,
                                                                story_index.slow_events):
        with rt.session_factory() as session:  # the same stories, judged with the new windows from now on
            fresh.load(session)
        story_index = fresh
    breakers = rt.breakers
    if breakers is None:
        breakers = ChannelBreakers.from_policy(cfg.policy.channels.delivery)
    elif cfg.policy.channels.delivery != rt.policy.channels.delivery:
        breakers = breakers.reconfigured(cfg.policy.channels.delivery)
    if rt.base_settings is None:
        rt.base_settings = rt.settings
    rt.settings, rt.org, rt.sources, rt.policy = settings, cfg.org, cfg.sources, cfg.policy
    rt.matcher, rt.risk_ctx, rt.senders, rt.breakers = matcher, risk_ctx, senders, breakers
    rt.reports_config, rt.evidence_config, rt.story_index = reports, evidence, story_index
    rt.config_generation = cfg.generation
