"""Which units of the bank does a text talk about? Org-chart matching built for the real Chinese web.

One Aho–Corasick automaton (pyahocorasick) holds every name, short name and alias of every org unit, the bank's
own names, the names of other Chinese banks and the words of the keyword plans, so a text is scanned once.
The rules, each learnt from how people actually write about bank branches:

a. A unit name that contains the bank's name (示例银行新华路营业厅, 示例行光明路支行) is a strong mention.
b. A bare alias (新华路营业厅, 光明路支行, 江城分行) counts only when the bank itself (示例银行/示例行/示银) is named
   somewhere in the same text, and no other bank's name directly precedes it: "工商银行新华路营业厅" and
   "建行江城分行光明路支行" are other banks' outlets with the same street names. "Directly" allows a chain of
   unit names (建行 + 江城分行 + 光明路支行) and a gap of up to four letters without punctuation (工商银行江城市
   光明路支行).
c. Bare place names (人民广场, 新华路, 大学城) never count on their own: a bare alias must end with an
   institution word (支行, 网点, 营业厅…) or it is ignored — even if org.yaml lists it; a place counts only
   as a unit's ``region`` beside the bank's own name, and only when no unit is named (rule i).
d. A mention is attributed to the most specific unit named (outlet over sub-branch over branch); a name that
   is part of a longer matched name (江城分行 inside 示例银行江城分行光明路支行) is not a separate mention.
   When only the bank's name appears, the mention goes to the head office: still relevant.
e. Text is normalised first (full-width → half-width, zero-width characters removed, whitespace between Chinese
   characters removed, ASCII lower-cased) so "示例 银行" or "示例\u200b银行" still match. Short bank aliases
   (示银, 示例行) are rejected inside ordinary words (展示银行卡, 示例行为).
f. Each mention carries a ~80-character plain-text snippet around its first hit.
g. A repost is matched on its own text, its ``//@user:`` chain (already part of the text) *and* the original post
   it forwards (``original``, from ``Article.meta['retweeted_text']``), as one text: "示例银行出来回应！" forwarding
   a post about 示例银行新华路网点 is about that outlet, and "新华路这家我去过" forwarding it is relevant at all.
h. ``MatchResult.topic`` is what the article says *about its primary unit*, with every bank and unit name blanked
   out: the whole text (first ``TOPIC_MAX`` characters) when it names no other unit outside the primary unit's
   chain and no other bank; otherwise the title plus ``TOPIC_WINDOW`` characters either side of every mention of
   the primary unit (a roundup of five banks' outlets is only about ours where it names ours). Story clustering
   compares topics, so two articles about the same outlet are not "similar" merely because both spell out
   示例银行江城分行新华路网点.

i. A post that names the bank and a region a unit serves (``regions`` in org.yaml: a branch's city 江城, an
   outlet's street or landmark 新华路) but no unit ("示例银行江城这边现金不够了", "刚才在新华路那家示例银行…") is
   about that unit, not only the head office, so its monitors see it and are alerted. The region word must not
   be part of a unit name (江城分行, 新华路营业厅 are rule b's), nor follow another bank's name directly
   (工行新华路那家…), nor sit inside an ``@handle`` (//@新华路的猫:); a look-alike street (新华北路) is simply
   not the word. Several regions: one inside another's area wins (江城 + 新华路 is the 新华路 outlet); places of
   several units (人民广场、新华路和大学城一带) are one mention of the unit whose area holds them all (the branch).
j. When that unit is above every branch — places of two branches, "示例银行江城和汉北两地的网点都在限制取现" —
   the head office is the primary mention and each unit the places belong to is a secondary one, so every
   branch concerned sees the post in its feed; its story and alert stay the head office's, are visible to those
   branches (``api.listings``) and tell their duty monitors (``incidents.reach``).

An article is relevant when it mentions a unit (or the bank) and no filter plan's exclude word appears.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import ahocorasick

from crawlers.keywords import KeywordPlan
from yuqing.org import OrgChart, UnitKind

# Other Chinese banks, full names and the abbreviations people type. Only used to reject our aliases that they
# directly precede, so common-word collisions (平安, 光大) cost nothing elsewhere.
OTHER_BANKS: tuple[str, ...] = (
    "中国工商银行", "工商银行", "工行", "中国建设银行", "建设银行", "建行", "中国农业银行", "农业银行", "农行",
    "中国银行", "中行", "交通银行", "交行", "招商银行", "招行", "中国邮政储蓄银行", "邮政储蓄银行", "邮储银行",
    "邮储", "邮政银行", "浦发银行", "浦发", "中信银行", "中信", "光大银行", "光大", "民生银行", "民生",
    "兴业银行", "兴业", "平安银行", "平安", "华夏银行", "华夏", "广发银行", "广发", "浙商银行", "浙商",
    "渤海银行", "恒丰银行", "北京银行", "上海银行", "江苏银行", "南京银行", "宁波银行", "杭州银行",
    "徽商银行", "汉口银行", "湖北银行", "长沙银行", "成都银行", "重庆银行", "天津银行", "微众银行", "网商银行",
    "国家开发银行", "国开行", "农业发展银行", "农发行", "进出口银行", "农商银行", "农商行", "农村商业银行",
    "城商行", "村镇银行", "信用社", "农信社", "农村信用社", "花旗银行", "汇丰银行", "渣打银行",
)
INSTITUTION_SUFFIXES: tuple[str, ...] = (
    "总行", "总部", "分行", "支行", "网点", "营业厅", "营业部", "分理处", "储蓄所", "营业所", "自助银行",
    "办事处", "银行",
)
SNIPPET_BEFORE = 30
SNIPPET_AFTER = 50
MAX_GAP = 4
TOPIC_WINDOW = 150
TOPIC_MAX = 3000

# Words a short bank alias can hide in: a character before its first, or after its last, that makes a common word
# (展示/显示/提示… + 银; 示例 + 行为/行业…).
_BLOCK_BEFORE: dict[str, str] = {"示": "展显演提指告表暗出公揭启批请警标图宣"}
_BLOCK_AFTER: dict[str, str] = {"行": "为业动走程列李驶使政情径进书车驶"}
_ZERO_WIDTH = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WS_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")
_WS = re.compile(r"\s+")
_WORDLIKE = re.compile(f"[{_CJK}0-9a-z]")
_HANDLE = re.compile(r"@[^\s:：,，。!！?？@#/]{1,30}")


def normalise(text: str) -> str:
    """Full-width → half-width (NFKC), strip zero-width characters, lower-case ASCII, remove whitespace between
    Chinese characters and collapse the rest to single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _ZERO_WIDTH.sub("", text).lower()
    text = _WS_BETWEEN_CJK.sub("", text)
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class UnitMention:
    unit_id: str
    terms: list[str]
    snippet: str
    score: float
    is_primary: bool


