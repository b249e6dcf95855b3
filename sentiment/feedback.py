"""Learning from monitors: their actions on alerts become labels, and ``yuqing train --with-feedback`` fine-tunes
the current model on them.

A monitor who dismisses an alert as a false positive (误报) is saying that the articles the classifier called
negative are not negative exposure; one who opens an incident by hand for an alert-only (level IV) story, or raises
an incident's level, is saying that the articles it called neutral or positive are. ``record_dismissal`` and
``record_manual_raise`` store one ``FeedbackLabel`` per such article, in the caller's transaction (the incidents
service calls them beside the state change), with the exact passage the classifier saw. They are idempotent per
article and source, and the later judgement wins: a manual raise retracts the story's earlier dismissal labels and
a dismissal retracts its earlier raise labels.

``export_feedback`` writes the labels as corpus-format JSONL so they can be reviewed and versioned like the
corpus; ``train_with_feedback`` fine-tunes the current model on the corpus train split plus the feedback (repeated,
so a few dozen judgements weigh against thousands of corpus texts) into a new directory, and reports before/after
on the held-out set, the corpus test split and the feedback itself, regressions included. The crawled texts are
stored and exported as plain text; nothing here renders them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crawlers.models import Article
from sentiment.models import Classification, FeedbackLabel
from sentiment.passages import passages_about
from yuqing.categories import CATEGORIES

log = logging.getLogger(__name__)

DISMISSAL, MANUAL_RAISE = "dismissal", "manual_raise"
FEEDBACK_PLATFORM = "feedback"
# Dismissal reasons that say the text is not about a bank at all (a namesake company, a road or place name); the
# label guide marks those about_bank=false. "Another bank, not ours" is still about a bank, so it is not listed.
NOT_ABOUT_BANK_CUES = ("同名", "重名", "非银行", "不是银行", "与银行无关", "和银行无关", "跟银行无关", "不涉及银行",
                       "路名", "地名", "街道名", "非金融")
HELDOUT_TOLERANCE = 0.02  # a fall in held-out negative F1 larger than this is reported as a regression


class FeedbackError(ValueError):
    """Feedback training cannot run (no labels, no current model); the message is for the operator, in Chinese."""


# --- recording monitors' judgements ----------------------------------------------------------------------------

def record_dismissal(session: Session, *, story_id: int, alert_id: int | None, user_login: str, reason: str,
                     at: datetime) -> list[FeedbackLabel]:
    """Label "neutral" every article of the story the classifier called negative (the alert was a false positive)."""
    return _record(session, story_id=story_id, alert_id=alert_id, source=DISMISSAL, label="neutral",
                   predicted=("negative",), about_bank=about_bank_from_reason(reason), user_login=user_login,
                   reason=reason, at=at)


def record_manual_raise(session: Session, *, story_id: int, alert_id: int | None, user_login: str, reason: str,
                        at: datetime) -> list[FeedbackLabel]:
    """Label "negative" every article of the story the classifier called neutral or positive (a human raised it)."""
    return _record(session, story_id=story_id, alert_id=alert_id, source=MANUAL_RAISE, label="negative",
                   predicted=("neutral", "positive"), about_bank=True, user_login=user_login, reason=reason, at=at)


def about_bank_from_reason(reason: str) -> bool:
    """False when the dismissal reason says the text is not about a bank (``同名企业，非本行`` → False)."""
    return not any(cue in (reason or "") for cue in NOT_ABOUT_BANK_CUES)


def passage_for(article: Article) -> str:
    """The text the classifier saw for an article (the same selection as ``service.classify_pending``)."""
    terms = [t for m in article.mentions for t in (m.terms or [])]
    return passages_about(article.title, article.text, terms)


# --- export ----------------------------------------------------------------------------------------------------

def export_feedback(session: Session, path: Path) -> int:
    """Write every label as a corpus-format JSONL line; returns the number of lines written.

    Lines are ordered by article and source, so exporting the same labels twice gives the same file (diffable).
    A passage repeated verbatim (a repost) is written once. The file is replaced atomically.
    """
    rows = session.scalars(select(FeedbackLabel).order_by(FeedbackLabel.article_id, FeedbackLabel.source)).all()
    seen: set[tuple[str, str]] = set()
    lines = []
    for row in rows:
        key = (row.text.strip(), row.label)
        if not key[0] or key in seen:
            continue
        seen.add(key)
        lines.append(json.dumps(feedback_line(row), ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(path)
    return len(lines)


def feedback_line(row: FeedbackLabel) -> dict:
    """One label as a corpus record (``sentiment.corpus.load_jsonl`` reads it), plus provenance for reviewers."""
    return {"id": f"feedback-{row.article_id}-{row.source}", "text": row.text, "polarity": row.label,
            "about_bank": bool(row.about_bank), "category": row.category if row.category in CATEGORIES else "other",
            "platform": FEEDBACK_PLATFORM, "feedback_source": row.source, "predicted": row.predicted_label,
            "negative_prob": row.negative_prob, "model": row.model, "labelled_by": row.labelled_by,
            "labelled_at": row.labelled_at.astimezone(UTC).isoformat(), "reason": row.reason}


# --- fine-tuning and evaluation ----------------------------------------------------------------------------------

@dataclass
class FeedbackRun:
    """A fine-tuning run on feedback: where the model went and how it did before and after, per evaluation set."""

    base_dir: Path
    out_dir: Path
    feedback_file: Path
    feedback_count: int
    repeat: int
    epochs: int
    before: dict[str, dict] = field(default_factory=dict)  # set name → metrics
    after: dict[str, dict] = field(default_factory=dict)
    contaminated: int = 0  # feedback texts near-duplicating an evaluation text
    tolerance: float = HELDOUT_TOLERANCE

    @property
    def heldout_drop(self) -> float:
        return round(self.before["heldout"]["negative_f1"] - self.after["heldout"]["negative_f1"], 4)

    @property
    def regressed(self) -> bool:
        return self.heldout_drop > self.tolerance

    def to_json(self) -> dict:
        return {"base_dir": str(self.base_dir), "out_dir": str(self.out_dir), "feedback_file": str(self.feedback_file),
                "feedback_count": self.feedback_count, "repeat": self.repeat, "epochs": self.epochs,
                "before": self.before, "after": self.after, "contaminated": self.contaminated,
                "heldout_negative_f1_drop": self.heldout_drop, "regressed": self.regressed}

    def render(self) -> str:
        """A before/after table for the operator (Chinese), ending with the verdict; regressions are not hidden."""
        names = {"heldout": "留出集 held-out", "test": "语料测试集 test", "feedback": "反馈样本 feedback"}
        out = [f"基础模型 {self.base_dir} → 新模型 {self.out_dir}",
               f"反馈标注 {self.feedback_count} 条（{self.feedback_file}），"
               f"训练时重复 ×{self.repeat}，{self.epochs} 轮",
               f"{'评估集':<18}{'样本':>6}  {'准确率 前→后':<16}{'负面F1 前→后':<16}{'宏F1 前→后':<16}"
               "标注标签概率 前→后"]
        for key in ("heldout", "test", "feedback"):
            b, a = self.before.get(key), self.after.get(key)
            if not b or not a:
                continue
            out.append(f"{names[key]:<18}{b['n']:>6}  {_arrow(b, a, 'accuracy'):<16}{_arrow(b, a, 'negative_f1'):<16}"
                       f"{_arrow(b, a, 'macro_f1'):<16}{_arrow(b, a, 'gold_prob')}")
        fb_b, fb_a = self.before["feedback"], self.after["feedback"]
        out.append(f"反馈样本判对 {fb_b['correct']}/{fb_b['n']} → {fb_a['correct']}/{fb_a['n']}")
        if self.contaminated:
            out.append(f"注意：{self.contaminated} 条反馈文本与评估集文本近似重复，评估结果可能偏高")
        if self.regressed:
            out.append(f"警告：留出集负面F1 下降 {self.heldout_drop:.4f}，超过容许值 {self.tolerance}，"
                       "不建议启用新模型")
        else:
            out.append(f"留出集负面F1 变化 {-self.heldout_drop:+.4f}（容许下降 {self.tolerance} 以内）")
        if fb_a["correct"] * 2 <= fb_a["n"]:
            out.append("警告：新模型仍判错半数以上反馈样本，反馈未被学到")
        elif fb_a["correct"] <= fb_b["correct"]:
            out.append(f"警告：反馈样本判对数未增加（{fb_b['correct']}→{fb_a['correct']}），反馈未被学到；"
                       "其他指标的变化可能只来自多训练的轮次")
        out.append(f"启用新模型：YUQING_MODEL_DIR={self.out_dir}")
        return "\n".join(out)


def current_model_dir() -> Path:
    """The model the pipeline uses now: ``YUQING_MODEL_DIR`` or the bundled default."""
    from sentiment.model import DEFAULT_MODEL_DIR

    return Path(os.environ.get("YUQING_MODEL_DIR") or DEFAULT_MODEL_DIR)


def train_with_feedback(*, database_url: str | None, models_root: Path, out: Path | None = None,
                        feedback_file: Path | None = None, epochs: int | None = None) -> FeedbackRun:
    """``yuqing train --with-feedback``: export the labels (or use ``feedback_file``), fine-tune, compare."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out or models_root / stamp
    base = current_model_dir()
    if not (base / "config.json").exists():
        raise FeedbackError(f"找不到当前模型 {base}（缺少 config.json），请先运行 yuqing train 或设置 YUQING_MODEL_DIR")
    if out_dir.resolve() == base.resolve():
        raise FeedbackError("新模型目录不能与当前模型相同，请用 --out 指定新目录")
    path = out_dir / "feedback.jsonl"
    if feedback_file is None:
        if not database_url:
            raise FeedbackError("未配置数据库，无法导出反馈标注；可用 --feedback-file 指定文件")
        from yuqing.db import make_engine, make_sessionmaker

        engine = make_engine(database_url)
        try:
            with make_sessionmaker(engine)() as session:
                export_feedback(session, path)
        finally:
            engine.dispose()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        if feedback_file.resolve() != path.resolve():
            path.write_bytes(feedback_file.read_bytes())
    return fine_tune_with_feedback(base_dir=base, feedback_path=path, out_dir=out_dir,
                                   epochs=epochs or 2)


