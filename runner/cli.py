"""The ``yuqing`` command line. Part of the composition root: commands import the stages they wire lazily, so
``yuqing --help`` stays fast and the core never imports the higher layers at module import time."""

from __future__ import annotations

import asyncio
import faulthandler
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from runner.cli_base import _fail, _settings, _user_session  # shared with the command modules
from runner.cli_report import report_app  # typer only at import: `yuqing --help` stays fast
from yuqing.errors import ConfigError
from yuqing.settings import Settings

app = typer.Typer(help="yuqing 舆情: public-opinion monitoring and incident response for banks.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command()
def migrate(revision: Annotated[str, typer.Option(help="target revision")] = "head") -> None:
    """Create or upgrade the database schema (SQLite under var/ by default, or YUQING_DATABASE_URL)."""
    from yuqing.db import engine_for
    from yuqing.migrate import current_revision, upgrade

    settings = _settings()
    engine = engine_for(settings)  # the connect timeout; migrations lift the statement limit for themselves
    upgrade(engine, revision)
    typer.echo(f"database at revision {current_revision(engine)}: "
               f"{engine.url.render_as_string(hide_password=True)}")
    if engine.dialect.name == "postgresql":  # the job engine of `yuqing worker` keeps its jobs beside the data
        from runner.workers import ensure_job_schema

        applied = ensure_job_schema(settings)
        typer.echo("job queue schema (procrastinate) " + ("created" if applied else "already present"))


@app.command("check-config")
def check_config(ctx: typer.Context) -> None:
    """Validate every configuration file (org chart, sources, keywords, levels, checklists, risk, holidays).

    Also says how far the holiday calendar reaches: a warning from 60 days before its end, an error past it (the
    exit status stays 0: deadlines still work, counted Monday–Friday). ``ctx.obj["clock"]`` may inject a clock.
    """
    from incidents.workdays import HOLIDAYS_FILE, calendar_for, coverage_status, package_disagreements, package_years
    from runner.cli_config import check_database_documents
    from runner.runtime import load_config
    from yuqing.clock import SystemClock

    settings = check_database_documents(_settings())  # documents saved in the admin console win over the files
    _every_config_problem(settings)
    holidays_path = settings.config_dir / HOLIDAYS_FILE
    try:
        cfg = load_config(settings)
        calendar = calendar_for(holidays_path)
        from incidents.statements import TEMPLATES_FILE, load_templates  # 口径 templates

        statement_templates = load_templates(settings.config_dir / TEMPLATES_FILE)
        from incidents.briefings.delivery import REPORTS_FILE, load_reports_config  # 日报 / 周报 delivery

        load_reports_config(settings.config_dir / REPORTS_FILE)
        from incidents.evidence_config import EVIDENCE_FILE, load_evidence_config  # screenshots, deletion watch

        evidence = load_evidence_config(settings.config_dir / EVIDENCE_FILE)
        from runner.cli_complaints import complaints_config_line  # 投诉时限, who sees customer details

        complaints_line = complaints_config_line(settings)
    except ConfigError as exc:
        _fail(str(exc))
    typer.echo(f"ok: {len(cfg.org.units)} units, {len(cfg.org.people)} people, {len(cfg.sources)} sources, "
               f"{len(cfg.plans)} keyword plans, {len(cfg.policy.playbooks)} checklists")
    typer.echo(f"statements: {len(statement_templates.templates)} templates ({settings.config_dir / TEMPLATES_FILE})")
    _echo_regulators(cfg.policy, settings)
    _echo_catalogue(settings)
    typer.echo(complaints_line)
    watch = evidence.deletion_watch
    typer.echo(f"evidence: screenshots {'on' if evidence.screenshots.enabled else 'off'}, deletion watch "
               + (f"every {watch.open_every_minutes} min while an incident is active, {len(watch.removal_notices)} "
                  "removal notices" if watch.enabled else "off") + f" ({settings.config_dir / EVIDENCE_FILE})")
    first, last = package_years()
    extra = ", ".join(str(y) for y in sorted(calendar.years)) or "none"
    typer.echo(f"holidays: known through {calendar.last_covered_date} (chinesecalendar {first}-{last}; "
               f"{holidays_path}: {extra})")
    for year, days in package_disagreements(calendar).items():
        note = (f"chinesecalendar now knows {year} too and agrees; the entry can be removed" if not days else
                f"{year} differs from chinesecalendar on {', '.join(str(d) for d in days[:5])}"
                f"{' …' if len(days) > 5 else ''}; the file wins: check it against the State Council's notice")
        typer.echo(f"注意 note: {holidays_path}: years.{year}: {note}", err=bool(days))
    clock = (ctx.obj or {}).get("clock") if isinstance(ctx.obj, dict) else None
    today = (clock or SystemClock()).now().astimezone(settings.tz).date()
    status = coverage_status(calendar, today)
    if status.level != "ok":
        prefix = "错误 error" if status.level == "error" else "警告 warning"
        typer.echo(f"{prefix}: {status.message(str(holidays_path))}", err=True)


def _every_config_problem(settings: Settings) -> None:
    """Exit 2 listing every problem of every file (runner.cli_check_config), levels named I–IV, when any."""
    from runner.cli_check_config import config_problems, render_problems

    problems = config_problems(settings)
    if problems:
        typer.echo(f"错误 error: 配置有 {len(problems)} 处问题 invalid configuration:", err=True)
        for line in render_problems(problems):
            typer.echo(line, err=True)
        raise typer.Exit(2)


def _echo_catalogue(settings: Settings) -> None:
    """check-config's line on config/sources.public.yaml (every entry validated by ``runner.cli_check_config``)."""
    from crawlers.sources import PUBLIC_CATALOGUE_FILE, load_sources

    path = settings.config_dir / PUBLIC_CATALOGUE_FILE
    if path.exists():
        catalogue = load_sources(path)
        typer.echo(f"public catalogue: {len(catalogue)} sources, {sum(s.enabled for s in catalogue)} enabled "
                   f"({path})")


def _echo_regulators(policy, settings: Settings) -> None:
    """check-config's line on config/regulators.yaml (validated, against the org chart, by ``load_config``)."""
    from incidents.regulators import REGULATORS_FILE

    path = settings.levels_path.parent / REGULATORS_FILE
    regs = policy.regulators
    if regs is None:
        typer.echo(f"注意 note: {path}: not found; reports to the regulator and the central bank name their "
                   "recipient by hand", err=True)
        return
    typer.echo(f"regulators: {len(regs.recipients)} recipients, {len(regs.reports)} report templates ({path})")


@app.command()
def demo(
    speed: Annotated[float, typer.Option(min=1, help="simulated seconds per wall-clock second")] = 120.0,
    headless: Annotated[bool, typer.Option(help="no dashboard; exit when the scenario ends, print a summary")]
    = False,
    respond: Annotated[bool, typer.Option(help="the people act too: the commander, legal and a branch leader run "
                                               "the case to its review through the same actions as a user")]
    = False,
    host: Annotated[str | None, typer.Option("--host", help="dashboard address (default: YUQING_API_HOST, "
                                             "127.0.0.1; loopback only)")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="dashboard port (default: "
                                             "YUQING_API_PORT, 8000)")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, max=16, help="run the stages in N `yuqing "
                                                "worker` processes per stage group (3 groups) on the PostgreSQL of "
                                                "YUQING_DATABASE_URL (default: in this process)")] = None,
) -> None:
    """Play the scripted crisis on the simulated internet through the whole pipeline (and the dashboard)."""
    from runner.demo import DemoOptions, run_demo

    settings = _listening(_settings(), host, port, allow_remote=False)
    if workers:
        from runner.demo_workers import require_postgresql

        try:
            require_postgresql(settings)
        except ConfigError as exc:
            _fail(str(exc))
    options = DemoOptions(speed=speed, headless=headless, respond=respond, workers=workers or 0)
    try:
        summary = asyncio.run(_until_signalled(run_demo(settings, options)))
    except ConfigError as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, asyncio.CancelledError):
        typer.echo("已停止 stopped", err=True)
        return
    typer.echo(json.dumps(summary, ensure_ascii=False))