@dataclass(frozen=True)
class MatchResult:
    mentions: list[UnitMention]
    primary_unit_id: str | None
    bank_mentioned: bool
    plan_hits: dict[str, list[str]] = field(default_factory=dict)
    excluded_by: list[str] = field(default_factory=list)
    relevant: bool = False
    categories: list[str] = field(default_factory=list)
    topic: str = ""  # rule (h): the passages about the primary unit, names blanked (normalised text)

    @property
    def risk_words(self) -> list[str]:
        """Hit words of every topic plan, sorted: the "same event" evidence used by story clustering."""
        return sorted({w for words in self.plan_hits.values() for w in words})


@dataclass(frozen=True)
class _Entry:
    kind: str  # "bank" | "unit" | "region" | "other" | "word"
    term: str
    unit_id: str | None = None
    strong: bool = False


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int  # exclusive
    entry: _Entry


class Matcher:
    """Match texts against one org chart and a set of keyword plans. Build once, call ``match`` many times."""

    def __init__(self, org: OrgChart, plans: list[KeywordPlan] | None = None):
        self.org = org
        self.root_unit_id = org.root().id
        self._depth = {u.id: org.depth(u.id) for u in org.units}
        # Every unit's units below it (story clustering's rule 3 looks a level down), computed once.
        below: dict[str, list[str]] = {u.id: [] for u in org.units}
        for u in org.units:
            for ancestor in org.ancestors(u.id):
                if ancestor.id != u.id:
                    below[ancestor.id].append(u.id)
        self.units_below: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in below.items()}
        self.plans = [_normalised_plan(p) for p in plans or []]
        self.bank_names = [n for n in (normalise(x) for x in org.bank.all_names()) if n]
        entries: dict[str, list[_Entry]] = {}

        def add(term: str, entry: _Entry) -> None:
            if term:
                entries.setdefault(term, []).append(entry)

        for name in self.bank_names:
            add(name, _Entry("bank", name))
        for unit in org.units:
            for raw in unit.all_names():
                term = normalise(raw)
                strong = any(b in term for b in self.bank_names)
                if not strong and not term.endswith(INSTITUTION_SUFFIXES):
                    continue  # rule (c): a bare place name is never a mention on its own
                add(term, _Entry("unit", term, unit.id, strong))
            for region in unit.regions:
                add(normalise(region), _Entry("region", normalise(region), unit.id))
        for other in OTHER_BANKS:
            add(normalise(other), _Entry("other", normalise(other)))
        for plan in self.plans:
            for word in plan.words():
                add(word, _Entry("word", word))
        self._automaton = ahocorasick.Automaton()
        for term, items in entries.items():
            self._automaton.add_word(term, tuple(items))
        self._automaton.make_automaton()

    @classmethod
    def from_org(cls, org: OrgChart, plans: list[KeywordPlan] | None = None) -> Matcher:
        return cls(org, plans)

    def match(self, text: str, title: str = "", *, original: str = "") -> MatchResult:
        """Find the units a text (and its title) mentions, the primary one, and the keyword plans it hits.

        ``original`` is the post a repost forwards (rule g); it is matched as part of the text unless the text
        already quotes it in full."""
        norm_title = normalise(title)
        norm_text = normalise(text)
        norm_original = normalise(original)
        if norm_original and norm_original not in norm_text:
            norm_text = f"{norm_text}\n{norm_original}" if norm_text else norm_original
        norm = f"{norm_title}\n{norm_text}" if norm_title else norm_text
        body_start = len(norm_title) + 1 if norm_title else 0
        hits = [
            _Hit(end + 1 - len(entry.term), end + 1, entry)
            for end, entries in self._automaton.iter(norm) for entry in entries
        ] if norm else []
        by_end: dict[int, list[_Hit]] = {}
        for h in hits:
            by_end.setdefault(h.end, []).append(h)

        bank_hits = [h for h in hits if h.entry.kind == "bank" and self._bank_hit_ok(norm, h)]
        bank_mentioned = bool(bank_hits)
        accepted = [
            h for h in hits if h.entry.kind == "unit"
            and (h.entry.strong or (bank_mentioned and not self._other_bank_precedes(norm, h, by_end)))
        ]
        # Rule (d): a name inside a longer accepted name is part of that name, not a mention of its own.
        accepted = _drop_contained(accepted)

        found_words = {h.entry.term for h in hits if h.entry.kind == "word"}
        plan_hits: dict[str, list[str]] = {}
        excluded_by: list[str] = []
        categories: list[str] = []
        for plan in self.plans:
            fired = plan.evaluate(found_words)
            if fired is None:
                continue
            if plan.role == "filter":
                excluded_by.extend(fired)
            else:
                plan_hits[plan.name] = fired
                if plan.category and plan.category not in categories:
                    categories.append(plan.category)

        if bank_mentioned and not accepted:  # rule (i): the bank and a region, no unit
            unit_spans = [(h.start, h.end) for h in hits if h.entry.kind in ("unit", "other")]
            handles = [m.span() for m in _HANDLE.finditer(norm)]
            accepted, reached = self._area(_drop_contained([
                h for h in hits if h.entry.kind == "region"
                and not any(a <= h.start and h.end <= b for a, b in unit_spans + handles)
                and not self._other_bank_precedes(norm, h, by_end)]))
        else:
            reached = []
        mentions = self._mentions(norm, body_start, accepted, bank_hits, norm_title, reached)
        primary = next((m.unit_id for m in mentions if m.is_primary), None)
        topic = ""
        if primary is not None:
            anchors = [h for h in accepted if h.entry.unit_id == primary] or bank_hits
            names = [h for h in hits if h.entry.kind != "word"]
            chain = {u.id for u in self.org.ancestors(primary)}
            alone = (all(m.unit_id in chain for m in mentions)
                     and not any(h.entry.kind == "other" for h in hits))
            topic = _topic(norm, len(norm_title), anchors, names, whole=alone)
        return MatchResult(
            mentions=mentions, primary_unit_id=primary, bank_mentioned=bank_mentioned, plan_hits=plan_hits,
            excluded_by=sorted(set(excluded_by)), relevant=bool(mentions) and not excluded_by,
            categories=categories, topic=topic,
        )

    # --- helpers -----------------------------------------------------------------------------------------------------
    def _area(self, regions: list[_Hit]) -> tuple[list[_Hit], list[_Hit]]:
        """Rule (i): the unit a set of region hits is about, and the branches' units it reaches.

        A region inside another named one wins (江城 + 新华路 is the 新华路 outlet); places of several units
        (人民广场、新华路和大学城一带) are about the unit whose area holds them all, so the hits are re-attributed to
        it. When that unit is above every branch (江城和汉北两地的网点), the post is the head office's, but each
        branch's monitors must see it too: the second list keeps the hits at their own units, which become
        secondary mentions (rule j)."""
        units = {h.entry.unit_id for h in regions}
        inner = {u for u in units if u is not None
                 and not any(o != u and u in {a.id for a in self.org.ancestors(o or "")} for o in units)}
        if len(inner) <= 1:
            return [h for h in regions if h.entry.unit_id in inner], []
        chains = [[a.id for a in self.org.ancestors(u)] for u in sorted(inner)]
        common = next(u for u in chains[0] if all(u in c for c in chains[1:]))
        area = [_Hit(h.start, h.end, _Entry("region", h.entry.term, common)) for h in regions
                if h.entry.unit_id in inner]
        if self.org.owning_branch(common).kind == UnitKind.branch:  # within one branch: its monitors see it
            return area, []
        return area, [h for h in regions if h.entry.unit_id in inner]

    def _mentions(self, norm: str, body_start: int, accepted: list[_Hit], bank_hits: list[_Hit],
                  norm_title: str, reached: list[_Hit]) -> list[UnitMention]:
        """One mention per unit of ``accepted`` (the most specific the primary), and a secondary one per unit of
        ``reached`` (rule j)."""
        per_unit = _by_unit(accepted)
        if not per_unit:
            if not bank_hits:
                return []
            # Rule (d): the bank's name alone is a mention of the head office.
            hits = sorted(bank_hits, key=lambda h: h.start)
            terms = list(dict.fromkeys(h.entry.term for h in hits))
            return [UnitMention(self.root_unit_id, terms, _snippet(norm, _first(hits, body_start)), 0.5, True)]

        def rank(item: tuple[str, list[_Hit]]) -> tuple[int, int, int]:
            unit_id, unit_hits = item
            return (self._depth.get(unit_id, 0), len(unit_hits), -unit_hits[0].start)

        primary_id = max(per_unit.items(), key=rank)[0]
        mentions = [_unit_mention(norm, body_start, norm_title, unit_id, unit_hits, unit_id == primary_id)
                    for unit_id, unit_hits in per_unit.items()]
        mentions += [_unit_mention(norm, body_start, norm_title, unit_id, unit_hits, False)
                     for unit_id, unit_hits in _by_unit(reached).items()]
        mentions.sort(key=lambda m: (not m.is_primary, -self._depth.get(m.unit_id, 0), m.unit_id))
        return mentions

    def _bank_hit_ok(self, norm: str, hit: _Hit) -> bool:
        """Rule (e): a short alias of the bank must not be the inside of an ordinary word."""
        term = hit.entry.term
        if len(term) > 3 or term == self.bank_names[0]:
            return True
        before = norm[hit.start - 1] if hit.start > 0 else ""
        after = norm[hit.end] if hit.end < len(norm) else ""
        if before and before in _BLOCK_BEFORE.get(term[0], ""):
            return False
        return not (after and after in _BLOCK_AFTER.get(term[-1], ""))

    def _other_bank_precedes(self, norm: str, hit: _Hit, by_end: dict[int, list[_Hit]]) -> bool:
        """Rule (b): is another bank's name right before this alias (possibly via a chain of unit names)?"""
        pos = hit.start
        for _ in range(6):  # chains are short: bank + branch + sub-branch + outlet
            for gap in range(MAX_GAP + 1):
                end = pos - gap
                if end <= 0:
                    break
                if gap and not _WORDLIKE.match(norm[end]):
                    break  # punctuation or a space between: not directly preceding
                for other in by_end.get(end, []):
                    if other.entry.kind == "other":
                        return True
                    if other.entry.kind == "bank":
                        return False
            chain = [h for h in by_end.get(pos, []) if h.entry.kind == "unit"]
            if not chain:
                return False
            pos = min(h.start for h in chain)
        return False