FEEDBACK_SHARE = 0.05  # the feedback's share of the fine-tuning set, by repetition


def fine_tune_with_feedback(*, base_dir: Path, feedback_path: Path, out_dir: Path, corpus: Sequence | None = None,
                            heldout: Sequence | None = None, epochs: int = 2, lr: float = 3e-4,
                            repeat: int | None = None,
                            batch_size: int = 32, threads: int = 2, seed: int | None = None,
                            fit_blend: bool = True) -> FeedbackRun:
    """Fine-tune ``base_dir`` on the corpus train split plus the feedback (×``repeat``) into ``out_dir``.

    ``corpus`` and ``heldout`` default to the project's own; the corpus is split as in ``yuqing train`` and its
    test split is evaluated beside the held-out set and the feedback items, before and after. Metrics go to
    ``feedback_eval.json`` in ``out_dir``. The comparison is of the transformer alone; when ``fit_blend`` is on,
    ``sentiment.train`` also refits the blend (n-gram member included) in the new directory.
    """
    from sentiment.corpus import CorpusError, cross_duplicates, load_corpus, load_heldout, load_jsonl, split
    from sentiment.train import TrainConfig, train

    try:
        feedback = load_jsonl(feedback_path)
    except (OSError, CorpusError) as exc:
        raise FeedbackError(f"无法读取反馈文件：{exc}") from None
    if not feedback:
        raise FeedbackError(f"没有反馈标注可供训练（{feedback_path} 为空）：监测人员标记误报或人工立案/升级后才会产生")
    corpus = list(corpus) if corpus is not None else load_corpus()
    heldout = list(heldout) if heldout is not None else load_heldout()
    parts = split(corpus)
    test = parts["test"]
    if repeat is None:
        # Measured on a 30-label run: ×3 (1 % of the training set) did not move the model; aim for ~5 %.
        repeat = max(3, round(FEEDBACK_SHARE * len(parts["train"]) / len(feedback)))
    sets = {"heldout": heldout, "test": test, "feedback": feedback}
    run = FeedbackRun(base_dir=base_dir, out_dir=out_dir, feedback_file=feedback_path, feedback_count=len(feedback),
                      repeat=repeat, epochs=epochs)
    run.contaminated = len({b for _, b, _ in cross_duplicates([*heldout, *test], feedback)})
    run.before = {name: evaluate_model(base_dir, items, threads=threads) for name, items in sets.items() if items}
    base_cfg = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    cfg = TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, threads=threads, fit_blend=fit_blend,
                      extra_train=[str(feedback_path)] * repeat,
                      max_length=min(128, int(base_cfg.get("max_position_embeddings", 130)) - 2))
    if seed is not None:
        cfg.seed = seed
    train(out_dir, cfg, items=corpus, init_from=base_dir)
    run.after = {name: evaluate_model(out_dir, items, threads=threads) for name, items in sets.items() if items}
    (out_dir / "feedback_eval.json").write_text(json.dumps(run.to_json(), ensure_ascii=False, indent=1),
                                               encoding="utf-8")
    log.info("feedback fine-tune done", extra={"out_dir": str(out_dir), "regressed": run.regressed})
    return run