async def _until_signalled(coro):
    """Await ``coro``, cancelling it on SIGINT or SIGTERM so its ``finally`` blocks stop servers cleanly.

    Explicit handlers rather than Python's default KeyboardInterrupt: a process started in the background by a
    non-interactive shell inherits SIGINT as ignored, and a process manager stops services with SIGTERM.
    """
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    return await coro


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8100,
    speed: Annotated[float, typer.Option(min=1, help="simulated seconds per wall-clock second")] = 60.0,
) -> None:
    """Serve the simulated internet (news, RSS, sitemap, Weibo-like API, complaints, regulator) on 127.0.0.1."""
    from sim.server import serve

    _settings()
    serve("127.0.0.1", port, speed, "sim-weibo-token")


HostOpt = Annotated[str | None, typer.Option("--host", help="address the dashboard listens on (default: "
                                             "YUQING_API_HOST, 127.0.0.1)")]
PortOpt = Annotated[int | None, typer.Option("--port", min=1, max=65535, help="dashboard port (default: "
                                             "YUQING_API_PORT, 8000)")]
AllowRemoteOpt = Annotated[bool, typer.Option("--allow-remote", help="listen on a non-loopback address without a "
                                              "TLS proxy in front (see docs/security.md)")]


def _listening(settings: Settings, host: str | None, port: int | None, allow_remote: bool) -> Settings:
    from yuqing.listen import listen_settings

    try:
        return listen_settings(settings, host=host, port=port, allow_remote=allow_remote)
    except ConfigError as exc:
        _fail(str(exc))
    raise AssertionError("unreachable")


@app.command()
def run(host: HostOpt = None, port: PortOpt = None, allow_remote: AllowRemoteOpt = False,
        stage_process: Annotated[bool, typer.Option(
            "--stage-process", help="run crawl, ingest, classify, score and incidents in a child process (its "
            "own GIL, run nicer), keeping the dashboard, schedule and notify here; the "
            "model is loaded there, not here")] = False) -> None:
    """Run every stage and the dashboard in one process, on the real clock, with the configured sources."""
    from runner import event_loop
    from runner.service import run_service

    settings = _listening(_settings(), host, port, allow_remote)
    try:
        event_loop.run(run_service(settings, stage_process=stage_process))  # uvloop when installed
    except ConfigError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("已停止 stopped", err=True)


@app.command()
def worker(
    stages: Annotated[list[str], typer.Argument(help="stages this process runs: crawl ingest classify score "
                                                      "incidents notify schedule (several allowed)")],
    concurrency: Annotated[int | None, typer.Option(min=1, max=64, help="jobs at once (default: one per stage, "
                                                                         "three more for crawl)")] = None,
    demo: Annotated[bool, typer.Option("--demo", hidden=True, help="started by `yuqing demo --workers`: its "
                                       "wiring and clock come on stdin (runner.demo_workers)")] = False,
) -> None:
    """Run stages as jobs from the PostgreSQL job queue (procrastinate); any number, on any machine. SIGTERM
    finishes the running jobs, then stops."""
    from runner.workers import run_worker

    setup = None
    if demo:
        from runner.demo_workers import DemoLink

        setup = DemoLink(stages).setup
    try:
        asyncio.run(run_worker(_settings(), stages, concurrency=concurrency, setup=setup))
    except ConfigError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("已停止 stopped", err=True)


@app.command()
def api(host: HostOpt = None, port: PortOpt = None, allow_remote: AllowRemoteOpt = False,
        workers: Annotated[int, typer.Option("--workers", min=1, max=32,
                                             help="server processes sharing the port (one per core is a good start; "
                                                  "see docs/benchmarks.md)")] = 1) -> None:
    """Serve only the web dashboard and the HTTP API."""
    from runner.service import run_api_only

    settings = _listening(_settings(), host, port, allow_remote)
    try:
        if workers > 1:
            from runner.api_workers import run_api_workers

            run_api_workers(settings, workers)
            return
        from runner import event_loop

        event_loop.run(run_api_only(settings))  # uvloop when installed (--workers: uvicorn picks it itself)
    except ConfigError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("已停止 stopped", err=True)


@app.command()
def extract(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="an HTML file")],
    url: Annotated[str | None, typer.Option(help="the page's URL, helps extraction")] = None,
) -> None:
    """Extract {title, published_at, author, text} from an HTML page as JSON on stdout."""
    from crawlers.extract import extract_html

    result = extract_html(file.read_bytes(), url=url)
    typer.echo(json.dumps(result.to_json(), ensure_ascii=False))