def _by_unit(hits: list[_Hit]) -> dict[str, list[_Hit]]:
    """Hits grouped by unit, each group in text order."""
    per_unit: dict[str, list[_Hit]] = {}
    for h in sorted(hits, key=lambda h: h.start):
        per_unit.setdefault(h.entry.unit_id or "", []).append(h)
    return per_unit


def _unit_mention(norm: str, body_start: int, norm_title: str, unit_id: str, unit_hits: list[_Hit],
                  primary: bool) -> UnitMention:
    """A unit's mention: 1.0 for a name with the bank's in it, 0.5 for places only, 0.8 otherwise; +0.1 in the
    title."""
    strong = any(h.entry.strong for h in unit_hits)
    score = 1.0 if strong else 0.5 if all(h.entry.kind == "region" for h in unit_hits) else 0.8
    if norm_title and any(h.start < len(norm_title) for h in unit_hits):
        score = min(1.0, score + 0.1)
    terms = list(dict.fromkeys(h.entry.term for h in unit_hits))
    return UnitMention(unit_id, terms, _snippet(norm, _first(unit_hits, body_start)), score, primary)


def _drop_contained(hits: list[_Hit]) -> list[_Hit]:
    """Keep hits not strictly inside a longer hit (one sweep: by start, longest first)."""
    kept: list[_Hit] = []
    max_end, max_span = -1, (-1, -1)
    for h in sorted(hits, key=lambda h: (h.start, -h.end)):
        if max_end >= h.end and max_span != (h.start, h.end):
            continue
        kept.append(h)
        if h.end > max_end:
            max_end, max_span = h.end, (h.start, h.end)
    return kept


