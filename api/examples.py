"""Example bodies for the OpenAPI description (``/openapi.json``) of the API's main read models.

Kept apart from the models so ``api.schemas`` stays readable; ``tests/api/test_api_openapi.py`` validates every
example against its model, so an example never shows a field the API does not send.
"""

from __future__ import annotations

from typing import Any

AT = "2026-11-23T01:00:00Z"
LATER = "2026-11-23T01:30:00Z"
UNIT = {"id": "xinhualu", "name": "新华路网点"}
FACTOR = {"key": "severity", "label": "类别严重度", "value": 0.9, "reason": "存取款受限/挤兑谣言：高严重度类别"}
CLOCK = {"key": "ack", "label": "确认时限", "due_at": LATER, "done_at": None, "status": "due_soon", "overdue": False,
         "stopped_at": None, "missed": False}
RISK = {"score": 72.0, "level": "II", "level_name": "重大", "category": "withdrawal_bank_run",
        "category_name": "存取款受限/挤兑谣言", "computed_at": AT, "factors": [FACTOR]}

EXAMPLES: dict[str, dict[str, Any]] = {
    "AlertRead": {
        "id": 17, "story_id": 42, "unit": UNIT, "level": "II", "level_name": "重大", "risk_score": 72.0,
        "category": "withdrawal_bank_run", "category_name": "存取款受限/挤兑谣言",
        "title": "示例银行新华路网点排长队取不出钱",
        "status": "open", "status_name": "待确认", "created_at": AT, "updated_at": AT, "ack_due_at": LATER,
        "ack_overdue": False, "acknowledged_at": None, "acknowledged_by": None, "acknowledged_by_name": None,
        "dismissed_reason": None, "dismissed_at": None, "dismissed_by": None, "dismissed_by_name": None,
        "incident_id": None, "factors": [FACTOR]},
    "IncidentListRead": {
        "id": 5, "number": "YQ-20261123-001", "title": "示例银行新华路网点排长队取不出钱", "level": "II",
        "level_name": "重大", "unit": UNIT, "status": "responding", "status_name": "处置中",
        "category": "withdrawal_bank_run", "category_name": "存取款受限/挤兑谣言", "opened_at": AT, "tasks_total": 8,
        "tasks_done": 3, "clocks": [CLOCK], "resurgence": None},
    "MentionListRead": {
        "article_id": 301, "title": "新华路网点储户排长队", "url": "https://news.example.cn/a/301.html",
        "source_id": "jiangcheng-news", "channel": "news", "channel_name": "新闻网站", "published_at": AT,
        "fetched_at": LATER, "unit": UNIT, "snippet": "今天在示例银行新华路网点排了两个小时的队……", "label": "negative",
        "label_name": "负面", "negative_prob": 0.93, "category": "withdrawal_bank_run",
        "category_name": "存取款受限/挤兑谣言", "story_id": 42, "risk_score": 72.0, "risk_level": "II",
        "risk_level_name": "重大"},
    "MentionRead": {
        "id": 900, "article_id": 301, "unit": UNIT, "is_primary": True, "terms": ["新华路网点"],
        "snippet": "今天在示例银行新华路网点排了两个小时的队……", "score": 1.0, "title": "新华路网点储户排长队",
        "url": "https://news.example.cn/a/301.html", "source_id": "jiangcheng-news", "channel": "news",
        "channel_name": "新闻网站", "published_at": AT, "fetched_at": LATER, "story_id": 42},
    "StoryListRead": {
        "id": 42, "title": "示例银行新华路网点排长队取不出钱", "unit": UNIT, "first_seen_at": AT, "last_seen_at": LATER,
        "article_count": 12, "risk": RISK},
    "TaskRead": {
        "id": 31, "incident_id": 5, "position": 1, "key": "verify", "title": "核实情况", "owner_role": "liaison",
        "owner_role_name": "联络人", "owner_id": "huangwei", "owner_name": "黄伟", "due_at": LATER, "overdue": False,
        "status": "todo", "status_name": "待办", "done_at": None, "done_by": None, "done_by_name": None, "note": ""},
    "TimelineEventRead": {"id": 77, "at": AT, "kind": "opened", "actor": "system", "actor_name": "system",
                          "text": "系统自动立案：重大（II级）"},
    "ReportRead": {"id": 3, "kind": "initial", "kind_name": "初报", "version": 1, "level": "II",
                   "text": "【初报】11月23日09时，网传新华路网点储户取不出钱……", "author": "liuqiang",
                   "author_name": "刘强", "filed_at": LATER},
    "SourceRead": {
        "source_id": "weibo", "name": "微博", "health": "failing", "health_name": "抓取失败",
        "reason": "连续 3 次抓取失败：HTTP 503", "last_run_at": LATER, "last_success_at": AT,
        "last_new_item_at": AT, "last_error": "HTTP 503", "last_error_at": LATER, "consecutive_failures": 3,
        "runs": 120, "items_last_run": 0, "items_total": 845, "next_poll_at": "2026-11-23T01:40:00Z"},
    "TokenRead": {"id": 9, "user": "wangmin", "name": "值班脚本", "created_at": AT,
                  "expires_at": "2027-02-21T01:00:00Z", "last_used_at": LATER, "revoked_at": None,
                  "status": "active"},
    "OutboxRead": {
        "id": 1201, "channel": "email", "channel_name": "电子邮件", "purpose": "alert", "recipient_id": "wangmin",
        "recipient_name": "王敏", "subject": "【舆情预警】重大（II级）新华路网点排长队", "body": "预警详情……",
        "status": "failed", "status_name": "发送失败", "attempts": 3, "last_error": "SMTP 550 mailbox unavailable",
        "created_at": AT, "sent_at": None, "read_at": None, "alert_id": 17, "incident_id": None},
    "KeywordPlanRead": {"name": "存取款受限/挤兑谣言", "role": "topic", "category": "withdrawal_bank_run",
                        "category_name": "存取款受限/挤兑谣言", "must": [],
                        "any": ["挤兑", "取不出钱", "排长队"], "exclude": []},
    "UserRead": {"id": 4, "login": "wangmin", "name": "王敏", "roles": ["monitor"], "role_names": ["值班监测"],
                 "unit_id": "jiangcheng", "active": True, "must_change_password": False, "created_at": AT,
                 "password_changed_at": LATER, "deactivated_at": None, "deactivated_reason": None},
    "RegulatorReportRead": {
        "id": 2, "incident_id": 5, "kind": "regulator_report", "kind_name": "报告监管部门",
        "recipient_key": "nfra_local", "recipient_name": "国家金融监督管理总局江城监管分局", "method": "电话",
        "reference": "",
        "text": "11月23日09时，我行新华路网点出现储户集中取款……", "level": "II", "reported_by": "liuqiang",
        "reported_by_name": "刘强", "reported_at": LATER},
    "OrgChartRead": {
        "bank": "示例银行", "root": "head-office",
        "units": [{"id": "xinhualu", "kind": "outlet", "kind_name": "网点", "name": "示例银行江城分行新华路网点",
                   "short_name": "新华路网点", "parent": "guangminglu", "aliases": ["新华路营业厅"],
                   "regions": []}],
        "people": [{"id": "huangwei", "name": "黄伟", "title": "网点负责人", "unit": "xinhualu", "roles": ["liaison"],
                    "role_names": ["联络人"]}]},
    "AuditEntryRead": {
        "id": 1024, "at": LATER, "actor": "liuqiang", "action": "incident.level", "action_name": "调整事件级别",
        "object_type": "incident", "object_id": "5", "detail": "II → I：视频转发量一小时内过万",
        "data": {"from": "II", "to": "I"}, "prev_hash": "3f2a…", "row_hash": "9b1c…"},
}


def example(name: str) -> dict[str, Any]:
    """``json_schema_extra`` for the model ``name``."""
    return {"examples": [EXAMPLES[name]]}
