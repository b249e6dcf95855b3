"""The composition root: build every stage from settings and run the pipeline loop.

Part of ``runner``, the composition root: the one package that imports every layer (nothing imports it).
Each round runs every stage once, and every stage finds its work by querying the database (article stages,
unhandled risk rows, the notification outbox), so a process killed mid-round resumes on restart without
duplicates or lost alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from yuqing.clock import Clock
from yuqing.db import engine_for, make_sessionmaker
from yuqing.org import OrgChart, load_org
from yuqing.settings import Settings

if TYPE_CHECKING:  # the stages' types, without importing every layer at start-up (``yuqing --help`` stays fast)
    from crawlers.keywords import KeywordPlan
    from crawlers.matching import Matcher
    from crawlers.sources import SourceConfig
    from crawlers.stories import StoryIndex
    from incidents.briefings.delivery import ReportsConfig
    from incidents.evidence_config import EvidenceConfig
    from incidents.notify import ChannelBreakers, GroupSender, Sender
    from incidents.policy import Policy
    from sentiment.classifier import Classifier
    from sentiment.risk import RiskConfig
    from sentiment.service import RiskContext

log = logging.getLogger("yuqing.pipeline")


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    session_factory: sessionmaker[Session]
    org: OrgChart
    sources: list[SourceConfig]
    policy: Policy
    risk_ctx: RiskContext
    matcher: Matcher
    story_index: StoryIndex
    classifier: Classifier
    senders: dict[str, Sender | GroupSender] = field(default_factory=dict)
    crawl_overrides: dict[str, object] = field(default_factory=dict)  # Scrapy settings (the demo drops the delay)
    reports_config: ReportsConfig | None = None  # config/reports.yaml: who gets the 日报 / 周报
    breakers: ChannelBreakers | None = None  # each channel's circuit breaker, kept across rounds
    evidence_config: EvidenceConfig | None = None  # config/evidence.yaml; None: no evidence jobs
    evidence_task: asyncio.Task[None] | None = None  # the running deletion watch + screenshot job
    # configuration applied without a restart (runner.config_reload): the generation the pieces above were built
    # from, the settings as given (``settings`` reads the effective configuration), what the sources file's
    # variables were, and whether the senders were given (the backtest's recorders are kept on a reload)
    config_generation: int = 0
    base_settings: Settings | None = None
    source_vars: dict[str, str] = field(default_factory=dict)
    fixed_senders: bool = False


@dataclass
class RoundReport:
    crawled_sources: int = 0
    new_articles: int = 0
    relevant: int = 0
    ingest_failed: int = 0
    classified: int = 0
    complaints: int = 0  # complaint-board posts recorded as complaints
    risks: int = 0
    alerts_touched: int = 0
    escalations: int = 0  # what the scheduled jobs did: alerts escalated, reminders and overdue steps, groups
    delivered: int = 0
    delivery_skipped: int = 0  # messages left pending this round: channel breaker open or round budget used up
    breakers_open: list[str] = field(default_factory=list)  # channels skipped until their cool-down ends
    reports_queued: int = 0  # messages of a 日报 / 周报 issued this round
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RoundReport) -> None:
        """Add one stage's counts (``runner.stages``) to this report: numbers summed, lists joined."""
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, sorted(set(mine) | set(value)) if name == "breakers_open" else mine + value)
            elif name != "seconds":
                setattr(self, name, mine + value)


@dataclass
class LoadedConfig:
    """Every configuration file, loaded and validated (no database, no network)."""

    org: OrgChart
    sources: list[SourceConfig]
    plans: list[KeywordPlan]
    policy: Policy
    risk_config: RiskConfig
    settings: Settings | None = None  # the settings reading the effective configuration (None: the files)
    generation: int = 0  # yuqing.config_store.config_generation when it was read


def load_config(settings: Settings, *, source_vars: dict[str, str] | None = None,
                engine: Engine | None = None) -> LoadedConfig:
    """Load and validate every config file; the first problem raises a ConfigError naming file and field.

    With ``engine`` each document's effective text is read — the database copy an admin saved in the console
    over the file (``runner.config_reload.effective_config``, ``yuqing.config_store``).

    Sources that name a ``private_network`` are refused unless their ids are in ``allow_private_sources``
    (``YUQING_ALLOW_PRIVATE_SOURCES``): reaching inside the network takes the admin's word, not just the file's.
    """
    if engine is not None:
        from runner.config_reload import effective_config

        return effective_config(settings, engine, source_vars=source_vars)
    from crawlers.keywords import load_keyword_plans
    from crawlers.sources import PUBLIC_CATALOGUE_FILE, add_public_catalogue, load_sources, require_private_opt_in
    from incidents.policy import load_policy
    from incidents.regulators import REGULATORS_FILE, check_regulators_against_org
    from incidents.routing import check_chain_against_org
    from incidents.workdays import HOLIDAYS_FILE, calendar_for
    from sentiment.risk import load_risk_config

    plans_path = settings.config_dir / "keywords.yaml"
    org = load_org(settings.org_path)
    sources = load_sources(settings.sources_path, variables=source_vars or {})
    require_private_opt_in(sources, settings.allow_private_sources, settings.sources_path)
    sources = add_public_catalogue(sources, settings.config_dir / PUBLIC_CATALOGUE_FILE,  # the entries enabled there
                                   allowed_private=settings.allow_private_sources)
    calendar_for(settings.config_dir / HOLIDAYS_FILE)  # an invalid holidays file stops start-up, not deadlines
    policy = load_policy(settings.levels_path, settings.checklists_path)
    check_chain_against_org(policy, org, settings.levels_path)  # the reporting chain names real people
    # every branch has a regulator / central bank recipient for each reporting clock (or the clock could not be met)
    check_regulators_against_org(policy, org, settings.levels_path.parent / REGULATORS_FILE)
    return LoadedConfig(
        org=org,
        sources=sources,
        plans=load_keyword_plans(plans_path) if plans_path.exists() else [],
        policy=policy,
        risk_config=load_risk_config(settings.config_dir / "risk.yaml"),
    )


