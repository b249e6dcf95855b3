"""What the admin console's configuration forms share: the admin check, the effective documents, pydantic errors
in Chinese beside their fields, the matcher built from the current org chart and keyword plans, and saving an
edited document through ``api.config_admin.validate_and_save`` together with an audit entry naming the entry.
"""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import HTTPException, status
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api import audit
from api.deps import Principal
from crawlers.keywords import KeywordPlan, KeywordPlans
from crawlers.matching import Matcher
from yuqing import config_store
from yuqing.clock import Clock
from yuqing.org import OrgChart, Role
from yuqing.settings import Settings

NOT_ADMIN = "无权访问：仅系统管理员可修改配置"
KEYWORDS_DOC = "keywords.yaml"


def ensure_admin(me: Principal) -> None:
    if not me.has_role(Role.admin):
        raise HTTPException(status.HTTP_403_FORBIDDEN, NOT_ADMIN)


def document_text(session: Session, settings: Settings, name: str) -> str:
    """The effective text of a configuration document: the database copy once saved, else the file."""
    return config_store.effective_text(session, settings, name)


def current_plans(session: Session, settings: Settings) -> list[KeywordPlan]:
    """The keyword plans in force (the effective ``keywords.yaml``); [] when the document is empty or broken
    (saving refuses a broken one, so that means a file edited by hand — ``yuqing check-config`` names it)."""
    try:
        data = yaml.safe_load(document_text(session, settings, KEYWORDS_DOC) or "") or {}
        return KeywordPlans.model_validate(data).plans
    except (yaml.YAMLError, ValidationError):
        return []


def matcher_for(session: Session, settings: Settings, org: OrgChart,
                plans: list[KeywordPlan] | None = None) -> Matcher:
    return Matcher.from_org(org, current_plans(session, settings) if plans is None else plans)


_MESSAGES = {
    "missing": "必填",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "string_pattern_mismatch": "格式不符",
    "literal_error": "请从列表中选择",
    "int_parsing": "请输入整数",
    "int_type": "请输入整数",
    "bool_parsing": "请输入 true 或 false",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "extra_forbidden": "不认识的字段",
    "dict_type": "应为键值对（映射）",
    "list_type": "应为列表",
    "string_type": "应为文字",
}


def error_message(err: Any) -> str:
    """One pydantic error in Chinese where the kind is common, else pydantic's own words (the field is shown
    beside it, so the admin knows where to look)."""
    kind = err.get("type", "")
    template = _MESSAGES.get(kind)
    if template is not None:
        try:
            return template.format(**(err.get("ctx") or {}))
        except (KeyError, IndexError):
            return template
    msg = str(err.get("msg", "无效"))
    return msg.removeprefix("Value error, ")


def field_errors(exc: ValidationError, known: set[str], *, nested: dict[str, str] | None = None) -> dict[str, str]:
    """Errors keyed by form field: the first location part when it is a form field, ``nested`` maps dotted paths
    (``listing.link_selector``) to their form field; everything else goes under ``_`` (shown above the form), with
    its path."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        dotted = ".".join(loc)
        message = error_message(err)
        if nested and dotted in nested:
            key = nested[dotted]
        elif len(loc) == 1 and (loc[0] in known or err.get("type") == "extra_forbidden"):
            key = loc[0]  # an unknown field (API callers) is named as its own field
        else:
            key = "_"
            message = f"{dotted}：{message}" if dotted else message
        out[key] = f"{out[key]}；{message}" if key in out else message
    return out


def save_with_audit(session: Session, document: str, text: str, *, me: Principal, settings: Settings, clock: Clock,
                    action: str, object_type: str, object_id: str, detail: str, note: str) -> list[str]:
    """Validate the whole configuration with ``text`` as ``document`` and save it (committed, with the document's
    own audit entry and one naming the entry changed); the problems when refused (then nothing is written)."""
    from api.config_admin import validate_and_save

    audit.record(session, clock=clock, actor=me.login, action=action, object_type=object_type, object_id=object_id,
                 detail=detail, data={"document": document})
    problems = validate_and_save(session, document, text, principal=me, settings=settings, clock=clock, note=note)
    if problems:
        session.rollback()
    return problems