@app.command()
def classify(
    input: Annotated[Path, typer.Option("--input", exists=True, dir_okay=False, help="JSONL lines {id, text} "
                                        "(or, with --lines, plain text: one text per line)")],
    output: Annotated[Path, typer.Option("--output", help="JSONL lines {id, label, negative_prob, category, risk}")],
    model: Annotated[Path | None, typer.Option("--model", help="model directory (default: YUQING_MODEL_DIR or "
                                               "the bundled model)")] = None,
    rules: Annotated[bool, typer.Option("--rules", help="use the rule-based baseline instead of the model")] = False,
    lines: Annotated[bool, typer.Option("--lines", help="the input is plain text, one text per line; each output "
                                        "id is the text's line number")] = False,
) -> None:
    """Classify texts: sentiment label, negative probability, risk category and a single-text risk score.

    Every good line is written; each bad one is reported on stderr with its line number, and then the exit
    status is 1, so a script never mistakes a partial output for a complete one.
    """
    from sentiment.batch import choose_classifier, classify_jsonl

    _settings()
    try:
        classifier = choose_classifier(model, rules=rules)
    except (OSError, ValueError) as exc:
        _fail(f"cannot load the model: {exc}")
    stats = classify_jsonl(input, output, classifier=classifier, plain_lines=lines)
    typer.echo(json.dumps(stats, ensure_ascii=False), err=True)
    if stats["errors"]:
        raise typer.Exit(1)


@app.command()
def evaluate(
    data: Annotated[str, typer.Option("--data", help="corpus-format JSONL file or directory, or 'heldout' / "
                                      "'heldout2', or 'corpus' (with --split), or 'public' (the real labelled data, "
                                      "per source)")],
    split: Annotated[str | None, typer.Option("--split", help="train|dev|test split of the data (default for "
                                              "'corpus': test); for 'public' train|dev|heldout (default heldout)")]
    = None,
    model: Annotated[Path | None, typer.Option("--model", help="model directory (default: YUQING_MODEL_DIR or "
                                               "the bundled model)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write every number to this JSON file")]
    = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="directory of the public data (default: "
                                                  "YUQING_SENTIMENT_DATA_DIR or ../shared/data/sentiment)")] = None,
    limit_per_source: Annotated[int | None, typer.Option(
        "--limit-per-source", min=1, help="at most this many texts per source, chosen by a hash of the id")] = None,
    reliability_svg: Annotated[Path | None, typer.Option(
        "--reliability-svg", help="also draw the reliability diagram (calibration) of every classifier here")]
    = None,
) -> None:
    """Evaluate the model beside the snownlp and lexicon baselines, in the same run, on labelled texts."""
    from sentiment.corpus import CorpusError
    from sentiment.evaluate import evaluate as run_evaluation
    from sentiment.evaluate import evaluation_classifiers, format_report, json_safe, load_items

    _settings()
    sizes = None
    try:
        items, what = load_items(data, split, data_dir=data_dir, limit_per_source=limit_per_source)
        if data == "public":
            from sentiment.public_data import format_split_sizes, load_public, split_public, split_sizes

            sizes = split_sizes(split_public(load_public(data_dir)))
    except (CorpusError, OSError, ValueError) as exc:
        _fail(str(exc))
    if not items:
        _fail(f"{what}: no texts to evaluate")
    try:
        classifiers = evaluation_classifiers(model)
    except (OSError, ValueError) as exc:
        _fail(f"cannot load the model: {exc}")
    if sizes is not None:
        typer.echo("公开数据划分 public data split (near-duplicate groups, hash-assigned; heldout never trained on)")
        typer.echo(format_split_sizes(sizes) + "\n")
    result = run_evaluation(items, classifiers, by_source=data == "public")
    typer.echo(format_report(result, title=f"评估 evaluation: {what}"))
    if json_out is not None:
        payload = {"data": what, "results": result} | ({"split_sizes": sizes} if sizes is not None else {})
        json_out.write_text(json.dumps(json_safe(payload), ensure_ascii=False, indent=1), encoding="utf-8")
    if reliability_svg is not None:
        from sentiment.calibration import reliability_svg as draw

        reliability_svg.write_text(draw({name: m["calibration"] for name, m in result.items()},
                                        title=f"可靠性图 reliability: {what}"), encoding="utf-8")


