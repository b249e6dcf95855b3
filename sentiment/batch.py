"""``yuqing classify``: JSONL in, JSONL out, one bad line never stops the rest.

Each output line is ``{"id", "label", "negative_prob", "category", "risk"}`` where ``risk`` is the 0–100 score the
text would get as a lone social post about an outlet (no spread yet): a triage number, not a story's risk.

The classifier is the best one available (``choose_classifier``): the blend of transformer, lexicon and rules when
the model directory has a fitted ``blend.json``, else the transformer; the rule baseline only when asked
(``--rules``) or when there is no model directory — and then it says so on stderr. Lines are read in chunks and
handed to the classifier whole, so the model's own batching (length-sorted, dynamic padding) does the work. A
long text is judged by its passages about a bank, not by its opening characters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, TextIO

from sentiment.classifier import Classifier
from sentiment.passages import passages_about
from sentiment.risk import ArticleFacts, RiskConfig, StoryFacts, score_story
from sentiment.rules import calming_and_risk_words
from yuqing.text import repair

log = logging.getLogger("sentiment.batch")
MAX_TEXT_CHARS = 1_000_000
CHUNK_TEXTS = 1024  # texts handed to the classifier at once (it batches and length-sorts inside)
CHUNK_CHARS = 2_000_000  # …or fewer, so a file of long texts does not hold gigabytes in memory
LONG_TEXT_CHARS = 512  # longer texts are reduced to their passages about a bank
PASSAGE_WINDOW = 8000  # characters around the first bank term searched for passages (bounds the work)
# Generic words that put a sentence about a bank, for texts that come without their matched keyword terms.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
BANK_TERMS = ["银行", "支行", "分行", "网点", "营业厅", "柜台", "柜员", "大堂经理", "客户经理", "客服", "信用卡",
              "储蓄卡", "借记卡", "贷款", "房贷", "理财", "存款", "取款", "取钱", "转账", "ATM", "手机银行", "App"]


def resolve_model_dir(model_dir: Path | str | None = None) -> Path:
    """``model_dir``, else ``YUQING_MODEL_DIR``, else the bundled model's directory (which may not exist)."""
    from sentiment.model_dir import DEFAULT_MODEL_DIR

    return Path(model_dir or os.environ.get("YUQING_MODEL_DIR") or DEFAULT_MODEL_DIR)


def choose_classifier(model_dir: Path | str | None = None, *, rules: bool = False,
                      errors: TextIO | None = None) -> Classifier:
    """The best available classifier: blend > transformer; the rules only if asked or if there is no model.

    Which one and why is said on ``errors`` (default stderr) whenever it is not the model. A model directory
    that exists but cannot be loaded raises (a broken model is never silently replaced).
    """
    from sentiment.rules import RuleBasedClassifier

    errors = errors or sys.stderr

    if rules:
        print("使用规则基线 using the rule-based baseline (rules-v0), as asked (--rules)", file=errors)
        return RuleBasedClassifier()
    directory = resolve_model_dir(model_dir)
    if not (directory / "config.json").exists():
        print(f"警告 warning: 未找到模型 no model at {directory} (config.json missing); 改用规则基线 falling back "
              "to the rule-based baseline rules-v0 — run `yuqing train`, pass --model or set YUQING_MODEL_DIR",
              file=errors)
        return RuleBasedClassifier()
    from yuqing.settings import load_settings

    settings = load_settings()
    model = None
    if settings.sentiment_backend == "onnx":
        # With a cached export and a blend, nothing below imports torch: the process stays small.
        from sentiment.onnx_runtime import OnnxSentimentModel

        try:
            model = OnnxSentimentModel(directory, onnx_path=onnx_cache_path(directory, settings.cache_dir))
        except Exception as exc:  # any export or runtime failure: the torch path still works
            print(f"警告 warning: ONNX Runtime 不可用 cannot run {directory} on ONNX Runtime ({exc!r}); "
                  "改用 torch falling back to torch (YUQING_SENTIMENT_BACKEND=torch silences this)", file=errors)
    if model is None:
        from sentiment.model import SentimentModel

        model = SentimentModel(directory)
    from sentiment.blend import BlendedClassifier

    if BlendedClassifier.available(directory):
        return BlendedClassifier(model)
    from sentiment.model import TransformerClassifier

    return TransformerClassifier(model)


def onnx_cache_path(model_dir: Path, cache_dir: Path) -> Path:
    """Where a model's ONNX export lives: named by a hash of the files it is exported from, under the cache dir.

    Content, not modification times, decides whether an export is current (a git checkout resets mtimes), and
    every process and data dir that runs the same weights shares one export; the weights directory stays
    read-only.
    """
    from sentiment.onnx_runtime import WEIGHT_FILES

    digest = hashlib.sha256()
    for name in ("config.json", "aux_heads.json", *WEIGHT_FILES):
        path = model_dir / name
        if path.exists():
            digest.update(name.encode() + b"\0")
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return cache_dir / "onnx" / f"{model_dir.name}-{digest.hexdigest()[:16]}.onnx"


