"""Complainants' personal data masked in every briefing (seed 001: never shown beyond need).

Crawled text quotes complainants: their names (as the complaint platform's author, or after 投诉人 / 姓名 / 我叫 …),
mobile numbers, resident ID numbers, bank card numbers and e-mail addresses. Every piece of crawled text a report
shows passes ``Masker.mask`` before it reaches a renderer, so HTML, PDF and DOCX can never differ on it.

* numbers and e-mail addresses: the same patterns as the logs (``yuqing.logs.redact``): 138****5678,
  420102********1234, 6222****7890, z***@example.com;
* names after a cue (投诉人 张三 → 投诉人 张*; 我叫李四华 → 我叫李**);
* the authors of complaint-channel posts, wherever their name appears in the report (``刘晓梅`` → ``刘**``).
  A name already reduced to a surname and a title (刘女士, 王先生, 张阿姨) stays as it is: it identifies no one.

Links and evidence hashes are never masked (they are how a reader checks the source).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from yuqing.logs import redact

# 投诉人：张三 / 姓名:李四 / 我叫王小明 / 客户张三丰 — a cue followed by a two- or three-character Chinese name.
_NAME_CUES = re.compile(r"(投诉人|举报人|当事人|持卡人|户名|姓名|联系人|本人姓名|我叫|本人叫|我是)([:：\s]*)"
                        r"([\u4e00-\u9fa5]{2,3})(?=[，,。；;、\s（(]|$|电话|手机|身份证|卡号|先生|女士)")
_TITLED = re.compile(r"^[\u4e00-\u9fa5](女士|先生|阿姨|大爷|大妈|老师|师傅|小姐)$")
_NOT_NAMES = {"客户", "本人", "用户", "网友", "储户", "市民", "老人", "家属", "父亲", "母亲", "银行", "柜员", "网点"}


class Masker:
    """Masks personal data in crawled text; ``names`` are complainants known from the data (complaint authors)."""

    def __init__(self, names: Iterable[str] = (), *, enabled: bool = True):
        self.enabled = enabled
        self.names = sorted({n.strip() for n in names if _is_person_name(n)}, key=len, reverse=True)

    def mask(self, text: str | None) -> str:
        """``text`` with complainants' names, phone / ID / card numbers and e-mail addresses masked."""
        if not text:
            return ""
        if not self.enabled:
            return text
        out = redact(text)
        out = _NAME_CUES.sub(lambda m: m.group(1) + m.group(2) + mask_name(m.group(3)), out)
        for name in self.names:
            out = out.replace(name, mask_name(name))
        return out

    def author(self, name: str | None, *, complaint: bool) -> str:
        """An author as shown: complaint authors masked (they are the complainants), others as published."""
        if not name:
            return ""
        return mask_name(name) if complaint and self.enabled else self.mask(name)


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧***; a surname with a title (刘女士) is kept; a handle keeps its first character."""
    name = name.strip()
    if not name or _TITLED.match(name) or name in _NOT_NAMES:
        return name
    return name[0] + "*" * (len(name) - 1)


def _is_person_name(name: str | None) -> bool:
    return bool(name and name.strip() and not _TITLED.match(name.strip()) and name.strip() not in _NOT_NAMES
                and len(name.strip()) >= 2)