@app.command()
def train(
    out: Annotated[Path | None, typer.Option(help="model directory to write (default: the bundled model)")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="override the number of epochs")] = None,
    with_feedback: Annotated[bool, typer.Option(
        "--with-feedback", help="fine-tune the current model on monitors' feedback into var/models/<time>")] = False,
    feedback_file: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="feedback JSONL to use instead of exporting it from the database")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="real labelled data to train on as well (default: YUQING_SENTIMENT_DATA_DIR or "
        "../shared/data/sentiment when present); its held-out split is never trained on")] = None,
    no_public_data: Annotated[bool, typer.Option("--no-public-data", help="train on the project's corpus only")]
    = False,
    public_limit_per_source: Annotated[int | None, typer.Option(
        "--public-limit-per-source", min=1, help="smoke runs: at most this many public rows per source and split")]
    = None,
    ngram_only: Annotated[bool, typer.Option(
        "--ngram-only", help="keep the transformer of --transformer-from (default: the bundled model), retrain "
        "only the n-gram model and refit the blend (minutes instead of hours)")] = False,
    transformer_from: Annotated[Path | None, typer.Option(
        "--transformer-from", exists=True, file_okay=False, help="with --ngram-only: the model directory whose "
        "transformer is kept")] = None,
    keep_corpus_ngram: Annotated[bool, typer.Option(
        "--keep-corpus-ngram", help="with --ngram-only: keep the corpus-only n-gram model of --transformer-from "
        "beside the retrained one and blend both")] = False,
    init_from: Annotated[Path | None, typer.Option(
        "--init-from", exists=True, file_okay=False, help="start from this model directory's transformer and "
        "tokenizer (fine-tune) instead of a new one")] = None,
    lr: Annotated[float | None, typer.Option(min=1e-6, max=1e-1, help="override the learning rate")] = None,
    blend_corpus_weight: Annotated[float, typer.Option(
        "--blend-corpus-weight", min=0.01, max=1000, help="in the blend fit, the project's corpus weighs as much as "
        "this many public sources (each public source weighs one)")] = 1.0,
    oversample: Annotated[list[str] | None, typer.Option(
        "--oversample", help="SOURCE=K, repeatable: weigh the transformer's training rows of SOURCE ('corpus' or a "
        "public source) K times (3 triples them, 0.25 keeps a fixed quarter, 0 drops them); dev is not resampled")]
    = None,
    blend_only: Annotated[bool, typer.Option(
        "--blend-only", help="with --ngram-only: keep both n-gram models of --transformer-from as well and only "
        "refit the blend")] = False,
    bank_ngram: Annotated[bool, typer.Option(
        "--bank-ngram", help="with --ngram-only: also train a third n-gram model on the corpus and the public bank & "
        "finance sources and blend it (needs --keep-corpus-ngram)")] = False,
    blend_context: Annotated[bool, typer.Option(
        "--blend-context", help="also blend the about-a-bank head and the text's length (needs the corpus-only "
        "n-gram model: --keep-corpus-ngram)")] = False,
    ngram_seeds: Annotated[int, typer.Option(
        "--ngram-seeds", min=1, max=50, help="train each n-gram model this many times (seeds from the config's) and "
        "average their weights: the same size and speed, less dependent on the data order")] = 1,
    transformer_only: Annotated[bool, typer.Option(
        "--transformer-only", help="save the transformer and its heads only, no n-gram model or blend (for a "
        "following --ngram-only --transformer-from step that fits those)")] = False,
) -> None:
    """Train the sentiment model from the labelled corpus and the real public data (fixed seeds; metrics written
    beside the weights)."""
    from sentiment.model import DEFAULT_MODEL_DIR
    from sentiment.train import TrainConfig
    from sentiment.train import train as run_training

    settings = _settings()
    if with_feedback or feedback_file:
        from sentiment.feedback import FeedbackError, train_with_feedback

        try:
            run = train_with_feedback(database_url=settings.effective_database_url, models_root=settings.data_dir
                                      / "models", out=out, feedback_file=feedback_file, epochs=epochs)
        except FeedbackError as exc:
            _fail(str(exc))
        typer.echo(run.render())
        return
    from sentiment.corpus import CorpusError
    from sentiment.public_data import resolve_data_dir

    public_dir = None
    if not no_public_data:
        try:
            public_dir = resolve_data_dir(data_dir, required=data_dir is not None)
        except FileNotFoundError as exc:
            _fail(str(exc))
        if public_dir is None:
            typer.echo("警告 warning: no public data directory (YUQING_SENTIMENT_DATA_DIR unset and no "
                       "../shared/data/sentiment); training on the project's corpus only", err=True)
    if (oversample or transformer_only) and ngram_only:
        _fail("--oversample and --transformer-only train the transformer; they do not go with --ngram-only")
    if bank_ngram and not (ngram_only and keep_corpus_ngram):
        _fail("--bank-ngram goes with --ngram-only --keep-corpus-ngram (it is blended beside the corpus-only model)")
    if blend_only and not ngram_only:
        _fail("--blend-only goes with --ngram-only (it keeps every trained part and refits the blend)")
    from sentiment.train import OversampleError, parse_oversample

    try:
        weights = parse_oversample(oversample or [])
    except OversampleError as exc:
        _fail(str(exc))
    cfg = TrainConfig(use_public=public_dir is not None, data_dir=str(public_dir) if public_dir else None,
                      public_limit_per_source=public_limit_per_source, blend_corpus_weight=blend_corpus_weight,
                      oversample=weights, transformer_only=transformer_only, blend_context=blend_context,
                      bank_ngram=bank_ngram, ngram_seeds=ngram_seeds)
    if epochs is not None:
        cfg.epochs = epochs
    if lr is not None:
        cfg.lr = lr
    try:
        if ngram_only:
            from sentiment.train import retrain_ngram_and_blend

            metrics = retrain_ngram_and_blend(out or DEFAULT_MODEL_DIR, cfg,
                                              transformer_from=transformer_from or DEFAULT_MODEL_DIR,
                                              keep_corpus_ngram=keep_corpus_ngram, keep_ngram=blend_only)
        else:
            metrics = run_training(out or DEFAULT_MODEL_DIR, cfg, init_from=init_from)
    except (CorpusError, OversampleError) as exc:
        _fail(str(exc))
    keys = ("best_epoch", "dev", "test", "blend", "parameters", "train_seconds", "ngram_train_seconds",
            "public_split_sizes")
    typer.echo(json.dumps({k: metrics[k] for k in keys if k in metrics}, ensure_ascii=False))


