"""``yuqing backtest``: replay past items through the real pipeline and print what yuqing would have decided.

Registered by two lines in ``runner.cli``. The engine is ``runner.backtest`` (see ``docs/backtest.md``); this
module reads the options, prints one JSON line per decision and a summary line on stdout (logs go to stderr),
and writes the HTML page or the sweep table. Exit codes: 0 done, 2 bad input / configuration / database.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from runner.cli_base import _fail


def backtest(
        input_file: Annotated[Path | None, typer.Option("--input", help="JSONL file of items to replay")] = None,
        config: Annotated[Path | None, typer.Option("--config", help="directory of config files laid over the "
                                                    "project's config/ (files it lacks come from config/)")] = None,
        db: Annotated[str | None, typer.Option("--db", help="database URL (default: a fresh temporary SQLite "
                                               "file); must be empty")] = None,
        html: Annotated[Path | None, typer.Option("--html", help="write a self-contained HTML page here")] = None,
        sweep: Annotated[Path | None, typer.Option("--sweep", help="YAML of threshold settings to compare")] = None,
        skip_bad: Annotated[bool, typer.Option("--skip-bad", help="skip invalid lines (each reported on stderr) "
                                               "instead of stopping")] = False,
        step: Annotated[float, typer.Option("--step", min=0.1, help="minutes per tick while items arrive")] = 5.0,
        idle_step: Annotated[float, typer.Option("--idle-step", min=0.1, help="minutes per tick in a quiet "
                                                 "stretch")] = 60.0,
        fine_for: Annotated[float, typer.Option("--fine-for", min=0, help="hours after an item that ticks stay "
                                                "--step long")] = 6.0,
        tail: Annotated[float, typer.Option("--tail", min=0, help="hours replayed after the last item")] = 6.0,
        until: Annotated[str | None, typer.Option("--until", help="end the replay at this ISO 8601 time "
                                                  "(+08:00 when no zone) instead of --tail after the last item")]
        = None,
        rules: Annotated[bool, typer.Option("--rules", help="classify with the rule-based baseline instead of "
                                            "the model")] = False,
        export_sim: Annotated[Path | None, typer.Option("--export-sim", help="write the simulated internet's "
                                                        "scripted crisis as a backtest file and exit")] = None,
) -> None:
    """回测：按时间顺序把历史条目送入真实处理流程，输出系统当时会做出的每个决策（JSON 行）与汇总。"""
    from runner.backtest.input import BEIJING, BacktestInputError, read_file
    from runner.backtest.replay import BacktestError, ReplayOptions, run_backtest
    from runner.cli_base import _settings
    from yuqing.errors import ConfigError
    from yuqing.logs import configure_logging

    if export_sim is not None:
        from sim.backtest_export import write_backtest_file

        count = write_backtest_file(export_sim)
        typer.echo(f"已导出模拟舆情场景：{export_sim}（{count} 行）", err=True)
        return
    if input_file is None:
        _fail("需要 --input FILE.jsonl（或 --export-sim OUT.jsonl）")
    settings = _settings()
    configure_logging("WARNING", settings.log_json)  # stdout is the decisions; only problems on stderr
    # "no sources configured, nothing will be crawled" is true of every backtest and says nothing here
    logging.getLogger("yuqing.pipeline").setLevel(logging.ERROR)
    try:
        lines, bad = read_file(input_file, skip_bad=skip_bad)
    except BacktestInputError as exc:
        _fail(f"输入有误，回测未运行：{exc}（可加 --skip-bad 跳过无效行）")
    for b in bad:
        typer.echo(f"跳过无效行 skipped: {b.message}", err=True)
    end = None
    if until:
        try:
            end = datetime.fromisoformat(until)
        except ValueError:
            _fail(f"--until 需要 ISO 8601 时间，收到 {until!r}")
        end = end if end.tzinfo else end.replace(tzinfo=BEIJING)
    options = ReplayOptions(step=timedelta(minutes=step), idle_step=timedelta(minutes=idle_step),
                            fine_for=timedelta(hours=fine_for), tail=timedelta(hours=tail), until=end)
    classifier = None
    if rules:
        from sentiment.rules import RuleBasedClassifier

        classifier = RuleBasedClassifier()
    try:
        if sweep is not None:
            _run_sweep(sweep, lines, config=config, db=db, options=options, classifier=classifier)
            return
        result = run_backtest(lines, config_dir=config, db_url=db, options=options, classifier=classifier)
    except (ConfigError, BacktestError) as exc:
        _fail(str(exc))
    for d in result["decisions"]:
        typer.echo(json.dumps(d, ensure_ascii=False))
    summary = result["summary"]
    if bad:
        summary["skipped_lines"] = [b.number for b in bad]
    typer.echo(json.dumps({"summary": summary}, ensure_ascii=False))
    if html is not None:
        from runner.backtest.html import render

        html.write_text(render(result, lines, tz=settings.timezone, title=input_file.name), encoding="utf-8")
        typer.echo(f"已写入回测报告页面：{html}", err=True)


def _run_sweep(path: Path, lines, *, config, db, options, classifier) -> None:  # type: ignore[no-untyped-def]
    from runner.backtest.replay import run_backtest
    from runner.backtest.sweep import load_sweep, measure, table

    if db is not None:
        _fail("--sweep 为每个设置各用一个新的临时数据库，不能与 --db 同用")
    if classifier is None:  # one model for every setting (loading it is the slow part)
        from sentiment.batch import choose_classifier

        classifier = choose_classifier()
    spec = load_sweep(path)
    rows = []
    for setting in spec.settings:
        result = run_backtest(lines, config_dir=config, options=options, patches=setting.overrides,
                              classifier=classifier)
        row = measure(setting.name, result, lines)
        rows.append(row)
        typer.echo(json.dumps({"sweep": row}, ensure_ascii=False))
    typer.echo(table(rows))
