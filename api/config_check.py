"""Every problem of the configuration, not just the first: what ``yuqing check-config`` lists and what the admin
console (``api.config_admin``) shows before it saves a document.

Start-up (``runner.runtime.load_config``) stops at the first invalid file, which is right for a service but makes an
admin fix a configuration one error per run. Here every file is loaded on its own, each failure is collected, and
the checks that need several files (the reporting chain against the org chart, the regulators against the org
chart, the playbooks together) run only when the files they read are valid — so one mistake is reported once,
not again by every check that reads it. Level entries are named by their level (``levels[Ⅱ级]``), not by their
place in the list (``levels.1``), because that is how the admin thinks of them.

Library code in ``api`` (it reads every layer's loaders) so the console can use it; the CLI only renders it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from yuqing.errors import ConfigError
from yuqing.settings import Settings
from yuqing.yamlfile import load_yaml

T = TypeVar("T")
LEVEL_NAMES = {"I": "Ⅰ级", "II": "Ⅱ级", "III": "Ⅲ级", "IV": "Ⅳ级"}
_LEVEL_INDEX = re.compile(r"\blevels(?:\.(\d+)|\[(\d+)\])")


def config_problems(settings: Settings) -> list[tuple[str, str, str]]:
    """Every problem of the configuration as ``(file, field, reason)``, in file order; empty when all is valid."""
    from crawlers.keywords import load_keyword_plans
    from crawlers.sources import PUBLIC_CATALOGUE_FILE, add_public_catalogue, load_sources, require_private_opt_in
    from crawlers.story_config import STORIES_FILE, load_story_config
    from incidents.briefings.delivery import REPORTS_FILE, load_reports_config
    from incidents.complaints.config import COMPLAINTS_FILE, load_complaints_config
    from incidents.evidence_config import EVIDENCE_FILE, load_evidence_config
    from incidents.policy import ChannelsFile, LevelsFile, Playbook, load_policy
    from incidents.regulators import REGULATORS_FILE, check_regulators_against_org, load_regulators
    from incidents.routing import check_chain_against_org
    from incidents.statements import TEMPLATES_FILE, load_templates
    from incidents.workdays import HOLIDAYS_FILE, calendar_for
    from sentiment.risk import load_risk_config
    from yuqing.org import load_org
    from yuqing.yamlfile import load_model

    errors: list[ConfigError] = []

    def attempt(load: Callable[[], T]) -> T | None:
        try:
            return load()
        except ConfigError as exc:
            errors.append(exc)
            return None

    cdir = settings.config_dir
    org = attempt(lambda: load_org(settings.org_path))
    sources = attempt(lambda: load_sources(settings.sources_path))
    if sources is not None:
        attempt(lambda: require_private_opt_in(sources, settings.allow_private_sources, settings.sources_path))
    # the public catalogue is checked whole even when the bank's own file is broken (then without the id clashes)
    attempt(lambda: add_public_catalogue(sources or [], cdir / PUBLIC_CATALOGUE_FILE,
                                         allowed_private=settings.allow_private_sources))
    attempt(lambda: calendar_for(cdir / HOLIDAYS_FILE))
    before_policy = len(errors)
    attempt(lambda: load_model(settings.levels_path, LevelsFile))
    checklists = settings.checklists_path
    for path in sorted(checklists.glob("*.yaml")) if checklists.is_dir() else []:
        attempt(lambda path=path: load_model(path, Playbook))
    channels = settings.levels_path.parent / "channels.yaml"
    if channels.exists():
        attempt(lambda: load_model(channels, ChannelsFile))
    regulators = settings.levels_path.parent / REGULATORS_FILE
    if regulators.exists():
        attempt(lambda: load_regulators(regulators))
    attempt(lambda: load_complaints_config(settings.levels_path.parent / COMPLAINTS_FILE))
    policy = None
    if len(errors) == before_policy:  # each file is valid: now what only the whole policy can say
        policy = attempt(lambda: load_policy(settings.levels_path, settings.checklists_path))
    if policy is not None and org is not None:
        attempt(lambda: check_chain_against_org(policy, org, settings.levels_path))
        attempt(lambda: check_regulators_against_org(policy, org, regulators))
    plans = cdir / "keywords.yaml"
    if plans.exists():
        attempt(lambda: load_keyword_plans(plans))
    attempt(lambda: load_risk_config(cdir / "risk.yaml"))
    attempt(lambda: load_templates(cdir / TEMPLATES_FILE))
    attempt(lambda: load_reports_config(cdir / REPORTS_FILE))
    attempt(lambda: load_evidence_config(cdir / EVIDENCE_FILE))
    attempt(lambda: load_story_config(cdir / STORIES_FILE))
    return [(exc.path, *_level_named(exc.path, field, reason, settings.levels_path))
            for exc in errors for field, reason in exc.problems]


def _level_named(path: str, field: str, reason: str, levels_path: Path) -> tuple[str, str]:
    """``levels.1.ack_minutes`` → ``levels[Ⅱ级].ack_minutes`` (in the field and the reason) for the levels file,
    reading each entry's ``code`` from the file itself (the list's order is the admin's)."""
    if Path(path) != Path(levels_path):
        return field, reason
    try:
        data = load_yaml(levels_path)
    except ConfigError:
        return field, reason
    entries = data.get("levels") if isinstance(data, dict) else None
    codes = [e.get("code") if isinstance(e, dict) else None for e in entries] if isinstance(entries, list) else []

    def name(match: re.Match[str]) -> str:
        index = int(match.group(1) or match.group(2))
        code = codes[index] if index < len(codes) else None
        label = LEVEL_NAMES.get(str(code)) if code is not None else None
        return f"levels[{label}]" if label else f"levels[第{index + 1}项]"

    return _LEVEL_INDEX.sub(name, field), _LEVEL_INDEX.sub(name, reason)
