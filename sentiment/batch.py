"""``yuqing classify``: JSONL in, JSONL out, one bad line never stops the rest.

Each output line is ``{"id", "label", "negative_prob", "category", "risk"}`` where ``risk`` is the 0–100 score the
text would get as a lone social post about an outlet (no spread yet): a triage number, not a story's risk.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sentiment.classifier import Classifier
from sentiment.risk import ArticleFacts, RiskConfig, StoryFacts, score_story

log = logging.getLogger("sentiment.batch")
MAX_TEXT_CHARS = 1_000_000
BATCH = 64


def classify_jsonl(input_path: Path, output_path: Path, *, classifier: Classifier | None = None,
                   errors=sys.stderr) -> dict:
    """Classify every valid line; report each invalid one on ``errors`` with its line number."""
    from sentiment.rules import RuleBasedClassifier

    clf = classifier or RuleBasedClassifier()
    ok = bad = 0
    with output_path.open("w", encoding="utf-8") as out:
        batch: list[tuple[object, str]] = []
        for lineno, item, err in _read_lines(input_path):
            if err:
                bad += 1
                print(f"{input_path}:{lineno}: {err}", file=errors)
                continue
            batch.append(item)
            if len(batch) >= BATCH:
                ok += _flush(clf, batch, out)
                batch = []
        ok += _flush(clf, batch, out)
    return {"ok": ok, "errors": bad, "model": clf.name}


def _read_lines(path: Path) -> Iterator[tuple[int, tuple[object, str] | None, str | None]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield lineno, None, "line is not valid UTF-8"
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, None, f"invalid JSON ({exc.msg})"
                continue
            if not isinstance(obj, dict) or "id" not in obj or "text" not in obj:
                yield lineno, None, 'expected an object with "id" and "text"'
                continue
            if not isinstance(obj["text"], str):
                yield lineno, None, '"text" must be a string'
                continue
            text = obj["text"]
            if len(text) > MAX_TEXT_CHARS:
                yield lineno, None, f'"text" longer than {MAX_TEXT_CHARS} characters'
                continue
            yield lineno, (obj["id"], text), None


def _flush(clf: Classifier, batch: list[tuple[object, str]], out) -> int:
    if not batch:
        return 0
    preds = clf.predict([t for _, t in batch])
    now = datetime.now(UTC)
    cfg = RiskConfig()
    for (item_id, _), p in zip(batch, preds, strict=True):
        facts = StoryFacts([ArticleFacts(now, "social", "social", p.label, p.negative_prob, p.category)],
                           unit_kind="outlet", now=now)
        risk = score_story(facts, cfg).score
        out.write(json.dumps({"id": item_id, "label": p.label, "negative_prob": p.negative_prob,
                              "category": p.category, "risk": risk}, ensure_ascii=False) + "\n")
    return len(batch)
