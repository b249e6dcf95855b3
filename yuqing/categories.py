"""The default risk taxonomy: stable English codes in code and data, Chinese labels for users."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "service_attitude": "服务态度",
    "product_mis_selling": "产品/理财亏损/误导销售",
    "opaque_fees": "收费不透明",
    "system_failure": "系统故障/技术问题",
    "withdrawal_bank_run": "存取款受限/挤兑谣言",
    "violent_collection": "暴力催收",
    "data_leak_fraud": "信息泄露/电信诈骗",
    "staff_misconduct": "员工违规/涉案",
    "regulatory_penalty": "监管处罚",
    "liquidity_risk": "经营/流动性风险",
    "other": "其他",
}

LEVELS: dict[str, str] = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
LEVEL_COLOURS: dict[str, str] = {"I": "red", "II": "orange", "III": "yellow", "IV": "blue"}
LEVEL_ORDER: tuple[str, ...] = ("I", "II", "III", "IV")  # most severe first


def category_label(code: str) -> str:
    """Chinese label of a category code; unknown codes are shown as 其他 rather than leaking an identifier."""
    return CATEGORIES.get(code, CATEGORIES["other"])


def level_label(code: str | None) -> str:
    return LEVELS.get(code or "", "未分级")
