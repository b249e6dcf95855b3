"""Same-story clustering and near-duplicate detection: alerts and incidents attach to stories, not to copies.

A story groups everything written about one event: the first report, portal copies, rewrites, Weibo reposts, and
short posts about the same trouble at the same outlet, the same event told at the branch above it or on the
bank's name alone, and a slow story's tellings weeks apart. Six rules decide whether an article joins a story
(the windows are set in ``config/stories.yaml``, ``crawlers.story_config``; docs/stories.md explains them for
operators); all are deterministic (fixed MinHash seed and scheme, ordered tie-breaks), so rebuilding the index
from the database after a restart assigns the same way.

1. **Text similarity.** MinHash LSH (datasketch) over character 3-grams of the normalised title + text (letters
   and digits only, first ``MAX_CHARS`` characters). An article joins the story whose indexed texts are most
   similar if the estimated Jaccard similarity is at least ``threshold`` (0.5). At ``duplicate_threshold``
   (0.9) the article is also flagged ``is_duplicate``: a near-identical copy, kept for spread, skipped for
   reading. Weibo reposts (``转发理由//@用户: …``) lose their ``//@user:`` chain markers, and when the crawler
   stored the original post in ``meta['retweeted_text']`` the repost is compared by that original as well, so
   a repost with a long comment still joins the original's story.
2. **Same outlet, same topic, same time** (for texts too different for MinHash: a 30-character post and a
   2,000-character article, a rumour and the complaint it grew from). Only for articles whose primary unit is a
   named unit (not the head office by the bank's name alone), and only against stories that had an article about
   that *same* unit within ``window`` (48 h) of this one — two incidents at one outlet days apart stay apart.
   Reposts count with their original (``crawlers.matching`` rule g), so a repost's unit is the original's.

   *Topic* is not a keyword list. Each article brings its topic grams: the character bigrams (plus amounts like
   ``5万``/``67岁`` and latin words such as ``atm``) of ``MatchResult.topic`` — what the text says about the unit,
   every bank/unit name blanked — minus bigrams containing a function character (的了是在我你他…) and minus
   ``STOP_BIGRAMS`` (记者/表示/今天/网点/银行/客户…, words any article about a bank uses), plus one ``~concept``
   gram for each concept it names in any of its usual words (``EVENT_CONCEPTS``, ``DESCRIPTIVE_CONCEPTS``):
   a street post's 大爷/取钱/柜员/吵起来 and a newsroom's 七旬老人/取款/柜台/争执 share ``~老人 ~取款 ~柜台
   ~争执``, where their bigrams share nothing. Per (unit, story) the
   index keeps a profile: in how many of the story's *tellings* each gram and each risk word occurred (``df``) and
   how many tellings there were (``n``). A telling is an article that founded the story or joined it by rule 2;
   copies and reposts (joined by rule 1) keep the story open but add nothing, so 500 reposts of one post do not
   make its every word "core". With ``w`` = 1 while ``n < CORE_MEMBERS`` (3), else ``max(2, ⌈CORE_SHARE·n⌉)``
   (``CORE_SHARE`` = 0.1) and ``core`` = the grams with ``df ≥ max(min(n, 2), ⌈CORE_SHARE·n⌉)``::

       known    = Σ_{g ∈ grams} min(1, df(g) / w) / |grams|      how much of the article the story already knows
       repeated = |grams ∩ core| / min(|grams|, |core|)           how much of the story's core the article repeats
       score    = max(known, repeated)

   The article joins when

   * ``score ≥ TOPIC_THRESHOLD`` (0.30) — reason ``same_unit_topic``; or
   * it shares *core evidence* with the story **and** ``score ≥ RISK_TOPIC_FLOOR`` (0.08) — reason
     ``same_unit_risk``. Evidence is the hit words of the topic plans in ``config/keywords.yaml`` (取不出钱, 预约,
     挤兑…) and their risk categories; core evidence is what at least two tellings (the only one, for a story of
     one) and at least ``CORE_SHARE`` of them used — one article's aside about 电信诈骗 does not pull an
     anti-fraud campaign into a withdrawal crisis; or
   * it names the same *kind of happening* in other words — an event concept (``~取款``, ``~吞卡``, ``~催收``…)
     that is core to the story — **and** ``score ≥ RISK_TOPIC_FLOOR``, within ``EVENT_WINDOW`` (6 h) of the
     story's last telling at the unit, and it names no event concept the story never mentioned — reason
     ``same_unit_event``. This is the eyewitness who writes "刚才在新华路那家示例银行，一个大爷跟柜台吵起来了，
     好像是取钱的事" half an hour after the complaint (the street makes it the outlet's post, ``crawlers.matching``
     rule i); a swallowed card (``~吞卡``) or a giveaway at the same outlet in the same hour stays its own story.

   Articles with fewer than ``MIN_TOPIC_GRAMS`` (4) grams (``示例银行新华路网点！``) have no topic score. Stories
   without any stored grams (rows written before topic grams existed) fall back to "shares a risk word".
   Among several candidate stories the highest score wins, then most shared risk words, then the most recent,
   then the lowest id.

3. **The same event told a level up** (``find_in_scope``). An article that names only the bank, or a branch or
   sub-branch, has no unit profile to join, yet a crisis at one outlet is retold there ("示例银行要倒闭了？", the
   branch's 情况说明, the police's 辟谣). It joins an *established* story (``CORE_MEMBERS`` tellings) of a unit
   below it within the window when it shares a core risk word (or a spreading category: a run at an outlet
   becomes "要倒闭了？" about the bank) and ``RISK_TOPIC_FLOOR`` of the topic (reason
   ``scope_risk``), or any core evidence and ``TOPIC_THRESHOLD`` (``scope_topic``). It adds nothing to the
   unit's profile (its topic is about the bank at large).

4. **A slow story over weeks** (``find_for_unit``, reason ``same_unit_slow``). Some events are practices told
   victim after victim — insurance sold as a deposit, collection calls, fees (``SLOW_EVENTS``) — and their
   tellings come days apart, beyond the window. An article about a unit joins that unit's story when the story's
   last telling there is within ``slow_window`` (7 days, ``config/stories.yaml``'s ``slow_days``) of it, the
   article names one of the story's *main* events (an event concept at least half of its tellings at the unit
   named) that is slow, and it reaches ``RISK_TOPIC_FLOOR`` of the topic. The window runs from the last telling,
   so a story keeps going as long as it keeps being told, and ends when it goes quiet. A happening (a swallowed
   card, a refused withdrawal) is not slow: the same kind of thing days later is a new incident, as are other
   events at the unit.

5. **The same event on the unit's line** (``find_related``, reason ``related_unit``). An article about a unit
   joins a story told at a unit above it (but the head office) or below it within the window — the rumour that
   江城分行 is short of money and the queue at its 光明路支行 half an hour later, an outlet's complaint and the
   branch's statement — when every unit the story was told at is on that line (a sibling outlet's trouble is its
   own story, even after the branch spoke about the first), the article *tells the story's event* and it
   shares a risk category with the story or ``RISK_TOPIC_FLOOR`` of its topic. Telling the event
   (``_UnitActivity.tells_same_event``, over the whole story's tellings): the article names at least one event
   concept, every event concept it names was named by some telling, and one of them is core to the story. So a
   complaint about a refused withdrawal does not take the rumour that the bank is collapsing until the story has
   told that too, and a swallowed card never joins a run.

6. **The bank's name alone** (``find_bank_event``, reason ``bank_event``). A forum thread or a hot-list title
   ("示例银行挤兑") names no unit. It joins the one story with a telling within the window whose event it tells,
   when there is exactly one such story (with two — queues at two sub-branches — it cannot say which and founds
   its own) and that story is a run or liquidity story (a core ``SPREADING_CATEGORIES`` category) while the
   article names a run event (``SPREADING_EVENTS``), or the article reaches ``TOPIC_THRESHOLD`` of the story's
   topic. Rules 5 and 6 compare with the *whole story's* profile (every telling, whatever unit it named,
   including those naming only the bank), kept beside the per-unit profiles.

Rules are tried in this order — 1, then 2 and 4 at the article's unit, 3 over the units below it, then 5 (an
article about a unit) or 6 (an article naming only the bank) — and the first that finds a story decides. A
story keeps the unit it was founded at: the incident was opened for that unit and its people are on the case,
so a sub-branch's queue joining the branch's rumour does not hand the branch's incident to the sub-branch, and a
branch's statement joining an outlet's story leaves the outlet's incident where it is. Only a story founded on the
bank's name alone takes the first unit named by an article that joins it (``crawlers.ingest``). Each telling
still keeps its own unit, reason and sub-thread (``meta['match']``). Texts are compared in simplified characters
(OpenCC ``t2s``), full-width forms folded (``normalise``).

Otherwise the article founds a new story. The founding text's signature is stored on ``Story.minhash`` (a list of
ints), each article's topic grams and risk words on ``Article.meta['match']``, and ``StoryIndex.load`` rebuilds the
index from those plus the recent member articles, in id order, so a restarted process assigns the same way.

Several ingest processes share one story set: clustering takes the ``story_assignment`` counter's row lock
(``crawlers.claims``), replays into its index what the others assigned since it last looked (``StoryIndex.sync``,
from the ``story_assignments`` log), assigns, logs its own assignment and commits — one assigner at a time, each
seeing every earlier assignment.

That alone does not make the stories the same as one process would make: the rules are decided article by article
against what the index holds, so they depend on the order articles are clustered in (rule 6 joins the *one*
candidate story, rule 2 compares with the profile the earlier tellings built, a story founded by one article is
joined by the next). One ingest process clusters a backlog in *ingest order* (``ingest_order``: when the article
happened — publish time, else fetch time — then fetch time, then id; ``crawlers.ingest`` lists its batches so).
Processes reaching the lock in turn would interleave their batches: worker B's article from 09:05 clustered
before worker A's from 09:03 founds the story A's would have founded, and the later tellings divide differently
(the benchmark's backlog of 160 articles, a worker that took its later half clustering it before the earlier half:
15 stories where one worker makes 16, tests/core/test_story_order_workers.py). So the rule is: **an article is
clustered only when no article before it in ingest order is still waiting** (``stage == fetched``). Under the
lock, after ``sync``, ``check_turn`` looks for the first such article and, if there is one, raises
``ClusteringTurn``; the article's transaction is rolled back and ``TurnQueue`` (the ingest loop's queue) takes the
earlier article first — ingesting it itself, or, while another worker holds it (its row lock: it is being matched
or clustered there), retrying every ``TURN_POLL`` for up to ``TURN_WAIT`` before ending the batch. Whatever the
number of workers, stories are built in ingest order over the articles stored, the order of one worker; an
article stored later with an earlier time than articles still waiting is clustered before them, by one worker
as by several.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from datasketch import MinHash, MinHashLSH
from opencc import OpenCC
from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from crawlers.claims import StoryAssignment
from crawlers.matching import normalise
from crawlers.models import Article, ArticleStage, Story

log = logging.getLogger(__name__)

SEED = 1
SCHEME = "affine32"


@functools.cache
def _permutations(num_perm: int) -> Any:
    """The permutations of (``num_perm``, SEED): drawn once per process instead of once per text (drawing them was
    most of a signature's cost); the hash values are the same."""
    return MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations
SHINGLE = 3
MAX_CHARS = 5000
MIN_SHINGLES = 3
DEFAULT_WINDOW = timedelta(hours=48)
TOPIC_THRESHOLD = 0.30
RISK_TOPIC_FLOOR = 0.08
CORE_MEMBERS = 3
CORE_SHARE = 0.1
MIN_TOPIC_GRAMS = 4
# Troubles that spread from one outlet to rumours about the whole bank ("取款被拒" → "要倒闭了？"): for rule 3,
# sharing one of these categories with an established story is evidence enough, beside a shared risk word.
SPREADING_CATEGORIES = frozenset({"withdrawal_bank_run", "liquidity_risk"})
# Rule 2's "same place, same hours" path: how close to the story's last telling at the unit an article must be.
EVENT_WINDOW = timedelta(hours=6)
# Rule 4 (slow stories): how long after a unit's story last had a telling a new telling of its main event may
# still join, and which events are slow — practices told victim after victim over weeks, not happenings.
DEFAULT_SLOW_WINDOW = timedelta(days=7)
SLOW_EVENTS = frozenset({"误导", "理财", "催收", "收费", "贷款", "泄露", "盗刷"})
# Rule 6: a post naming only the bank joins on the event alone only when it is one of these events.
SPREADING_EVENTS = frozenset({"倒闭", "取款"})

# Concepts: the different words the web and the newsroom use for one thing. An article's topic grams gain
# ``~concept`` for each concept it names, so "大爷取钱" and "七旬老人取款" share grams. *Event* concepts name what
# happened (a withdrawal, a swallowed card, a collection call) and are also evidence of the event (rule 2's
# ``same_unit_event``); the others only describe it (who, where, what sort of scene). Surface forms are found
# longest first and each character counts once, so 取款机 is an ATM, not a withdrawal.
EVENT_CONCEPTS: dict[str, tuple[str, ...]] = {
    "取款": ("取钱", "取款", "取现", "提现", "提款", "支取", "取出来", "取不出", "取不了", "不让取", "不给取",
             "取到钱", "取不到", "拒付", "兑付"),
    "吞卡": ("吞卡", "卡被吞", "吞了卡", "吞了我的卡", "把卡吞", "卡吞", "卡退不出"),
    "倒闭": ("倒闭", "破产", "跑路", "暴雷", "爆雷", "挤兑", "要出事", "不行了", "资金链断", "资金链出问题"),
    "催收": ("催收", "催债", "爆通讯录", "骚扰电话", "催款"),
    "收费": ("年费", "手续费", "管理费", "扣费", "乱收费", "扣了钱", "扣钱"),
    "理财": ("理财", "保本", "基金", "净值", "飞单", "亏损"),
    # Mis-selling: a product sold as something it is not (insurance as a deposit), and what follows from it.
    "误导": ("误导", "存款变保险", "当存款", "存款名义", "诱导", "忽悠", "退保"),
    "盗刷": ("盗刷", "被盗", "诈骗", "骗局", "被骗", "钓鱼"),
    "贷款": ("贷款", "房贷", "放贷", "抵押", "逾期"),
    "故障": ("系统故障", "宕机", "闪退", "无法登录", "登不上", "崩了", "转账失败"),
    "泄露": ("泄露", "个人信息", "隐私"),
}
DESCRIPTIVE_CONCEPTS: dict[str, tuple[str, ...]] = {
    "老人": ("老人", "老年", "大爷", "大妈", "老太太", "老太", "老爷子", "老大爷", "老伯", "七旬", "八旬", "六旬",
             "爷爷", "奶奶", "老父亲", "老母亲"),
    "柜台": ("柜台", "柜员", "窗口"),
    "atm": ("atm", "取款机", "提款机", "柜员机", "自助机", "自助设备"),
    "争执": ("争执", "争吵", "吵架", "吵起来", "起冲突", "闹事", "激动"),
    "道歉": ("道歉", "致歉", "赔礼"),
    "谣言": ("谣言", "造谣", "传谣", "辟谣", "不实"),
    "排队": ("排队", "排长队", "长队"),
}
_CONCEPT_FORMS: tuple[tuple[str, str], ...] = tuple(sorted(
    ((form, name) for table in (EVENT_CONCEPTS, DESCRIPTIVE_CONCEPTS) for name, forms in table.items()
     for form in forms), key=lambda pair: (-len(pair[0]), pair[0])))
# Forms a word list cannot hold: 取 … 钱 with the object between ("不让老人取自己的钱", "取他存的5万元现金").
_CONCEPT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile("(?<![争获采听录选夺吸领])取(?![消得决代名暖经号])[^\\s，。！？；、,.!?;]{0,8}?(?:钱|款|现金|存款)"),
     "取款"),
)
CONCEPT_MARK = "~"