def _first(hits: list[_Hit], body_start: int) -> _Hit:
    """The first hit in the body if there is one (a better snippet than the title), else the first hit."""
    in_body = [h for h in hits if h.start >= body_start]
    return min(in_body or hits, key=lambda h: h.start)


def _topic(norm: str, title_len: int, anchors: list[_Hit], names: list[_Hit], *, whole: bool) -> str:
    """Rule (h): the text, or the title and ``TOPIC_WINDOW`` characters around each anchor; names blanked."""
    chars = list(norm)
    for h in names:
        chars[h.start:h.end] = " " * (h.end - h.start)
    blanked = "".join(chars)
    if whole:
        return _WS.sub(" ", blanked[:TOPIC_MAX]).strip()
    spans = [(0, title_len)] if title_len else []
    spans += [(max(0, h.start - TOPIC_WINDOW), min(len(norm), h.end + TOPIC_WINDOW)) for h in anchors]
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return "\n".join(_WS.sub(" ", blanked[a:b]).strip() for a, b in merged).strip()


def _snippet(norm: str, hit: _Hit) -> str:
    start = max(0, hit.start - SNIPPET_BEFORE)
    end = min(len(norm), hit.end + SNIPPET_AFTER)
    text = norm[start:end].replace("\n", " ").strip()
    return ("…" if start > 0 else "") + text + ("…" if end < len(norm) else "")


def _normalised_plan(plan: KeywordPlan) -> KeywordPlan:
    def norm_list(words: list[str]) -> list[str]:
        return [w for w in (normalise(x) for x in words) if w]

    return plan.model_copy(update={
        "must": [norm_list(g) for g in plan.must],
        "any": norm_list(plan.any),
        "exclude": norm_list(plan.exclude),
    })
