"""A deliberately simple, rule-based sentiment and category baseline.

It exists so the whole pipeline runs end to end before the transformers model lands, and so that model has a
baseline to beat in the same evaluation run. It scores cue words with negation and question handling; it is not
meant to read sarcasm or context, and says so by its name.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

from sentiment.classifier import Prediction
from sentiment.textnorm import normalise_text

# Weighted cue words. Weights are rough log-odds of a negative (+) or positive (-) reading.
NEGATIVE_CUES: dict[str, float] = {
    "投诉": 1.2, "曝光": 1.5, "维权": 1.5, "拒绝": 1.0, "拒绝取款": 2.5, "不让取": 2.5, "取不出": 2.5,
    "取不了": 2.5, "挤兑": 3.0, "倒闭": 3.0, "跑路": 3.0, "破产": 2.5, "排长队": 1.2, "暴力催收": 3.0,
    "催收": 1.2, "泄露": 2.0, "诈骗": 2.0, "被骗": 2.5, "骗子": 2.5, "坑": 1.5, "套路": 1.5, "乱收费": 2.5,
    "扣费": 1.2, "莫名扣": 2.0, "亏损": 1.5, "亏了": 1.5, "误导": 2.0, "态度差": 2.5, "态度恶劣": 3.0,
    "态度很差": 2.5, "甩脸色": 2.5, "推诿": 2.0, "踢皮球": 2.0, "刁难": 2.5, "气愤": 2.0, "愤怒": 2.0,
    "恶心": 2.0, "垃圾": 2.5, "无语": 1.5, "离谱": 1.8, "太过分": 2.5, "过分": 1.5, "寒心": 2.0,
    "失望": 1.5, "处罚": 1.8, "罚款": 1.8, "罚没": 1.8, "违规": 1.8, "违法": 1.8, "涉嫌": 1.8, "被查": 2.0,
    "故障": 1.5, "崩了": 2.0, "闪退": 1.5, "登不上": 1.5, "冻结": 1.5, "出事": 1.5, "恐慌": 2.0, "谣言": 0.8,
    "报警": 1.5, "欺负": 2.0, "求助": 1.2, "还我": 2.0, "凭什么": 2.0, "黑心": 2.5, "吃相难看": 2.5,
    "被拒": 2.0, "不给取": 2.5, "质疑": 1.5, "遭质疑": 2.0, "心酸": 1.5, "寒了": 2.0, "没人管": 2.0,
    "不作为": 2.0, "刁钻": 1.5, "拖了": 1.2, "拖延": 1.5, "劝我不要取": 2.0, "赶紧去取": 2.5, "排队取钱": 2.0,
    "要倒闭": 3.0, "不行了": 1.5, "差评": 2.0, "维权无门": 3.0, "投诉无门": 3.0, "霸王条款": 2.5,
}
POSITIVE_CUES: dict[str, float] = {
    "点赞": 2.0, "感谢": 1.5, "谢谢": 1.2, "贴心": 2.0, "热情": 1.5, "耐心": 1.5, "专业": 1.0, "满意": 1.5,
    "表扬": 2.0, "锦旗": 2.5, "获奖": 1.8, "荣获": 1.8, "表彰": 1.8, "好评": 2.0, "暖心": 2.0, "给力": 1.5,
    "帮助": 0.8, "挽回": 1.2, "成功拦截": 2.5, "守护": 1.2, "公益": 1.2, "捐赠": 1.5, "助力": 1.0,
    "好": 0.5, "不错": 1.2, "方便": 1.0, "便捷": 1.0, "顺利": 1.0,
}
# Emoji, kaomoji and Weibo's bracketed emoticon codes carry tone on Chinese social media where the words do not
# ("又排了两小时😡", "[怒][怒]", "(╯‵□′)╯︵┻━┻"). 😭 is weak: it is also used for being moved to tears.
NEGATIVE_CUES.update({
    "很差": 2.0, "太差": 2.5, "真差": 2.0, "最差": 2.5, "差劲": 2.5, "差评如潮": 3.0,
    "😡": 2.5, "😠": 2.0, "🤬": 3.0, "😤": 1.5, "💢": 1.5, "👎": 2.0, "😒": 1.5, "🙄": 1.2, "😞": 1.2,
    "😢": 0.8, "😭": 0.8, "💔": 1.2, "🤮": 2.5, "🖕": 3.0,
    "[怒]": 2.0, "[抓狂]": 2.0, "[怒骂]": 2.5, "[鄙视]": 2.0, "[哼]": 1.2, "[泪]": 0.8, "[衰]": 1.2, "[弱]": 1.5,
    "[生病]": 0.5, "╯︵┻━┻": 2.5, "(╬": 2.0, "╬": 1.5, "凸(": 2.5, "T_T": 0.8, "QAQ": 0.8, "o(╥﹏╥)o": 0.8,
})
POSITIVE_CUES.update({
    "👍": 2.0, "👏": 1.5, "💯": 1.5, "😊": 1.2, "😄": 1.2, "😁": 1.2, "🥰": 1.5, "❤": 1.2, "🌹": 1.0,
    "💪": 1.0, "[赞]": 1.5, "[good]": 1.5, "[鼓掌]": 1.5, "[哈哈]": 1.0, "[心]": 1.2, "[爱你]": 1.2,
    "^_^": 1.0, "^o^": 1.0, "(*^▽^*)": 1.2, "o(*￣▽￣*)o": 1.2, "ヽ(°▽°)ノ": 1.2,
})
# The classifiers read NFKC-normalised text (sentiment.textnorm), where "︵" is "(": match cues in that form too.
for _cues in (NEGATIVE_CUES, POSITIVE_CUES):
    _cues.update({unicodedata.normalize("NFKC", k): w for k, w in list(_cues.items())})
# Clarifications and notices are written to calm: they carry alarming words but are not negative exposure.
NEUTRALISERS = ("澄清", "辟谣", "不实", "经营正常", "情况说明", "温馨提示", "郑重声明", "提醒广大")


def is_calming(text: str) -> bool:
    """A clarification or notice (辟谣, 情况说明, 经营正常 …): written to calm, whatever words it quotes. Read
    normalised, so "闢謠" and "經營正常" in traditional characters count too."""
    return _calming(normalise_text(text))


def _calming(normalised: str) -> bool:
    return any(n in normalised for n in NEUTRALISERS)


# A repost's own words are what precedes its ``//@user:`` chain; a reply's are all of it. Fewer than this many
# letters, digits or CJK characters of one's own ("绝了", "真的假的", "蹲", "+1") say too little to stand for a
# story's tone: the model reads such fragments from review data, where they are mostly complaints.
THIN_REPLY_CHARS = 6
_CHAIN = re.compile(r"//\s*@")
_HANDLE = re.compile(r"@[^\s:：,，]{1,30}[:：]?")
_EMOJI_CODE = re.compile(r"\[[^\[\]]{1,8}\]")


def own_chars(text: str) -> int:
    """Letters, digits and CJK characters the author wrote themself: before any repost chain, without @handles
    and bracketed emoji codes ([doge])."""
    own = _CHAIN.split(text, maxsplit=1)[0]
    own = _EMOJI_CODE.sub("", _HANDLE.sub("", own))
    return sum(1 for ch in own if ch.isalnum())


def is_thin(text: str) -> bool:
    """Whether a post is a short reply or repost comment with too few words of its own to judge a story by.

    Counts only up to ``THIN_REPLY_CHARS`` (what ``own_chars`` would say beyond that does not matter here): risk
    scoring asks this of every article of a story each time the story is scored, and a long article's every
    character was counted each time."""
    own = _CHAIN.split(text, maxsplit=1)[0]
    own = _EMOJI_CODE.sub("", _HANDLE.sub("", own))
    seen = 0
    for ch in own:
        if ch.isalnum():
            seen += 1
            if seen >= THIN_REPLY_CHARS:
                return False
    return True


NEGATIONS = ("不", "没", "没有", "未", "无", "别", "非", "并非", "不是", "毫无")

CATEGORY_CUES: dict[str, tuple[str, ...]] = {
    "withdrawal_bank_run": ("挤兑", "取不出", "取不了", "不让取", "拒绝取款", "取现", "取款", "倒闭", "跑路",
                            "排长队", "兑付"),
    "liquidity_risk": ("流动性", "资不抵债", "破产", "接管", "经营困难"),
    "regulatory_penalty": ("行政处罚", "罚款", "罚没", "监管局", "金融监管总局", "银保监", "警示"),
    "violent_collection": ("暴力催收", "催收", "爆通讯录", "骚扰电话"),
    "data_leak_fraud": ("泄露", "诈骗", "被骗", "电诈", "盗刷", "冒用"),
    "staff_misconduct": ("挪用", "涉案", "受贿", "违规放贷", "被查", "员工违规", "飞单"),
    "product_mis_selling": ("理财", "亏损", "误导", "基金", "保险", "净值", "收益", "飞单"),
    "opaque_fees": ("收费", "扣费", "手续费", "年费", "管理费", "乱收费"),
    "system_failure": ("故障", "崩了", "闪退", "登不上", "系统", "APP", "app", "网银", "宕机"),
    "service_attitude": ("态度", "服务", "柜员", "大堂经理", "甩脸色", "推诿", "刁难", "排队"),
}
_QUESTION = re.compile(r"(请问|怎么|如何|能否|可以吗|吗[？?]|么[？?]|[？?]$)")


class RuleBasedClassifier:
    """Cue-word scoring with negation; see the module docstring for what it cannot do."""

    name = "rules-v0"

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return [self._predict_one(t) for t in texts]

    max_chars = 4000  # cue counting on megabyte inputs would only add noise (and time)

    def _predict_one(self, text: str) -> Prediction:
        text = (text or "").strip()[: self.max_chars]
        if not text:
            return Prediction("neutral", 0.05, "other", ())
        score, cues = -1.0, []  # prior: most bank mentions are not negative
        for word, weight in NEGATIVE_CUES.items():
            for pos in _find_all(text, word):
                sign = -1.0 if _negated(text, pos) else 1.0
                score += sign * weight
                cues.append(word if sign > 0 else f"否定:{word}")
        for word, weight in POSITIVE_CUES.items():
            for pos in _find_all(text, word):
                sign = -1.0 if _negated(text, pos) else 1.0
                score -= sign * weight
                cues.append(word if sign > 0 else f"否定:{word}")
        if _calming(text):
            score = min(score, 0.0) - 1.0
            cues.append("澄清/通知")
        if _QUESTION.search(text[-30:]) and score < 2.5:
            score -= 0.5  # an enquiry is usually not exposure
            cues.append("提问")
        neg_prob = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, score))))
        pos_strength = sum(w for k, w in POSITIVE_CUES.items() if k in text)
        if neg_prob >= 0.6:
            label = "negative"
        elif pos_strength >= 1.5 and neg_prob < 0.3:
            label = "positive"
        else:
            label = "neutral"
        return Prediction(label, round(neg_prob, 4), _category(text), tuple(dict.fromkeys(cues)))


# Words that name a risk in any tone, per topic category (config/risk.yaml's ``topic_polarity``): a calmly worded
# item counts as negative for such a topic only when its own words carry one. Narrower than ``CATEGORY_CUES``,
# which file a text under a topic ("取款", "兑付") without saying anything is wrong.
RISK_WORDS: dict[str, tuple[str, ...]] = {
    "withdrawal_bank_run": ("挤兑", "挤提", "取不出", "取不了", "提不出", "不让取", "拒绝取", "限制取", "限取",
                            "暂停取", "只能取", "取款被拒", "取现被拒", "取钱被拒", "取款遭拒", "取现遭拒",
                            "取款受阻", "取现受阻", "取钱难", "取款难", "排长队取", "排队取钱", "排队取款", "人在取钱",
                            "现金不够", "没有现金", "倒闭", "跑路", "暂停营业", "无法兑付", "兑付困难", "延期兑付"),
    "liquidity_risk": ("流动性风险", "流动性危机", "资不抵债", "破产", "被接管", "接管组", "经营困难", "倒闭", "跑路",
                       "暴雷", "爆雷"),
    "regulatory_penalty": ("行政处罚", "罚款", "罚没", "警示函", "处罚", "约谈"),
}


def risk_word_categories(text: str) -> frozenset[str]:
    """The topic categories whose risk words (``RISK_WORDS``) the text itself contains: "内部消息：……各网点都限制取现"
    and "是不是要倒闭了？" name a run in any tone; a bare "储户" or "取款" does not, whatever category a model gives
    it. Read normalised (full-width, traditional characters, zero-width joiners: "擠兌", "限制\u200b取现")."""
    return _risk_words(normalise_text(text))


def _risk_words(normalised: str) -> frozenset[str]:
    return frozenset(code for code, words in RISK_WORDS.items() if any(w in normalised for w in words))


def _risk_terms(normalised: str) -> tuple[str, ...]:
    """The risk words themselves, in the order of ``RISK_WORDS``, each once: "why this alert" names them."""
    return tuple(dict.fromkeys(w for words in RISK_WORDS.values() for w in words if w in normalised))


def calming_and_risk_words(text: str) -> tuple[bool, frozenset[str], tuple[str, ...]]:
    """``is_calming``, ``risk_word_categories`` and the risk words found, of one text normalised once: risk scoring
    asks them of every article, whose text can run to thousands of characters."""
    normalised = normalise_text(text)
    terms = _risk_terms(normalised)
    found = set(terms)
    return _calming(normalised), frozenset(c for c, words in RISK_WORDS.items() if found.intersection(words)), terms


def _category(text: str) -> str:
    best, best_hits = "other", 0
    for code, words in CATEGORY_CUES.items():  # dict order is severity order: earlier wins ties
        hits = sum(text.count(w) for w in words)
        if hits > best_hits:
            best, best_hits = code, hits
    return best


def _find_all(text: str, word: str) -> list[int]:
    out, start = [], 0
    while (i := text.find(word, start)) != -1:
        out.append(i)
        start = i + len(word)
    return out


def _negated(text: str, pos: int) -> bool:
    window = text[max(0, pos - 3):pos]
    return any(window.endswith(n) or (n in window and len(n) == 1 and window.rfind(n) >= len(window) - 2)
               for n in NEGATIONS)