user_app = typer.Typer(help="Dashboard users: create them from the org chart, set passwords, issue API tokens.",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("seed")
def user_seed(password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                                    help="initial password for new users")]) -> None:
    """Create a login for every person in the org chart (login = person id) with an initial password each user
    must change at first sign-in; existing users are kept, people who left the chart are deactivated."""
    from api.users import MIN_PASSWORD_LENGTH, seed_users
    from yuqing.clock import SystemClock
    from yuqing.org import load_org

    if len(password) < MIN_PASSWORD_LENGTH:
        _fail(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    settings, factory = _user_session()
    with factory() as session:
        users = seed_users(session, load_org(settings.org_path), password=password, clock=SystemClock())
        session.commit()
        for u in users:
            typer.echo(f"{u.login}\t{u.name}\t{','.join(u.roles)}\t{u.unit_id}")


@user_app.command("password")
def user_password(login: Annotated[str, typer.Argument(help="user login")],
                  password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
                  temporary: Annotated[bool, typer.Option(
                      "--temporary/--final", help="the user must replace it at the next sign-in (default), or "
                      "it is final (e.g. for an account only scripts use)")] = True,
                  ) -> None:
    """Set a user's password; every open session of that user is signed out."""
    from api.users import set_password
    from yuqing.clock import SystemClock

    _, factory = _user_session()
    with factory() as session:
        try:
            set_password(session, login=login, password=password, clock=SystemClock(), temporary=temporary,
                         actor="cli")
        except (LookupError, ValueError) as exc:
            _fail(str(exc))
        session.commit()
    typer.echo(f"password changed for {login}" + (" (to be changed at next sign-in)" if temporary else ""))


@user_app.command("token")
def user_token(login: Annotated[str, typer.Argument(help="user login")],
               name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
               days: Annotated[int, typer.Option(min=1, max=365, help="days until the token expires")] = 90) -> None:
    """Issue an API token (Authorization: Bearer …) for a user; it is shown once and stored only as a hash."""
    from api.users import get_user_by_login, issue_api_token
    from yuqing.clock import SystemClock

    settings, factory = _user_session()
    with factory() as session:
        user = get_user_by_login(session, login=login)
        if user is None:
            from runner.demo import demo_database_hint

            where = session.get_bind().url.render_as_string(hide_password=True)
            _fail(f"no active user with login {login!r} in {where}"
                  + demo_database_hint(settings, f"yuqing user token {login}"))
        token, row = issue_api_token(session, user=user, name=name, clock=SystemClock(), days=days, actor="cli")
        session.commit()
        typer.echo(f"token #{row.id} for {login}, expires {row.expires_at.isoformat()}", err=True)
    typer.echo(token)


@user_app.command("tokens")
def user_tokens(login: Annotated[str | None, typer.Argument(help="only this user's tokens")] = None) -> None:
    """List API tokens: id, owner, name, created, expires, last used, status (the tokens themselves are not kept)."""
    from api.users import get_user_by_login, list_api_tokens, token_expiry, token_status
    from yuqing.clock import SystemClock

    _, factory = _user_session()
    now = SystemClock().now()
    with factory() as session:
        user_id = None
        if login is not None:
            user = get_user_by_login(session, login=login)
            if user is None:
                _fail(f"no active user with login {login!r}")
            user_id = user.id
        for row, owner in list_api_tokens(session, user_id=user_id):
            used = row.last_used_at.isoformat() if row.last_used_at else "-"
            typer.echo(f"{row.id}\t{owner}\t{row.name}\t{row.created_at.isoformat()}\t"
                       f"{token_expiry(row).isoformat()}\t{used}\t{token_status(row, now)}")


@user_app.command("revoke-token")
def user_revoke_token(token_id: Annotated[int, typer.Argument(min=1, help="token id (see `yuqing user tokens`)")]
                      ) -> None:
    """Revoke an API token at once."""
    from api.users import revoke_api_token
    from yuqing.clock import SystemClock

    _, factory = _user_session()
    with factory() as session:
        try:
            revoke_api_token(session, token_id=token_id, actor="cli", clock=SystemClock())
        except LookupError as exc:
            _fail(str(exc))
        session.commit()
    typer.echo(f"token #{token_id} revoked")


@user_app.command("unlock")
def user_unlock(login: Annotated[str, typer.Argument(help="user login")]) -> None:
    """Lift a login's lock-out after too many failed sign-ins (audited)."""
    from api import audit, throttle
    from yuqing.clock import SystemClock

    _, factory = _user_session()
    with factory() as session:
        lifted = throttle.unlock(session, login=login)
        audit.record(session, clock=SystemClock(), actor="cli", action="login.unlocked", object_type="login",
                     object_id=login, detail="管理员解除登录锁定")
        session.commit()
    typer.echo(f"{login}: " + ("lock-out lifted" if lifted else "was not locked"))


@user_app.command("sync")
def user_sync() -> None:
    """Make users follow the org chart: update names, roles and units; deactivate people who left."""
    from api.users import sync_with_org
    from yuqing.clock import SystemClock
    from yuqing.org import load_org

    settings, factory = _user_session()
    with factory() as session:
        report = sync_with_org(session, load_org(settings.org_path), clock=SystemClock())
        session.commit()
    typer.echo(f"updated: {', '.join(report.updated) or '-'}; deactivated: {', '.join(report.deactivated) or '-'}")


@user_app.command("activate")
def user_activate(login: Annotated[str, typer.Argument(help="user login")]) -> None:
    """Let a deactivated user sign in again (their person must be in the org chart; they must set a new
    password)."""
    from api.users import activate
    from yuqing.clock import SystemClock
    from yuqing.org import load_org

    settings, factory = _user_session()
    with factory() as session:
        try:
            activate(session, login=login, org=load_org(settings.org_path), actor="cli", clock=SystemClock())
        except (LookupError, ValueError) as exc:
            _fail(str(exc))
        session.commit()
    typer.echo(f"{login} activated")


audit_app = typer.Typer(help="The audit log: check that no entry was changed, removed or inserted.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[str | None, typer.Option(
        help="ID:HASH printed by an earlier verify and kept elsewhere: that row must still carry that hash")] = None,
    start_hash: Annotated[str | None, typer.Option(
        help="the hash the first row must link to (default: the archive record, see docs/security.md; else zeros)")]
    = None,
) -> None:
    """Recompute the audit log's hash chain. Exit 0 and print the rows checked and the newest hash when intact;
    exit 1 naming the first bad row (content changed, row removed, row inserted) when not. Read-only."""
    from sqlalchemy.exc import SQLAlchemyError

    from yuqing.audit_chain import parse_anchor, parse_hash, verify
    from yuqing.db import make_engine

    settings = _settings()
    try:
        anchored = parse_anchor(anchor) if anchor else None
        start = parse_hash(start_hash) if start_hash else None
    except ValueError as exc:
        _fail(str(exc))
    engine = make_engine(settings.effective_database_url)
    try:
        with engine.connect() as conn:
            report = verify(conn, start_hash=start, anchor=anchored)
    except SQLAlchemyError as exc:
        _fail(f"cannot read audit_log ({type(exc).__name__}); is the database migrated (`yuqing migrate`)?")
    finally:
        engine.dispose()
    if report.problem is not None:
        typer.echo(f"审计日志校验失败 FAILED: {report.problem.message} ({report.rows} rows before it verified)",
                   err=True)
        raise typer.Exit(1)
    if report.last_id is None:
        typer.echo("ok: 0 rows checked; the audit log is empty")
        return
    archived = f" (rows up to {report.archived_through} archived)" if report.archived_through else ""
    typer.echo(f"ok: {report.rows} rows checked{archived}; newest row {report.last_id} hash {report.last_hash}")
    typer.echo(f"anchor: {report.last_id}:{report.last_hash}  (keep it elsewhere; later: "
               f"yuqing audit verify --anchor {report.last_id}:{report.last_hash})")