def text_for_model(text: str) -> str:
    """Short texts as they are; a long one reduced to (at most 512 characters of) its passages about a bank."""
    if len(text) <= LONG_TEXT_CHARS:
        return text
    hits = [i for i in (text.find(t) for t in BANK_TERMS) if i >= 0]
    start = max(0, min(hits) - PASSAGE_WINDOW // 4) if hits else 0
    return passages_about("", text[start:start + PASSAGE_WINDOW], BANK_TERMS, max_chars=LONG_TEXT_CHARS)


class _Line(NamedTuple):
    lineno: int
    item_id: object
    text: str


def classify_jsonl(input_path: Path, output_path: Path, *, classifier: Classifier | None = None,
                   errors: TextIO | None = None, plain_lines: bool = False) -> dict:
    """Classify every valid line; report each invalid one on ``errors`` with its line number.

    ``plain_lines``: the input is plain text, one text per line (a file pasted from a spreadsheet or a chat
    export), not JSONL; each text's id is its line number. Blank lines are skipped, as in JSONL.

    ``classifier`` defaults to the rule baseline (a library default that needs no model files); the CLI passes
    ``choose_classifier()``. Returns ``{"ok", "errors", "model"}``.

    Hostile input never costs the other lines: a text with lone surrogates or control characters is repaired
    (``yuqing.text``; noted on ``errors``) and classified; an ``id`` is written back exactly as it was read (a lone
    surrogate in it is kept as a ``\\uXXXX`` escape, so the output stays valid UTF-8 and still joins on the id);
    and a chunk the classifier fails on is split until the one failing line is found and reported.
    """
    from sentiment.rules import RuleBasedClassifier

    clf = classifier or RuleBasedClassifier()
    errors = errors or sys.stderr
    ok = bad = 0

    def flush(lines: list[_Line]) -> None:
        nonlocal ok, bad
        written, failed = _flush(clf, lines, out)
        ok += written
        bad += len(failed)
        for line, exc in failed:
            print(f"{input_path}:{line.lineno}: could not classify this text ({type(exc).__name__}: {exc})",
                  file=errors)

    with output_path.open("w", encoding="utf-8") as out:
        batch: list[_Line] = []
        chars = 0
        for lineno, item, err in _read_lines(input_path, plain_lines=plain_lines):
            if err:
                bad += 1
                print(f"{input_path}:{lineno}: {err}", file=errors)
                continue
            assert item is not None
            item_id, raw = item
            fixed = repair(raw)
            if fixed.changed:
                print(f"{input_path}:{lineno}: note: repaired invalid characters in \"text\" (lone surrogates, "
                      "NUL or other control characters); classified the repaired text", file=errors)
            text = text_for_model(fixed.text)
            batch.append(_Line(lineno, item_id, text))
            chars += len(text)
            if len(batch) >= CHUNK_TEXTS or chars >= CHUNK_CHARS:
                flush(batch)
                batch, chars = [], 0
        flush(batch)
    return {"ok": ok, "errors": bad, "model": clf.name}

def _read_lines(path: Path, *, plain_lines: bool = False) -> Iterator[tuple[int, tuple[object, str] | None,
                                                                            str | None]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield lineno, None, "line is not valid UTF-8"
                continue
            if lineno == 1:
                line = line.removeprefix("\ufeff")  # a byte-order mark from Windows editors is not text
            if not line.strip():
                continue
            if plain_lines:
                text = line.rstrip("\r\n")
                if len(text) > MAX_TEXT_CHARS:
                    yield lineno, None, f"line longer than {MAX_TEXT_CHARS} characters"
                else:
                    yield lineno, (lineno, text), None
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, None, f"invalid JSON ({exc.msg})"
                continue
            except RecursionError:
                yield lineno, None, "invalid JSON (nested too deeply)"
                continue
            if not isinstance(obj, dict) or "id" not in obj or "text" not in obj:
                yield lineno, None, 'expected an object with "id" and "text"'
                continue
            if isinstance(obj["id"], bool) or not isinstance(obj["id"], str | int):
                yield lineno, None, f'"id" must be a string or an integer, not {_json_type(obj["id"])}'
                continue
            if not isinstance(obj["text"], str):
                yield lineno, None, '"text" must be a string'
                continue
            text = obj["text"]
            if len(text) > MAX_TEXT_CHARS:
                yield lineno, None, f'"text" longer than {MAX_TEXT_CHARS} characters'
                continue
            yield lineno, (obj["id"], text), None


def _flush(clf: Classifier, batch: list[_Line], out: TextIO) -> tuple[int, list[tuple[_Line, Exception]]]:
    """Classify and write ``batch``; returns (lines written, lines that failed with why). A chunk the classifier
    raises on is halved until the failing lines are isolated, so one text can only ever lose itself."""
    if not batch:
        return 0, []
    try:
        preds = clf.predict([line.text for line in batch])
    except Exception as exc:  # a text the model cannot take: find it, keep the rest
        if len(batch) == 1:
            log.debug("classify: line %d failed", batch[0].lineno, exc_info=True)
            return 0, [(batch[0], exc)]
        half = len(batch) // 2
        written, failed = _flush(clf, batch[:half], out)
        more, failed_more = _flush(clf, batch[half:], out)
        return written + more, failed + failed_more
    now = datetime.now(UTC)
    cfg = RiskConfig()
    for line, p in zip(batch, preds, strict=True):
        calming, risk_words, terms = calming_and_risk_words(line.text)
        facts = StoryFacts([ArticleFacts(now, "social", "social", p.label, p.negative_prob, p.category,
                                         calming=calming, risk_words=risk_words, risk_terms=terms)],
                           unit_kind="outlet", now=now)
        risk = score_story(facts, cfg).score
        out.write(_json_line({"id": line.item_id, "label": p.label, "negative_prob": p.negative_prob,
                              "category": p.category, "risk": risk}))
    return len(batch), []


def _json_line(obj: dict) -> str:
    """One JSONL line, non-ASCII text as UTF-8; a lone surrogate (only an ``id`` can hold one) as its escape."""
    line = json.dumps(obj, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", line) + "\n"


def _json_type(value: object) -> str:
    return {bool: "a boolean", type(None): "null", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__)