def build_runtime(settings: Settings, *, clock: Clock, source_vars: dict[str, str] | None = None,
                  engine: Engine | None = None, senders: dict[str, Sender | GroupSender] | None = None,
                  classifier: Classifier | None = None) -> Runtime:
    """Load the configuration and build each stage on a migrated database (fails fast with a ConfigError).

    ``senders`` replaces the channels' real senders and ``classifier`` the loaded model (``yuqing backtest``
    records what would have been sent instead of sending it, and loads the model once for many replays)."""
    from crawlers.matching import Matcher
    from crawlers.story_config import STORIES_FILE, load_story_config
    from incidents.briefings.delivery import REPORTS_FILE, load_reports_config
    from incidents.evidence_config import EVIDENCE_FILE, load_evidence_config
    from incidents.notify import ChannelBreakers, default_senders
    from sentiment.batch import choose_classifier
    from sentiment.service import RiskContext

    engine = engine or engine_for(settings)
    cfg = load_config(settings, source_vars=source_vars, engine=engine)  # database documents over files
    base_settings, settings = settings, cfg.settings or settings
    if not any(s.enabled for s in cfg.sources):
        # Not an error: a fresh installation starts with an empty config/sources.yaml, and the dashboard and
        # incident handling are useful before the first source is added. But silence must not look like calm.
        log.warning("未配置任何来源，不会抓取任何内容：请在来源配置文件中添加来源 (no sources configured)",
                    extra={"sources_file": str(settings.sources_path)})
    session_factory = make_sessionmaker(engine)
    authorities = {s.id: s.authority for s in cfg.sources}
    index: StoryIndex = load_story_config(settings.config_dir / STORIES_FILE).index()  # config/stories.yaml
    with session_factory() as session:
        index.load(session)
    return Runtime(
        settings=settings, clock=clock, engine=engine, session_factory=session_factory, org=cfg.org,
        sources=cfg.sources, policy=cfg.policy,
        risk_ctx=RiskContext(org=cfg.org, config=cfg.risk_config, authorities=authorities),
        matcher=Matcher.from_org(cfg.org, cfg.plans), story_index=index,
        classifier=classifier if classifier is not None else choose_classifier(),
        senders=senders if senders is not None else default_senders(cfg.policy, settings),
        breakers=ChannelBreakers.from_policy(cfg.policy.channels.delivery),
        reports_config=load_reports_config(settings.config_dir / REPORTS_FILE),
        evidence_config=load_evidence_config(settings.config_dir / EVIDENCE_FILE),
        config_generation=cfg.generation, base_settings=base_settings, source_vars=dict(source_vars or {}),
        fixed_senders=senders is not None)


async def run_round(rt: Runtime, *, crawl: bool = True) -> RoundReport:
    """Run every stage once, in order, on the calling thread: crawl due sources, match, classify, score,
    alert/open incidents, the scheduled jobs, notify. The steps are ``runner.stages``'; ``yuqing run`` runs the same
    steps each on its own cadence (``runner.loop``), the backtest, the demo and the tests call this round."""
    from runner import stages
    from runner.config_reload import reload_if_changed

    reload_if_changed(rt)  # a configuration document saved since the last round is applied now
    report = RoundReport()
    t0 = time.perf_counter()
    if crawl:
        report.add(await stages.crawl_these(rt, stages.due_now(rt)))
    for step in (stages.ingest, stages.classify, stages.score, stages.incidents):
        report.add(step(rt))
    report.add(stages.scheduled(rt, source_alerts=crawl))
    report.add(await stages.notify(rt))
    report.seconds = time.perf_counter() - t0
    log.info("pipeline round", extra={k: v for k, v in vars(report).items() if k != "errors"})
    return report


def source_alerts(session: Session, rt: Runtime) -> int:
    """``incidents.source_alerts`` with the thresholds of ``YUQING_SOURCE_ALERT_*`` (``runner.stages``)."""
    from runner.stages import run_source_alerts

    return run_source_alerts(session, rt)


async def run_pipeline(rt: Runtime, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
    """Run rounds until ``stop`` is set; a failing round is logged and retried, never fatal. After each round the
    evidence jobs (deletion watch, screenshots) are started in the background (``incidents.evidence_jobs``).

    This sequential loop was ``yuqing run``'s pipeline; ``yuqing run`` now runs each stage on its own loop
    (``runner.loop``). It stays for callers that want whole rounds and as the baseline of ``python -m bench
    dashboard-latency``."""
    from incidents.evidence_jobs import start_evidence_jobs, stop_evidence_jobs

    while not stop.is_set():
        try:
            await run_round(rt)
        except Exception:  # a bad round must not stop monitoring; the next one retries the same work
            log.exception("pipeline round failed")
        start_evidence_jobs(rt)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
    await stop_evidence_jobs(rt)