ingest_app = typer.Typer(help="Articles the ingest stage set aside because their own content made matching fail.",
                         no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("failed")
def ingest_failed() -> None:
    """List set-aside articles: id, source, URL, when and why matching failed."""
    from sqlalchemy import select

    from crawlers.ingest import INGEST_ERROR_KEY
    from crawlers.models import Article, ArticleStage

    _, factory = _user_session()
    with factory() as session:
        rows = session.scalars(select(Article).where(Article.stage == ArticleStage.ingest_failed)
                               .order_by(Article.id)).all()
        for a in rows:
            error = (a.meta or {}).get(INGEST_ERROR_KEY) or {}
            typer.echo(f"{a.id}\t{a.source_id}\t{a.url}\t{error.get('at', '-')}\t{error.get('error', '-')}")
    typer.echo(f"{len(rows)} set aside", err=True)


@ingest_app.command("requeue")
def ingest_requeue(ids: Annotated[list[int] | None, typer.Argument(help="article ids (default: all set aside)")]
                   = None) -> None:
    """Put set-aside articles back in the queue (e.g. after an upgrade fixed what made them fail)."""
    from crawlers.ingest import requeue_failed

    _, factory = _user_session()
    with factory() as session:
        count = requeue_failed(session, list(ids) if ids else None)
    typer.echo(f"{count} requeued")


incident_app = typer.Typer(help="Incidents: list, show and run a case to its end (acts as a named user, checked like "
                                "the API: role and unit scope).", no_args_is_help=True)
app.add_typer(incident_app, name="incident")
app.add_typer(report_app, name="report")
AsUser = Annotated[str, typer.Option("--as", help="the login to act as (its roles and units are checked)")]
IncidentId = Annotated[int, typer.Argument(min=1, help="incident id")]


class _IncidentCli:
    """What every ``yuqing incident`` command needs: a session, the org chart, the policy, a clock and the caller
    as a ``Principal`` — the same object the API builds from a token, so the CLI is refused exactly where the
    API would be."""

    def __init__(self, ctx: typer.Context, login: str):
        from api.deps import principal_for
        from api.users import get_user_by_login
        from incidents.policy import load_policy
        from yuqing.clock import SystemClock
        from yuqing.org import load_org

        self.settings, factory = _user_session()
        self.session = factory()
        self.org = load_org(self.settings.org_path)
        self.policy = load_policy(self.settings.levels_path, self.settings.checklists_path)
        injected = (ctx.obj or {}).get("clock") if isinstance(ctx.obj, dict) else None
        self.clock = injected or SystemClock()
        user = get_user_by_login(self.session, login=login)
        if user is None:
            self.session.close()
            _fail(f"no active user {login!r} (see `yuqing user seed`)")
        self.me = principal_for(user, self.org, csrf=None, via="cli")

    def run(self, fn, **kwargs):
        """Call an ``api.actions`` function; a refusal prints its Chinese message and exits 1."""
        from fastapi import HTTPException

        try:
            return fn(self.session, self.me, clock=self.clock, **kwargs)
        except HTTPException as exc:
            self.session.rollback()
            _fail(str(exc.detail), code=1)

    def read(self, incident_id: int):
        from fastapi import HTTPException

        from api import queries, views
        from api.deps import ensure_unit

        self.session.expire_all()
        incident = queries.get_incident(self.session, incident_id=incident_id)
        if incident is None:
            _fail(f"事件不存在（编号 {incident_id}）", code=1)
        try:
            ensure_unit(self.me, incident.unit_id)
        except HTTPException as exc:
            _fail(str(exc.detail), code=1)
        return views.incident_read(self.session, self.org, incident, policy=self.policy, clock=self.clock)

    def done(self, incident_id: int, what: str) -> None:
        read = self.read(incident_id)
        typer.echo(f"{read.number}\t{read.status_name}\t{read.level}级\t{what}")
        self.session.close()


def _text_of(path: str) -> str:
    """A report's or review's text from a file (``-`` reads standard input)."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}")
    return ""


@incident_app.command("list")
def incident_list(ctx: typer.Context, as_: AsUser,
                  status: Annotated[str | None, typer.Option(help="active | ended | one status")] = None) -> None:
    """Incidents the user may see, most severe first: id, number, level, status, unit, title."""
    from api import queries, views

    cli = _IncidentCli(ctx, as_)
    rows = queries.list_incidents(cli.session, unit_ids=cli.me.unit_ids, status=status, limit=500)
    for r in views.incident_list_reads(cli.session, cli.org, rows, policy=cli.policy, clock=cli.clock):
        overdue = sum(1 for c in r.clocks if c.overdue)
        typer.echo(f"{r.id}\t{r.number}\t{r.level}\t{r.status}\t{r.unit.name}\t{r.title}"
                   + (f"\t超时{overdue}项" if overdue else ""))
    cli.session.close()


@incident_app.command("show")
def incident_show(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                  as_json: Annotated[bool, typer.Option("--json", help="the API's JSON (IncidentRead)")] = False
                  ) -> None:
    """One incident: status, clocks, tasks, reports; ``--json`` prints what GET /api/v1/incidents/ID returns."""
    cli = _IncidentCli(ctx, as_)
    read = cli.read(incident_id)
    if as_json:
        typer.echo(read.model_dump_json())
    else:
        typer.echo(f"{read.number} {read.level}级 {read.status_name} {read.unit.name}：{read.title}")
        for c in read.clocks:
            typer.echo(f"  时限 {c.label}: {c.status} 截止 {c.due_at.isoformat() if c.due_at else '-'}")
        for t in read.tasks:
            typer.echo(f"  任务 [{t.status_name}] {t.title}（{t.owner_name or t.owner_role_name}）")
        for rep in read.reports:
            typer.echo(f"  报告 {rep.kind_name} v{rep.version} {rep.author_name} {rep.filed_at.isoformat()}")
        for reg in read.regulator_reports:
            typer.echo(f"  {reg.kind_name} {reg.recipient_name}（{reg.method}）{reg.reported_by_name} "
                       f"{reg.reported_at.isoformat()}")
        for item in (i for r in read.reviews for i in r.action_items):
            state = "已完成" if item.done_at else ("已超期" if item.overdue else "未完成")
            typer.echo(f"  整改 #{item.id} [{state}] {item.title}（{item.owner_name}"
                       + (f"，{item.due_at.date().isoformat()} 前）" if item.due_at else "）"))
        if read.resurgence:
            typer.echo(f"  舆情反弹 {read.resurgence.text}")
    cli.session.close()


@incident_app.command("ack")
def incident_ack(ctx: typer.Context, incident_id: IncidentId, as_: AsUser) -> None:
    """确认事件 (monitor, commander, leader or admin)."""
    from api import actions

    cli = _IncidentCli(ctx, as_)
    cli.run(actions.acknowledge_incident, incident_id=incident_id)
    cli.done(incident_id, "已确认")


@incident_app.command("respond")
def incident_respond(ctx: typer.Context, incident_id: IncidentId, as_: AsUser) -> None:
    """开始处置 (commander or leader)."""
    from api import actions

    cli = _IncidentCli(ctx, as_)
    cli.run(actions.start_response, incident_id=incident_id)
    cli.done(incident_id, "已开始处置")


@incident_app.command("monitor")
def incident_monitor(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                     note: Annotated[str, typer.Option(help="why the response is done")] = "") -> None:
    """转入持续监测 (commander or leader)."""
    from api import actions

    cli = _IncidentCli(ctx, as_)
    cli.run(actions.start_monitoring, incident_id=incident_id, note=note)
    cli.done(incident_id, "已转入持续监测")


@incident_app.command("level")
def incident_level(ctx: typer.Context, incident_id: IncidentId,
                   level: Annotated[str, typer.Argument(help="I | II | III | IV")], as_: AsUser,
                   reason: Annotated[str, typer.Option(help="why (goes on the timeline)")] = "") -> None:
    """调整等级 (commander or leader); re-plans the checklist and the clocks."""
    from api import actions

    if level not in ("I", "II", "III", "IV"):
        _fail("level must be one of I, II, III, IV")
    cli = _IncidentCli(ctx, as_)
    cli.run(actions.change_level, incident_id=incident_id, level=level, reason=reason, org=cli.org,
            policy=cli.policy)
    cli.done(incident_id, f"等级已调整为{level}级")


@incident_app.command("report")
def incident_report(ctx: typer.Context, incident_id: IncidentId,
                    kind: Annotated[str, typer.Argument(help="initial (初报) | follow_up (续报) | final (终报)")],
                    as_: AsUser,
                    file: Annotated[str, typer.Option("--file", help="the report's text (UTF-8; - for stdin)")]
                    ) -> None:
    """报送初报、续报或终报 (commander or leader); stops the matching clock."""
    from api import actions

    if kind not in ("initial", "follow_up", "final"):
        _fail("kind must be one of initial, follow_up, final")
    text = _text_of(file)
    cli = _IncidentCli(ctx, as_)
    report = cli.run(actions.file_report, incident_id=incident_id, kind=kind, text=text)
    cli.done(incident_id, f"已报送 {report.kind} v{report.version}")


@incident_app.command("leader-ack")
def incident_leader_ack(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                        note: Annotated[str, typer.Option(help="the leader's instructions")] = "") -> None:
    """领导确认知悉 (a leader, in person); stops the leadership clock."""
    from api import actions

    cli = _IncidentCli(ctx, as_)
    cli.run(actions.leader_acknowledge, incident_id=incident_id, note=note)
    cli.done(incident_id, "领导已确认知悉")


@incident_app.command("close")
def incident_close(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                   summary: Annotated[str, typer.Option(help="处置小结")] = "") -> None:
    """结案 (commander or leader): running clocks stop; 终报 (24 h) and 复盘 (5 working days) start."""
    from api import actions

    cli = _IncidentCli(ctx, as_)
    cli.run(actions.close_incident, incident_id=incident_id, summary=summary)
    cli.done(incident_id, "已结案")


@incident_app.command("reopen")
def incident_reopen(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                    reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """重新打开 a monitoring, closed or reviewed incident (commander or leader)."""
    from api import actions

    cli = _IncidentCli(ctx, as_)
    cli.run(actions.reopen_incident, incident_id=incident_id, reason=reason)
    cli.done(incident_id, "已重新打开")


@incident_app.command("review")
def incident_review(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                    file: Annotated[str, typer.Option("--file", help="the review's text (UTF-8; - for stdin)")],
                    went_well: Annotated[str, typer.Option(help="what went well")] = "",
                    went_badly: Annotated[str, typer.Option(help="what did not")] = "",
                    action: Annotated[list[str] | None, typer.Option(
                        help="an action item as OWNER_LOGIN:TEXT (repeatable)")] = None) -> None:
    """提交复盘 of a closed incident (commander or leader): the measured durations are computed and stored."""
    from api import actions
    from incidents.flows import ActionItemIn

    items = []
    for raw in action or []:
        owner, sep, title = raw.partition(":")
        if not sep or not owner.strip() or not title.strip():
            _fail(f"--action must be OWNER_LOGIN:TEXT, got {raw!r}")
        items.append(ActionItemIn(title.strip(), owner.strip()))
    text = _text_of(file)
    cli = _IncidentCli(ctx, as_)
    cli.run(actions.review_incident, incident_id=incident_id, text=text, went_well=went_well,
            went_badly=went_badly, action_items=items, org=cli.org)
    cli.done(incident_id, "复盘已提交")


statement_app = typer.Typer(help="Statements (口径) of an incident: draft from a template, edit (a new version each "
                                 "time), submit, legal review, a chain leader's sign-off, publish.",
                            no_args_is_help=True)
incident_app.add_typer(statement_app, name="statement")
StatementId = Annotated[int, typer.Argument(min=1, help="statement id")]


def _statement_done(cli: _IncidentCli, statement_id: int, what: str) -> None:
    from api.statements import statement_read
    from incidents.statements import get_statement

    cli.session.expire_all()
    read = statement_read(cli.org, get_statement(cli.session, statement_id))
    typer.echo(f"{read.id}\t{read.kind_name}\t{read.status_name}\t第{read.current_version}版\t{what}")
    cli.session.close()


@statement_app.command("list")
def statement_list(ctx: typer.Context, incident_id: IncidentId, as_: AsUser) -> None:
    """The incident's statements: id, kind, status, current version, where published."""
    from api import statements

    cli = _IncidentCli(ctx, as_)
    for s in cli.run(lambda session, me, clock, **kw: statements.list_statements(session, me, **kw),
                     incident_id=incident_id):
        read = statements.statement_read(cli.org, s)
        typer.echo(f"{read.id}\t{read.kind}\t{read.status}\tv{read.current_version}"
                   + (f"\t{read.published_where}\t{read.published_at.isoformat()}" if read.published_at else ""))
    cli.session.close()


@statement_app.command("show")
def statement_show(ctx: typer.Context, statement_id: StatementId, as_: AsUser,
                   as_json: Annotated[bool, typer.Option("--json", help="the API's JSON (StatementRead)")] = False,
                   diff: Annotated[str | None, typer.Option(help="A:B — a unified diff of versions A and B")] = None
                   ) -> None:
    """One statement: its current text (or the API's JSON, or a diff of two versions)."""
    from api import statements
    from incidents.statements import unified_diff

    cli = _IncidentCli(ctx, as_)
    statement, _ = cli.run(lambda session, me, clock, **kw: statements.visible_statement(session, me, **kw),
                           statement_id=statement_id)
    read = statements.statement_read(cli.org, statement)
    if diff:
        a, sep, b = diff.partition(":")
        numbers = {v.number for v in statement.versions}
        if not sep or not a.isdigit() or not b.isdigit() or int(a) not in numbers or int(b) not in numbers:
            _fail(f"--diff must be A:B with versions of {sorted(numbers)}, got {diff!r}", code=1)
        typer.echo(unified_diff(statement, int(a), int(b)))
    elif as_json:
        typer.echo(read.model_dump_json())
    else:
        typer.echo(f"{read.id} {read.kind_name} {read.status_name} 第{read.current_version}版")
        typer.echo(read.text)
    cli.session.close()


@statement_app.command("draft")
def statement_draft(ctx: typer.Context, incident_id: IncidentId, as_: AsUser,
                    kind: Annotated[str, typer.Option(
                        help="holding (初步回应) | clarification (澄清说明) | apology (致歉声明)")],
                    file: Annotated[str | None, typer.Option("--file", help="the text (UTF-8; - for stdin); default: "
                                                             "the template for the incident's category")] = None
                    ) -> None:
    """起草口径 (commander): prints the statement's id and its first version."""
    from api import statements
    from incidents.statements import TEMPLATES_FILE, load_templates

    if kind not in ("holding", "clarification", "apology"):
        _fail("kind must be one of holding, clarification, apology")
    text = _text_of(file) if file else ""
    cli = _IncidentCli(ctx, as_)
    path = cli.settings.config_dir / TEMPLATES_FILE
    made = cli.run(statements.draft, incident_id=incident_id, kind=kind, text=text, org=cli.org,
                   templates=lambda: load_templates(path), tz=cli.settings.timezone)
    typer.echo(statements.statement_read(cli.org, made).text)
    _statement_done(cli, made.id, "已起草")


@statement_app.command("edit")
def statement_edit(ctx: typer.Context, statement_id: StatementId, as_: AsUser,
                   file: Annotated[str, typer.Option("--file", help="the new text (UTF-8; - for stdin)")],
                   note: Annotated[str, typer.Option(help="what changed")] = "") -> None:
    """修改口径 (commander): a new version; after submission the approvals are dropped."""
    from api import statements

    text = _text_of(file)
    cli = _IncidentCli(ctx, as_)
    cli.run(statements.edit, statement_id=statement_id, text=text, note=note)
    _statement_done(cli, statement_id, "已保存新版本")


@statement_app.command("submit")
def statement_submit(ctx: typer.Context, statement_id: StatementId, as_: AsUser) -> None:
    """提交审核 (commander); refused while 【待核实】 is left in the text."""
    from api import statements

    cli = _IncidentCli(ctx, as_)
    cli.run(statements.submit, statement_id=statement_id)
    _statement_done(cli, statement_id, "已提交审核")


@statement_app.command("legal-approve")
def statement_legal_approve(ctx: typer.Context, statement_id: StatementId, as_: AsUser,
                            note: Annotated[str, typer.Option(help="legal's opinion")] = "") -> None:
    """法律合规审核通过 (legal)."""
    from api import statements

    cli = _IncidentCli(ctx, as_)
    cli.run(statements.legal_approve, statement_id=statement_id, note=note)
    _statement_done(cli, statement_id, "法律合规审核通过")


@statement_app.command("approve")
def statement_approve(ctx: typer.Context, statement_id: StatementId, as_: AsUser,
                      note: Annotated[str, typer.Option(help="the leader's opinion")] = "") -> None:
    """领导审签 (a leader of the incident's unit or a unit above it)."""
    from api import statements

    cli = _IncidentCli(ctx, as_)
    cli.run(statements.approve, statement_id=statement_id, note=note, org=cli.org)
    _statement_done(cli, statement_id, "已审签")


@statement_app.command("request-changes")
def statement_request_changes(ctx: typer.Context, statement_id: StatementId, as_: AsUser,
                              reason: Annotated[str, typer.Option(help="what must change")] = "") -> None:
    """退回修改 (legal while it waits for legal; a chain leader after that), with a reason."""
    from api import statements

    cli = _IncidentCli(ctx, as_)
    cli.run(statements.request_changes, statement_id=statement_id, reason=reason, org=cli.org)
    _statement_done(cli, statement_id, "已退回修改")


@statement_app.command("publish")
def statement_publish(ctx: typer.Context, statement_id: StatementId, as_: AsUser,
                      where: Annotated[str, typer.Option(help="channel / outlet, e.g. 江城分行官方微博")],
                      url: Annotated[str, typer.Option(help="link to the published text")] = "",
                      at: Annotated[str | None, typer.Option(help="when it went out, ISO 8601 (default: now; "
                                                             "without an offset: YUQING_TIMEZONE)")] = None) -> None:
    """登记发布 (commander); refused unless a leader signed off the current version."""
    from datetime import datetime

    from api import statements

    cli = _IncidentCli(ctx, as_)
    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            _fail(f"--at must be an ISO 8601 time, got {at!r}")
        when = when if when.tzinfo else when.replace(tzinfo=cli.settings.tz)
    cli.run(statements.publish, statement_id=statement_id, where=where, url=url, published_at=when)
    _statement_done(cli, statement_id, "已登记发布")


# incident action-done, incident resurgence-dismiss; incident regulator (报告监管部门 / 报告人民银行)
# yuqing complaint media-report (记者正在询问/拍摄)
from runner import cli_after_close, cli_incident_merge, cli_media_report, cli_regulators  # noqa: E402, F401
from runner.cli_complaints import complaint_app  # noqa: E402  (yuqing complaint …)

app.add_typer(complaint_app, name="complaint")

from runner.cli_evidence import evidence_app  # noqa: E402  (yuqing evidence export / verify)

app.add_typer(evidence_app, name="evidence")

from runner.cli_config import config_app  # noqa: E402  (yuqing config list / show / export / import)

app.add_typer(config_app, name="config")

from runner.cli_backtest import backtest  # noqa: E402  (yuqing backtest --input FILE.jsonl)

app.command("backtest")(backtest)


def main() -> None:  # pragma: no cover - console entry
    # `kill -USR1 <pid>` prints every thread's stack to stderr: how an operator sees where a stuck process is.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"错误 error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