def evaluate_model(model_dir: Path, items: Sequence, *, threads: int | None = None) -> dict:
    """Polarity metrics of a model directory on labelled items, plus ``gold_prob`` (mean probability the model
    gives the gold label) and ``correct`` (how many it gets right)."""
    from sentiment.classifier import LABELS
    from sentiment.metrics import polarity_metrics
    from sentiment.model import SentimentModel

    positions = int(json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
                    .get("max_position_embeddings", 130))
    model = SentimentModel(model_dir, threads=threads, max_length=min(128, positions - 2))
    probs = model.encode([i.text for i in items]).polarity.tolist()
    predicted = [LABELS[max(range(3), key=lambda k: p[k])] for p in probs]
    gold = [i.polarity for i in items]
    m = polarity_metrics(gold, [p[0] for p in probs], predicted)
    m.pop("confusion", None)
    m["correct"] = sum(g == p for g, p in zip(gold, predicted, strict=True))
    m["gold_prob"] = round(sum(p[LABELS.index(g)] for p, g in zip(probs, gold, strict=True)) / max(1, len(gold)), 4)
    return m


# --- helpers ---------------------------------------------------------------------------------------------------

def _record(session: Session, *, story_id: int, alert_id: int | None, source: str, label: str,
            predicted: tuple[str, ...], about_bank: bool, user_login: str, reason: str,
            at: datetime) -> list[FeedbackLabel]:
    story_articles = select(Article.id).where(Article.story_id == story_id)
    opposite = MANUAL_RAISE if source == DISMISSAL else DISMISSAL
    retracted = session.execute(delete(FeedbackLabel).where(FeedbackLabel.source == opposite,
                                                            FeedbackLabel.article_id.in_(story_articles)))
    if retracted.rowcount:
        log.info("feedback labels retracted by a later judgement",
                 extra={"story_id": story_id, "source": opposite, "count": retracted.rowcount})
    rows = session.execute(
        select(Article, Classification).join(Classification, Classification.article_id == Article.id)
        .where(Article.story_id == story_id, Classification.label.in_(predicted)).order_by(Article.id)).all()
    if not rows:
        return []
    existing = set(session.scalars(select(FeedbackLabel.article_id).where(
        FeedbackLabel.source == source, FeedbackLabel.article_id.in_([a.id for a, _ in rows]))))
    added = []
    for article, cls in rows:
        text = passage_for(article)
        if article.id in existing or not text.strip():
            continue
        row = FeedbackLabel(article_id=article.id, story_id=story_id, alert_id=alert_id, source=source, label=label,
                            about_bank=about_bank, category=cls.category, text=text, predicted_label=cls.label,
                            negative_prob=float(cls.negative_prob), model=cls.model, labelled_by=user_login,
                            labelled_at=at, reason=reason)
        session.add(row)
        added.append(row)
    session.flush()
    return added


def _arrow(before: dict, after: dict, key: str) -> str:
    return f"{before[key]:.3f}→{after[key]:.3f}"