# Characters that make a bigram grammar rather than topic (particles, pronouns, demonstratives, copulas).
FUNCTION_CHARS = frozenset("的了是在我你他她它们这那也都就和与及吗呢吧啊哦嘛呀着之其而很还又再么哪谁啥咋吧哈嗯")
# Bigrams every article about a bank, its outlets or the news uses: they say nothing about *which* event.
_STOP_TEXT = """
记者 本报 报讯 近日 日前 今天 今日 昨天 昨日 明天 上午 下午 晚上 日上 日下 日晚 时许 目前 现在 时候 之前 之后 以后 已经
表示 介绍 了解 获悉 发布 报道 消息 网友 市民 客户 顾客 储户 工作 作人 人员 负责 责人 相关 有关 方面 部门 情况 问题
进行 开展 通过 对于 关于 其中 以及 同时 并且 但是 不过 因为 所以 如果 虽然 还有 而且 然后 一个 一些 一下 一直 一起
一次 一位 没有 不是 就是 还是 可以 需要 应该 知道 觉得 认为 大家 自己 什么 怎么 看到 出来 起来 过来 真的
银行 网点 支行 分行 总行 营业 业厅 分理 理处 江城 湖北 全国 微博 视频 转发 评论 回复 网页 链接 全文 分享
"""
STOP_BIGRAMS = frozenset(_STOP_TEXT.split())

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@[^\s:：,，。!！?？@#/]{1,30}")
_CJK_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(万|千|元|块|岁)")
_AMOUNT_UNIT = {"块": "元"}
_LATIN = re.compile("[a-z]{3,}")

_REPOST_MARK = re.compile(r"//\s*@[^:：\s/]{1,40}\s*[:：]")
_REPLY_MARK = re.compile(r"(?:回复|转发)\s*@[^:：\s/]{1,40}\s*[:：]")
_BOILERPLATE = re.compile(r"转发微博|轉發微博|repost", re.I)
_NOT_WORD = re.compile(r"[\W_]+")
# Traditional → simplified (OpenCC, Apache-2.0): a retelling in traditional characters is the same story.
_T2S = OpenCC("t2s")


@dataclass(frozen=True)
class Assignment:
    """Where an article goes: an existing story (and why) or a new one (``story_id`` None)."""

    story_id: int | None
    # "minhash" | "same_unit_topic" | "same_unit_risk" | "same_unit_event" | "same_unit_slow" | "scope_topic" |
    # "scope_risk" | "related_unit" | "bank_event" | "new"
    reason: str
    similarity: float
    is_duplicate: bool
    signature: list[int]
    shared_words: list[str] = field(default_factory=list)
    topic_score: float = 0.0
    # rule 1: the indexed text it is most like (``a<article id>``, or ``s<story id>`` for the story's founding
    # text) — the sub-thread it continues (a repost under its original, a portal copy under the report)
    nearest: str | None = None


@dataclass(frozen=True)
class UnitCandidate:
    """The best open story of a unit for an article (rule 2), and the evidence."""

    story_id: int
    reason: str  # as ``Assignment.reason``, one of the rule 2–6 reasons
    topic_score: float
    shared_words: list[str]


@dataclass
class _UnitActivity:
    last_seen: datetime
    articles: int = 0  # articles about the unit in this story
    words: Counter[str] = field(default_factory=Counter)  # risk word → articles using it
    members: int = 0  # articles that brought topic grams
    grams: Counter[str] = field(default_factory=Counter)  # topic gram → articles using it

    def core_words(self) -> set[str]:
        """Risk words used by at least two of the story's articles about the unit (its only one, if one) and by at
        least ``CORE_SHARE`` of them: one aside in a long-running story is not what the story is about."""
        floor = max(min(self.articles, 2), math.ceil(CORE_SHARE * self.articles))
        return {w for w, n in self.words.items() if n >= floor}

    def main_events(self) -> set[str]:
        """The event concepts at least half of the tellings named: what the story is about (rule 4)."""
        floor = max(1, math.ceil(self.articles / 2))
        return {w for w, n in self.words.items() if w.startswith(CONCEPT_MARK) and n >= floor}

    def tells_same_event(self, events: set[str]) -> bool:
        """Whether an article naming ``events`` (event concepts) tells this profile's event: every event it names
        was named by some telling, and at least one of them is core (rules 5–6). A refused withdrawal is not yet
        the rumour that the bank is collapsing; a swallowed card is not a mis-sold policy."""
        named = {w for w in self.words if w.startswith(CONCEPT_MARK)}
        return bool(events) and events <= named and bool(events & self.core_words())

    def gram_weight(self) -> int:
        """Articles a topic gram must appear in to count fully: 1 while the story has fewer than ``CORE_MEMBERS``
        tellings, then 2, or ``CORE_SHARE`` of them once that is more."""
        if self.members < CORE_MEMBERS:
            return 1
        return max(2, math.ceil(CORE_SHARE * self.members))


def story_text(title: str, text: str, meta: dict[str, Any] | None = None) -> str:
    """The text a story is recognised by: title + body without repost-chain markers, plus the reposted original."""
    body = strip_repost_chain(text or "")
    head = (title or "").strip()
    parts = [body] if head and body.startswith(head) else [head, body]
    original = original_text(meta)
    if original and original not in body:
        parts.append(original)
    return "\n".join(p for p in parts if p)


def original_text(meta: dict[str, Any] | None) -> str:
    """The original post a repost quotes, when the crawler stored it (``meta['retweeted_text']``)."""
    value = (meta or {}).get("retweeted_text")
    return strip_repost_chain(value) if isinstance(value, str) else ""


def strip_repost_chain(text: str) -> str:
    """``太坑了//@小王: 转发//@原作者: 原文`` → ``太坑了 转发 原文``: drop the ``//@user:`` markers and boilerplate."""
    text = _REPOST_MARK.sub(" ", text)
    text = _REPLY_MARK.sub(" ", text)
    text = _BOILERPLATE.sub(" ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def topic_grams(topic: str) -> set[str]:
    """The grams a topic passage is compared by (rule 2): content bigrams of its Chinese runs, amounts (``5万``,
    ``67岁``) and latin words; URLs, ``@handles`` and repost markers removed, function and stop bigrams dropped."""
    text = simplified(normalise(strip_repost_chain(topic or "")))
    text = _HANDLE.sub(" ", _URL.sub(" ", text))
    grams: set[str] = set()
    for number, unit in _AMOUNT.findall(text):
        grams.add(f"{number}{_AMOUNT_UNIT.get(unit, unit)}")
    grams.update(_LATIN.findall(text))
    grams.update(CONCEPT_MARK + name for name in concepts(text))
    for run in _CJK_RUN.findall(text):
        for i in range(len(run) - 1):
            gram = run[i:i + 2]
            if gram in STOP_BIGRAMS or gram[0] in FUNCTION_CHARS or gram[1] in FUNCTION_CHARS:
                continue
            grams.add(gram)
    return grams


def concepts(text: str) -> set[str]:
    """The concepts (``EVENT_CONCEPTS``, ``DESCRIPTIVE_CONCEPTS``) a normalised text names, longest form first."""
    found: set[str] = set()
    for form, name in _CONCEPT_FORMS:
        if form in text:
            found.add(name)
            text = text.replace(form, " ")
    found.update(name for pattern, name in _CONCEPT_PATTERNS if pattern.search(text))
    return found


def simplified(text: str) -> str:
    """Traditional characters as simplified ones (``擠兌`` → ``挤兑``); simplified text is returned unchanged."""
    return _T2S.convert(text) if text else text


def event_concepts(grams: Iterable[str]) -> set[str]:
    """The ``~event`` grams among an article's topic grams: what happened, as evidence (rule 2's event path)."""
    return {g for g in grams if g.startswith(CONCEPT_MARK) and g[1:] in EVENT_CONCEPTS}


def shingles(text: str) -> set[str]:
    """Character 3-grams of the normalised text, letters and digits only (punctuation and spaces vary by copy)."""
    compact = _NOT_WORD.sub("", simplified(normalise(text)))[:MAX_CHARS]
    if len(compact) < SHINGLE:
        return {compact} if compact else set()
    return {compact[i:i + SHINGLE] for i in range(len(compact) - SHINGLE + 1)}


class StoryIndex:
    """In-memory index of recent stories: MinHash LSH over their texts plus per-unit recent activity."""

    def __init__(self, threshold: float = 0.5, num_perm: int = 128, *, duplicate_threshold: float = 0.9,
                 window: timedelta = DEFAULT_WINDOW, slow_window: timedelta = DEFAULT_SLOW_WINDOW,
                 slow_events: Iterable[str] = SLOW_EVENTS):
        self.threshold = threshold
        self.num_perm = num_perm
        self.duplicate_threshold = duplicate_threshold
        self.window = window
        self.slow_window = max(slow_window, window)
        self.slow_events = {CONCEPT_MARK + e for e in slow_events}
        self._reset()

    @property
    def lookback(self) -> timedelta:
        """How long a story must be remembered after its last article: the longest window any rule looks back."""
        return max(self.window, self.slow_window)

    def _reset(self) -> None:
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        self._entries: dict[str, tuple[int, MinHash]] = {}
        self._units: dict[str, dict[int, _UnitActivity]] = {}
        self._stories: dict[int, _UnitActivity] = {}  # the whole story's profile: every telling, any unit
        self._story_seen: dict[int, datetime] = {}
        self.watermark = 0  # the last story_assignments seq this index has learned (crawlers.claims)

    def __len__(self) -> int:
        return len(self._entries)

    # --- signatures ----------------------------------------------------------------------------------------------
    def signature(self, text: str) -> MinHash | None:
        """MinHash of the text's shingles; None for texts too short to compare."""
        grams = shingles(text)
        if len(grams) < MIN_SHINGLES:
            return None
        m = MinHash(num_perm=self.num_perm, seed=SEED, scheme=SCHEME, permutations=_permutations(self.num_perm))
        m.update_batch([g.encode("utf-8") for g in sorted(grams)])
        return m

    def from_values(self, values: list[int]) -> MinHash:
        return MinHash(num_perm=self.num_perm, seed=SEED, scheme=SCHEME, hashvalues=[int(v) for v in values],
                       permutations=_permutations(self.num_perm))

    # --- the text rule ---------------------------------------------------------------------------------------------
    def add(self, story_id: int, text: str | None = None, *, signature: MinHash | list[int] | None = None,
            key: str | None = None) -> MinHash | None:
        """Index a text (or a ready signature) as part of ``story_id``; adding the same key twice is a no-op."""
        sig = self._as_minhash(signature) if signature is not None else self.signature(text or "")
        if sig is None:
            return None
        key = key or f"s{story_id}#{len(self._entries)}"
        if key in self._entries:
            return sig
        self._lsh.insert(key, sig)
        self._entries[key] = (story_id, sig)
        return sig

    def find(self, text: str) -> int | None:
        """The story a text belongs to by similarity, or None."""
        found = self.best(text)
        return found[0] if found else None

    def best(self, text_or_signature: str | MinHash) -> tuple[int, float] | None:
        """The most similar indexed story and its estimated Jaccard similarity (≥ threshold), or None."""
        sig = (self.signature(text_or_signature) if isinstance(text_or_signature, str) else text_or_signature)
        found = self._nearest(sig) if sig is not None else None
        return (found[0], found[1]) if found else None

    def _nearest(self, sig: MinHash) -> tuple[int, float, str] | None:
        """The most similar indexed text (≥ threshold): its story, the similarity and its key (``a<article id>``
        or ``s<story id>`` for a story's founding text). Ties: the lower story id, then the founding text, then
        the earliest article."""
        best: tuple[tuple[float, int, int, int], int, float, str] | None = None
        for key in self._lsh.query(sig):
            story_id, other = self._entries[key]
            sim = float(sig.jaccard(other))
            if sim < self.threshold:
                continue
            number = key[1:].split("#")[0]
            rank = (sim, -story_id, int(key[0] == "s"), -int(number) if number.isdigit() else 0)
            if best is None or rank > best[0]:
                best = (rank, story_id, sim, key)
        return (best[1], best[2], best[3]) if best else None

    # --- the unit rule -------------------------------------------------------------------------------------------
    def touch(self, story_id: int, *, unit_id: str | None, at: datetime, risk_words: Iterable[str],
              grams: Iterable[str] = (), categories: Iterable[str] = (), counts: bool = True) -> None:
        """Record that ``story_id`` had an article at ``at`` about ``unit_id`` with these risk words and topic grams
        (``counts=False``: a retelling that only keeps the story open)."""
        seen = self._story_seen.get(story_id)
        self._story_seen[story_id] = at if seen is None or at > seen else seen
        grams = set(grams)
        evidence = _evidence(risk_words, categories) | event_concepts(grams)
        profiles = [self._stories.setdefault(story_id, _UnitActivity(at))]  # rules 5–6 read the whole story
        if unit_id:
            profiles.append(self._units.setdefault(unit_id, {}).setdefault(story_id, _UnitActivity(at)))
        for activity in profiles:
            activity.last_seen = max(activity.last_seen, at)
            if not counts:
                continue
            activity.articles += 1
            activity.words.update(evidence)
            if grams:
                activity.grams.update(grams)
                activity.members += 1

    def topic_score(self, unit_id: str, story_id: int, grams: Iterable[str]) -> float:
        """Rule 2's weighted share of ``grams`` the (unit, story) profile already knows; 0 without a profile."""
        activity = self._units.get(unit_id, {}).get(story_id)
        return _score(set(grams), activity) if activity is not None else 0.0

    def find_for_unit(self, unit_id: str | None, risk_words: Iterable[str], at: datetime,
                      grams: Iterable[str] = (), categories: Iterable[str] = ()) -> UnitCandidate | None:
        """The open story of ``unit_id`` within the window that this article's topic (or topic + a shared risk
        word) joins, by rule 2; None if there is none."""
        if not unit_id:
            return None
        grams = set(grams)
        events = event_concepts(grams)

        def decide(activity: _UnitActivity, shared: list[str], score: float) -> str | None:
            if score >= TOPIC_THRESHOLD:
                return "same_unit_topic"
            if any(not w.startswith(CONCEPT_MARK) for w in shared) and (score >= RISK_TOPIC_FLOOR
                                                                          or not activity.members):
                return "same_unit_risk"
            # Same place, same hours, the same kind of happening told in other words, and nothing the story has
            # never mentioned (a swallowed card is not the refused withdrawal of an hour ago).
            if (score >= RISK_TOPIC_FLOOR and any(w.startswith(CONCEPT_MARK) for w in shared)
                    and abs(at - activity.last_seen) <= EVENT_WINDOW and events <= activity.words.keys()):
                return "same_unit_event"
            return None

        pairs = self._units.get(unit_id, {}).items()
        words = _evidence(risk_words, categories) | events
        found = self._best(pairs, words, grams, at, decide)
        if found is not None:
            return found

        def decide_slow(activity: _UnitActivity, _shared: list[str], score: float) -> str | None:
            # Rule 4: a slow story (mis-selling, collection calls, fees) told victim after victim over weeks.
            main = activity.main_events() & self.slow_events
            if main & events and score >= RISK_TOPIC_FLOOR:
                return "same_unit_slow"
            return None

        return self._best(pairs, words, grams, at, decide_slow, window=self.slow_window)

    def find_related(self, unit_id: str | None, related: Iterable[str], risk_words: Iterable[str], at: datetime,
                     grams: Iterable[str] = (), categories: Iterable[str] = ()) -> UnitCandidate | None:
        """Rule 5: the story of a unit on the article's own line (``related``: the units above it but the head
        office, and the units below it) that the article tells too, or None.

        The rumour that 江城分行 is short of money and the queue at its 光明路支行 half an hour later are one
        event; so are an outlet's complaint and the sub-branch's 情况说明. The story must have had a telling at
        such a unit within the window, and the article must tell the story's event (``tells_same_event``, over
        the whole story's tellings) and share a risk category with it or ``RISK_TOPIC_FLOOR`` of its topic.
        Sibling units (another outlet of the same sub-branch) are not on the line: the same trouble next door is
        that outlet's own story."""
        events = event_concepts(grams)
        if not unit_id or not events:
            return None
        line = {unit_id, *related}
        ids = sorted({sid for unit in line - {unit_id} for sid, activity in self._units.get(unit, {}).items()
                      if abs(at - activity.last_seen) <= self.window})
        # Every unit the story was told at must be on the line: a story of 新华路网点 that its branch's statement
        # joined is still 新华路's, not a story the branch's every other sub-branch could join.
        ids = [sid for sid in ids if self._story_units(sid) <= line]

        def decide(profile: _UnitActivity, shared: list[str], score: float) -> str | None:
            if not profile.tells_same_event(events):
                return None
            if any(w.startswith("#") for w in shared) or score >= RISK_TOPIC_FLOOR:
                return "related_unit"
            return None

        pairs = [(sid, self._stories[sid]) for sid in ids if sid in self._stories]
        return self._best(pairs, _evidence(risk_words, categories) | events, set(grams), at, decide)

    def _story_units(self, story_id: int) -> set[str]:
        """The units a story had tellings at (within what the index remembers)."""
        return {unit for unit, stories in self._units.items() if story_id in stories}

    def find_bank_event(self, risk_words: Iterable[str], at: datetime, grams: Iterable[str] = (),
                        categories: Iterable[str] = ()) -> UnitCandidate | None:
        """Rule 6: the one story an article naming only the bank (a forum thread, a hot-list title "示例银行挤兑")
        belongs to, or None.

        The candidates are the stories with a telling within the window whose event the article tells
        (``tells_same_event``). With two or more (two outlets' queues the same morning) it cannot tell which one
        it is about and founds its own. The one candidate is joined when it is a run or liquidity story (a core
        ``SPREADING_CATEGORIES`` category) and the article names a spreading event (``SPREADING_EVENTS``: a run
        at one place is "the bank is collapsing" everywhere within hours), or when the article reaches
        ``TOPIC_THRESHOLD`` of its topic."""
        grams = set(grams)
        events = event_concepts(grams)
        if not events:
            return None
        candidates = [(story_id, profile) for story_id, profile in sorted(self._stories.items())
                      if abs(at - profile.last_seen) <= self.window and profile.tells_same_event(events)]
        if len(candidates) != 1:
            return None
        story_id, profile = candidates[0]
        core = profile.core_words()
        shared = sorted((_evidence(risk_words, categories) | events) & core)
        score = _score(grams, profile)
        run_story = any(f"#{c}" in core for c in SPREADING_CATEGORIES)
        if (run_story and events & {CONCEPT_MARK + e for e in SPREADING_EVENTS}) or score >= TOPIC_THRESHOLD:
            return UnitCandidate(story_id, "bank_event", round(score, 4), shared)
        return None

    def find_in_scope(self, scope: Iterable[str], risk_words: Iterable[str], at: datetime,
                      grams: Iterable[str] = (), categories: Iterable[str] = ()) -> UnitCandidate | None:
        """Rule 3: the established story of a unit *below* the article's own (``scope``: the units under the
        branch it names, or every unit when it names only the bank) that the article is about, or None.

        A crisis at one outlet is told a level up too: "示例银行要倒闭了？" on Weibo, the branch's statement, the
        police's 辟谣. Such an article joins a story of a unit in its scope that already has ``CORE_MEMBERS``
        tellings within the window when it shares one of the story's core risk words (or its category, for
        ``SPREADING_CATEGORIES`` only) and at least ``RISK_TOPIC_FLOOR`` of its topic, or when its topic score
        reaches ``TOPIC_THRESHOLD`` and it shares any core evidence. A lone post is never reached this way, so
        a bank-wide gripe does not land in whichever outlet happened to have one complaint that week."""
        def decide(activity: _UnitActivity, shared: list[str], score: float) -> str | None:
            if activity.articles < CORE_MEMBERS or not shared:
                return None
            if score >= TOPIC_THRESHOLD:
                return "scope_topic"
            if score >= RISK_TOPIC_FLOOR and any(not w.startswith("#") or w[1:] in SPREADING_CATEGORIES
                                                 for w in shared):
                return "scope_risk"
            return None

        pairs = [pair for unit_id in scope for pair in self._units.get(unit_id, {}).items()]
        return self._best(pairs, _evidence(risk_words, categories), set(grams), at, decide)

    def _best(self, pairs: Iterable[tuple[int, _UnitActivity]], words: set[str], grams: set[str], at: datetime,
              decide: Callable[[_UnitActivity, list[str], float], str | None], *,
              window: timedelta | None = None) -> UnitCandidate | None:
        """The best-ranked story among ``pairs`` (story id, its activity at a unit) within ``window`` (default:
        the index's window) that ``decide`` accepts (it returns the reason, or None): highest topic score, then
        most shared evidence, then the most recent, then the lowest id."""
        window = self.window if window is None else window
        best: tuple[tuple[float, int, datetime, int], UnitCandidate] | None = None
        for story_id, activity in pairs:
            if abs(at - activity.last_seen) > window:
                continue
            shared = sorted(words & activity.core_words())
            score = _score(grams, activity)
            reason = decide(activity, shared, score)
            if reason is None:
                continue
            rank = (score, len(shared), activity.last_seen, -story_id)
            if best is None or rank > best[0]:
                best = (rank, UnitCandidate(story_id, reason, round(score, 4), shared))
        return best[1] if best else None

    # --- both rules ----------------------------------------------------------------------------------------------
    def assign(self, text: str, *, unit_id: str | None, risk_words: Iterable[str], at: datetime,
               original: str | None = None, grams: Iterable[str] = (), categories: Iterable[str] = (),
               scope: Iterable[str] = (), scope_grams: Iterable[str] | None = None,
               related: Iterable[str] = ()) -> Assignment:
        """Decide which story an article joins without changing the index: rule 1, then rules 2 and 4 at
        ``unit_id``, rule 3 over ``scope``, then rule 5 over ``related`` (an article about a unit) or rule 6 (an
        article naming only the bank: ``unit_id`` None, compared by ``scope_grams``)."""
        sig = self.signature(text)
        values = [int(v) for v in sig.hashvalues] if sig is not None else []
        found = self._nearest(sig) if sig is not None else None
        duplicate = bool(found and found[1] >= self.duplicate_threshold)
        original_sig = self.signature(original) if original else None
        if original_sig is not None:
            via_original = self._nearest(original_sig)
            if via_original and (found is None or via_original[1] > found[1]):
                found = via_original
        if found:
            return Assignment(found[0], "minhash", round(found[1], 4), duplicate, values, nearest=found[2])
        by_unit = self.find_for_unit(unit_id, risk_words, at, grams, categories)
        wide_grams = grams if scope_grams is None else scope_grams
        if by_unit is None:
            by_unit = self.find_in_scope(scope, risk_words, at, wide_grams, categories)
        if by_unit is None and unit_id:
            by_unit = self.find_related(unit_id, related, risk_words, at, grams, categories)
        if by_unit is None and not unit_id:
            by_unit = self.find_bank_event(risk_words, at, wide_grams, categories)
        if by_unit:
            return Assignment(by_unit.story_id, by_unit.reason, 0.0, False, values, by_unit.shared_words,
                              by_unit.topic_score)
        return Assignment(None, "new", 0.0, False, values)

    # --- persistence ---------------------------------------------------------------------------------------------
    def load(self, session: Session, *, now: datetime | None = None, lookback: timedelta | None = None) -> int:
        """Rebuild from the database: signatures of stories seen within ``lookback`` of ``now`` (default: the
        newest story; 7 days, or the longest window when that is longer), their non-duplicate member articles,
        and per-unit activity. Returns the stories loaded."""
        lookback = max(timedelta(days=7), self.lookback) if lookback is None else lookback
        self._reset()
        # Everything clustered up to this seq is committed (seqs are handed out under the clustering lock and
        # committed before it is released); what comes later is learned by ``sync``, never twice.
        watermark = int(session.scalar(select(func.max(StoryAssignment.seq))) or 0)
        self.watermark = watermark
        if now is None:
            now = session.scalar(select(Story.last_seen_at).order_by(Story.last_seen_at.desc()).limit(1))
            if now is None:
                return 0
        cutoff = now - lookback
        stories = session.scalars(select(Story).where(Story.last_seen_at >= cutoff).order_by(Story.id)).all()
        for story in stories:
            if story.minhash:
                self.add(story.id, signature=story.minhash, key=f"s{story.id}")
        ids = [s.id for s in stories]
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            articles = session.scalars(
                select(Article).where(Article.story_id.in_(chunk),
                                      Article.stage.not_in([ArticleStage.fetched, ArticleStage.irrelevant]),
                                      Article.id.not_in(select(StoryAssignment.article_id)
                                                        .where(StoryAssignment.seq > watermark)))
                .order_by(Article.id)).all()
            for article in articles:
                self.remember(article)
        log.info("story index loaded", extra={"stories": len(stories), "entries": len(self._entries)})
        return len(stories)

    def sync(self, session: Session) -> int:
        """Learn what other processes clustered since this index last looked: replay, in the order it happened,
        every ``story_assignments`` row after ``watermark`` exactly as ingest does after its own commit (a story's
        founding signature, then the article). Ingest calls it under the clustering lock, so the index it assigns
        with holds every assignment committed before, whoever made it. Returns the articles learned."""
        learned = 0
        while True:
            rows = session.execute(
                select(StoryAssignment.seq, Article).join(Article, Article.id == StoryAssignment.article_id)
                .where(StoryAssignment.seq > self.watermark).order_by(StoryAssignment.seq).limit(1000)).all()
            if not rows:
                return learned
            for seq, article in rows:
                info = (article.meta or {}).get("match") or {}
                if info.get("story_reason") == "new" and article.story_id is not None:
                    story = session.get(Story, article.story_id)
                    if story is not None and story.minhash:
                        self.add(story.id, signature=story.minhash, key=f"s{story.id}")
                self.remember(article)
                self.watermark = int(seq)
                learned += 1

    def remember(self, article: Article) -> None:
        """Index one stored, assigned article exactly as ingest does (used by ingest and by ``load``)."""
        if article.story_id is None:
            return
        info = (article.meta or {}).get("match") or {}
        if not article.is_duplicate:
            self.add(article.story_id, story_text(article.title, article.text, article.meta), key=f"a{article.id}")
        # A copy, rewrite or repost (joined by MinHash) retells what the story already holds: it keeps the story
        # open but adds nothing to the topic profile, so a viral post's 500 reposts don't drown everything else.
        retelling = info.get("story_reason") == "minhash"
        self.touch(article.story_id, unit_id=info.get("story_unit_id"), at=article_time(article),
                   risk_words=info.get("risk_words") or [], categories=info.get("categories") or [],
                   grams=info.get("topic_grams") or [], counts=not retelling)

    def prune(self, before: datetime) -> int:
        """Forget stories last seen before ``before`` (long-running processes); returns entries removed."""
        old = {sid for sid, seen in self._story_seen.items() if seen < before}
        keys = [k for k, (sid, _) in self._entries.items() if sid in old]
        for k in keys:
            self._lsh.remove(k)
            del self._entries[k]
        for per_unit in self._units.values():
            for sid in old & per_unit.keys():
                del per_unit[sid]
        for sid in old:
            del self._story_seen[sid]
            self._stories.pop(sid, None)
        return len(keys)

    def _as_minhash(self, signature: MinHash | list[int]) -> MinHash:
        return signature if isinstance(signature, MinHash) else self.from_values(signature)


def _evidence(risk_words: Iterable[str], categories: Iterable[str]) -> set[str]:
    """Risk words and risk categories (as ``#category``) in one set: sharing either is evidence of one event."""
    return set(risk_words) | {f"#{c}" for c in categories}


def _score(grams: set[str], activity: _UnitActivity | None) -> float:
    """Rule 2's topic score: the better of "how much of the article the story knows" and "how much of the story's
    core the article repeats" (see the module docstring)."""
    if activity is None or len(grams) < MIN_TOPIC_GRAMS or not activity.members:
        return 0.0
    weight = activity.gram_weight()
    known = sum(min(1.0, activity.grams.get(g, 0) / weight) for g in grams) / len(grams)
    floor = max(min(activity.members, 2), math.ceil(CORE_SHARE * activity.members))
    core = {g for g, df in activity.grams.items() if df >= floor}
    repeated = len(grams & core) / min(len(core), len(grams)) if core else 0.0
    return max(known, repeated)


def article_time(article: Article) -> datetime:
    """When an article happened, for story windows: its publish time, else when it was fetched."""
    return article.published_at or article.fetched_at


# --- the clustering order (the module docstring's last paragraph) ----------------------------------------------------
# How long an ingest worker waits for an earlier article another worker holds before giving up its batch (the next
# batch starts from the earliest waiting article again), and how often it looks meanwhile.
TURN_WAIT = 30.0
TURN_POLL = 0.05


class ClusteringTurn(Exception):
    """Article ``article_id`` may not be clustered yet: ``earlier_id`` comes before it in ingest order and is still
    waiting. Raised under the clustering lock; the caller rolls the article back and takes the earlier one first."""

    def __init__(self, article_id: int, earlier_id: int) -> None:
        super().__init__(f"article {earlier_id} comes before article {article_id} and is not ingested yet")
        self.article_id = article_id
        self.earlier_id = earlier_id


def ingest_order() -> tuple[Any, ...]:
    """The order ingest lists and clusters articles in: when it happened (publish time, else fetch time), then fetch
    time, then id — one worker's order, which every worker keeps (``check_turn``)."""
    return func.coalesce(Article.published_at, Article.fetched_at), Article.fetched_at, Article.id


def earliest_waiting_before(session: Session, article: Article) -> int | None:
    """The first article in ingest order that comes before ``article`` and is still ``fetched``, or None.

    "Before" is one row comparison, so that with ``ix_articles_ingest_order`` (stage, then the ingest order) the
    database reads it as a range and stops at the first row: written as ``when < at OR (when = at AND …)`` it was
    a filter, and the article whose turn it is (nothing before it) had every later waiting article read to prove
    it: on PostgreSQL with 10,000 waiting behind 100,000 ingested, 17.5 ms for that article with the index, 3 ms as
    a range (most of it the call from Python; 0.1 ms on the server); 95–185 ms for any article without the index,
    which walked every article (migration 0021, ``python -m bench.ingest_order``)."""
    return session.scalar(_WAITING_BEFORE, {"at": article_time(article), "fetched": article.fetched_at,
                                            "id": article.id})


def _waiting_before() -> Any:
    """``earliest_waiting_before``'s statement, built once with the article's place bound per call (typed as the
    columns, so a time is written as the column stores it): ingest asks twice per relevant article, and building
    the row comparison and its cache key each time cost more than the indexed question. Same SQL."""
    when, fetched, ident = ingest_order()
    place = tuple_(bindparam("at", type_=Article.fetched_at.type), bindparam("fetched", type_=Article.fetched_at.type),
                   bindparam("id", type_=Article.id.type))
    return (select(Article.id).where(Article.stage == ArticleStage.fetched, tuple_(when, fetched, ident) < place)
            .order_by(when, fetched, ident).limit(1))


_WAITING_BEFORE = _waiting_before()


def check_turn(session: Session, article: Article) -> None:
    """Raise ``ClusteringTurn`` when an article before ``article`` in ingest order is still waiting to be ingested.

    The call that decides is made under the clustering lock, after ``StoryIndex.sync``: what another worker
    clustered is then committed and no longer ``fetched``, so "nothing earlier waiting" means every earlier
    article is in the index, as it would be for one worker going through the backlog in order. Ingest also calls
    it before taking the lock: a worker whose article is plainly not next does not queue for the lock (with four
    workers it did, and most turns at the lock were wasted) nor write its mentions only to roll them back."""
    earlier = earliest_waiting_before(session, article)
    if earlier is not None:
        raise ClusteringTurn(article.id, earlier)


class TurnQueue:
    """The articles an ingest batch clusters, in ingest order, with the earlier ones it meets put first.

    ``for article_id in queue`` yields the batch's ids; when one raises ``ClusteringTurn``, ``waits_for(turn)`` puts
    it back behind the earlier article, so the worker takes that one itself (ingesting it, or finding another
    worker holds it). Met again and again, the same earlier article is another worker's: the queue sleeps
    ``TURN_POLL`` between tries and, after ``TURN_WAIT`` seconds of it, ``waits_for`` returns False and the caller
    ends its batch. The earliest waiting article is never held back, so some worker always makes progress."""

    def __init__(self, article_ids: Iterable[int], *, wait: float | None = None, poll: float | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """``wait`` / ``poll``: default ``TURN_WAIT`` / ``TURN_POLL`` as they are when the queue is made (not when
        this module was imported), so a test or a deployment that sets the module's constants is obeyed."""
        self._queue = deque(article_ids)
        self._wait = TURN_WAIT if wait is None else wait
        self._poll = TURN_POLL if poll is None else poll
        self._sleep, self._monotonic = sleep, monotonic
        self._blocker: int | None = None
        self._since = 0.0
        self.waited = 0  # turns met: articles put back behind an earlier one (for tests and logs)

    def __iter__(self) -> Iterator[int]:
        while self._queue:
            yield self._queue.popleft()

    def waits_for(self, turn: ClusteringTurn) -> bool:
        """Put ``turn.article_id`` back behind ``turn.earlier_id``; False when that one has been waited for longer
        than ``TURN_WAIT`` (held by another worker all along): the caller stops its batch."""
        self.waited += 1
        now = self._monotonic()
        if turn.earlier_id != self._blocker:
            self._blocker, self._since = turn.earlier_id, now
        else:
            if now - self._since > self._wait:
                return False
            self._sleep(self._poll)
        self._queue.appendleft(turn.article_id)
        self._queue.appendleft(turn.earlier_id)
        return True
