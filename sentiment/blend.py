"""A calibrated blend of the transformer with a sentiment lexicon and bank cue rules.

Small transformers trained on a few thousand texts rank well on what they saw and miss idioms they never met;
a general-purpose lexicon model (snownlp, trained on other Chinese reviews) and our bank cue rules (negation,
questions, official notices) fail in different places. A multinomial logistic regression over their outputs —
fitted on the dev split, never on test or held-out — combines them and yields calibrated probabilities.
``yuqing evaluate`` reports each part alone and the blend, so every part's contribution is measured.

Features per text: the transformer's three log-probabilities, the character n-gram model's three
log-probabilities (``sentiment.ngram``), logit of the rules' negative probability, and logit of snownlp's
negative probability (1 − sentiment score); and, when the model directory keeps the corpus-only n-gram model beside
a main one retrained on public data (``ngram_corpus.npz``), that model's three log-probabilities too — the blend
then learns to trust each where it measures better. Optionally (``context`` features, fitted only when asked:
``yuqing train --blend-context``) two facts about the text itself: the logit of the transformer's about-a-bank head
and the log of the text's length — how far to trust each part differs between a short bank comment and a long
review, and the parts alone cannot say which they are reading. A text with nothing to read (empty, whitespace,
emoji only) is neutral by definition rather than whatever the features of an empty string happen to say.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentiment.arrays import softmax
from sentiment.classifier import LABELS, Prediction
from sentiment.ngram import BANK_NGRAM_STEM, CORPUS_NGRAM_STEM, NGRAM_WEIGHTS, load_ngram, ngrams
from sentiment.rules import RuleBasedClassifier
from sentiment.textnorm import normalise_text

if TYPE_CHECKING:
    from sentiment.model import SentimentModel
    from sentiment.onnx_runtime import OnnxSentimentModel

BLEND_FILE = "blend.json"
FEATURES = ("transformer_negative", "transformer_neutral", "transformer_positive", "ngram_negative",
            "ngram_neutral", "ngram_positive", "rules_negative", "snownlp_negative")
CORPUS_NGRAM_FEATURES = ("corpus_ngram_negative", "corpus_ngram_neutral", "corpus_ngram_positive")
ALL_FEATURES = FEATURES + CORPUS_NGRAM_FEATURES
CONTEXT_FEATURES = ("about_bank", "log_length")
# The bank n-gram model's (``ngram_bank.npz``: corpus + public bank & finance text), only beside the corpus-only one.
BANK_NGRAM_FEATURES = ("bank_ngram_negative", "bank_ngram_neutral", "bank_ngram_positive")


def feature_names(n_columns: int) -> tuple[str, ...]:
    """The names of a feature matrix's columns, from its width: the base features, the corpus-only n-gram model's
    when present, then the context features when present (``BlendedClassifier.features`` lays them out so)."""
    for names in (FEATURES, ALL_FEATURES, FEATURES + CONTEXT_FEATURES, ALL_FEATURES + CONTEXT_FEATURES,
                  ALL_FEATURES + BANK_NGRAM_FEATURES, ALL_FEATURES + BANK_NGRAM_FEATURES + CONTEXT_FEATURES):
        if len(names) == n_columns:
            return names
    if n_columns < len(FEATURES):
        return FEATURES[:n_columns]
    raise ValueError(f"no blend feature layout has {n_columns} columns")


def _logit(p: float) -> float:
    p = min(1 - 1e-4, max(1e-4, p))
    return math.log(p / (1 - p))


def snownlp_negative(texts: Sequence[str]) -> list[float]:
    from sentiment.baselines import SnowNLPClassifier

    snow = SnowNLPClassifier()
    out = []
    for t in texts:
        s = snow.score(t)
        out.append(0.5 if s is None else 1.0 - s)
    return out


def has_content(text: str) -> bool:
    """Whether a text has anything to read: a letter, digit or CJK character, or a symbol such as an emoji or a
    kaomoji's parts ("😡😭", "(╯°□°）╯︵ ┻━┻" say something); punctuation alone ("……", "？？？") does not."""
    return any(ch.isalnum() or unicodedata.category(ch) == "So" for ch in normalise_text(text))


@dataclass
class _Encoded:
    polarity: np.ndarray  # [n, 3] in LABELS order
    category: np.ndarray | None  # [n, n_categories]
    about: np.ndarray | None = None  # [n] probability the text is about a bank


def _encode(model: SentimentModel | OnnxSentimentModel, texts: Sequence[str]) -> _Encoded:
    """The transformer's outputs as NumPy: ONNX Runtime's directly (no torch), torch's converted."""
    encode_numpy = getattr(model, "encode_numpy", None)
    if encode_numpy is not None:
        out = encode_numpy(texts)
        return _Encoded(out.polarity, out.category, out.about)
    raw = model.encode(texts)
    return _Encoded(raw.polarity.numpy(), None if raw.category is None else raw.category.numpy(),
                    None if raw.about is None else raw.about.numpy())


class BlendedClassifier:
    """Transformer + lexicon + rules, blended by a fitted logistic regression stored as ``blend.json``.

    Everything past the transformer is NumPy, so with the ONNX Runtime backend no torch is loaded at all.
    """

    def __init__(self, model: SentimentModel | OnnxSentimentModel, weights: dict | None = None):
        self.model = model
        self.ngram = load_ngram(model.model_dir)
        if self.ngram is None:
            raise FileNotFoundError(f"{model.model_dir}: {NGRAM_WEIGHTS} missing; run `yuqing train`")
        self.corpus_ngram = load_ngram(model.model_dir, stem=CORPUS_NGRAM_STEM)
        self.bank_ngram = load_ngram(model.model_dir, stem=BANK_NGRAM_STEM) if self.corpus_ngram else None
        self.rules = RuleBasedClassifier()
        path = model.model_dir / BLEND_FILE
        self.weights = weights if weights is not None else json.loads(path.read_text(encoding="utf-8"))
        if (set(self.weights.get("features", ())) & set(CORPUS_NGRAM_FEATURES)) and self.corpus_ngram is None:
            raise FileNotFoundError(f"{model.model_dir}: the blend reads {CORPUS_NGRAM_STEM}.npz, which is missing")
        if (set(self.weights.get("features", ())) & set(BANK_NGRAM_FEATURES)) and self.bank_ngram is None:
            raise FileNotFoundError(f"{model.model_dir}: the blend reads {BANK_NGRAM_STEM}.npz (beside "
                                    f"{CORPUS_NGRAM_STEM}.npz), which is missing")
        self.name = f"blend:{model.name}"

    @classmethod
    def available(cls, model_dir: Path) -> bool:
        return (model_dir / BLEND_FILE).exists()

    def features(self, texts: Sequence[str], *, all_features: bool = False, context: bool = False
                 ) -> tuple[np.ndarray, list[Prediction], _Encoded]:
        """Feature rows [n, len(FEATURES)] — [n, len(ALL_FEATURES)] when the corpus-only n-gram model is read (the
        fitted blend uses it, or ``all_features`` and the directory has it), followed by the two
        ``CONTEXT_FEATURES`` when the fitted blend uses them or ``context`` (``feature_names`` names the columns);
        snownlp (slow, pure Python) only when the fitted blend uses it."""
        enc = _encode(self.model, texts)
        grams = [ngrams(t) for t in texts]  # counted once for every n-gram model below (all count 1- to 3-grams)
        ngram = self.ngram.probabilities(list(texts), grams)
        rules = self.rules.predict(texts)
        use_snow = all_features or "snownlp_negative" in self.weights.get("used", FEATURES)
        snow = snownlp_negative(texts) if use_snow else [0.5] * len(texts)
        names = self.weights.get("features", FEATURES)
        use_corpus = self.corpus_ngram is not None and (all_features or CORPUS_NGRAM_FEATURES[0] in names)
        use_context = context or CONTEXT_FEATURES[0] in names
        use_bank = use_corpus and self.bank_ngram is not None and (all_features or BANK_NGRAM_FEATURES[0] in names)
        base = len(ALL_FEATURES if use_corpus else FEATURES) + (len(BANK_NGRAM_FEATURES) if use_bank else 0)
        x = np.empty((len(texts), base + (len(CONTEXT_FEATURES) if use_context else 0)), dtype=np.float32)
        x[:, 0:3] = np.log(np.clip(enc.polarity, 1e-6, None))
        x[:, 3:6] = np.log(np.clip(ngram, 1e-6, None))
        x[:, 6] = [_logit(r.negative_prob) for r in rules]
        x[:, 7] = [_logit(p) for p in snow]
        if use_corpus:
            assert self.corpus_ngram is not None
            x[:, 8:11] = np.log(np.clip(self.corpus_ngram.probabilities(list(texts), grams), 1e-6, None))
        if use_bank:
            assert self.bank_ngram is not None
            x[:, 11:14] = np.log(np.clip(self.bank_ngram.probabilities(list(texts), grams), 1e-6, None))
        if use_context:
            # A model directory without the about-a-bank head gives 0 (p = 0.5) for every text: no information.
            about = enc.about if enc.about is not None else np.full(len(texts), 0.5, dtype=np.float32)
            x[:, base] = [_logit(float(p)) for p in about]
            x[:, base + 1] = np.log1p([len(t) for t in texts])
        return x, rules, enc

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        x, rules, enc = self.features(texts)
        probs = blend_probabilities(x, self.weights)
        out = []
        for i in range(len(texts)):
            if not has_content(texts[i]):
                out.append(Prediction("neutral", 0.0, "other", ()))
                continue
            p = probs[i].tolist()
            label = LABELS[max(range(3), key=lambda k: p[k])]
            category = rules[i].category
            if enc.category is not None:
                learned = self.model.categories[int(enc.category[i].argmax())]
                # The category head learned from the project's corpus only; when it knows nothing ("other") and
                # a cue word names a category (限制取现 → 存取款受限), the cue is better than nothing.
                if learned != "other" or category == "other":
                    category = learned
            out.append(Prediction(label, round(p[0], 4), category, rules[i].cues))
        return out


def blend_probabilities(x: np.ndarray, weights: dict) -> np.ndarray:
    """[n, 3] probabilities: softmax of the standardised features through the fitted linear map."""
    mean = np.asarray(weights["mean"], dtype=np.float32)
    std = np.asarray(weights["std"], dtype=np.float32)
    w = np.asarray(weights["coef"], dtype=np.float32)  # [3, n_features]
    b = np.asarray(weights["intercept"], dtype=np.float32)  # [3]
    return softmax(((np.asarray(x, dtype=np.float32) - mean) / std) @ w.T + b)


def fit_blend(x: np.ndarray, y: Sequence[str], *, l2: float = 1e-2, features: Sequence[int] | None = None,
              negative_only: Sequence[bool] | None = None, groups: Sequence[str] | None = None,
              group_weights: dict[str, float] | None = None) -> dict:
    """Fit a multinomial logistic regression (L-BFGS, L2) on features ``x`` [n, f] and gold labels ``y``.

    ``features`` selects columns (others get zero weight), so ablations use the same code path.
    ``negative_only`` flags rows whose label says only negative vs not negative (``ngram_train.polarity_loss``).
    ``groups`` names each row's source: every source then weighs the same in the fit, so 5,000 product reviews
    do not decide alone how much the blend trusts each part on 900 bank posts (the same rule as model selection).
    ``group_weights`` scales a group's share (default 1 each): ``{"corpus": 12}`` makes the project's corpus weigh
    as much as twelve public sources.
    """
    import torch

    from sentiment.ngram_train import polarity_loss

    torch.manual_seed(0)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    cols = list(range(xt.shape[1])) if features is None else list(features)
    mask = torch.zeros(xt.shape[1])
    mask[cols] = 1.0
    mean, std = xt.mean(0), xt.std(0).clamp_min(1e-6)
    xs = (xt - mean) / std * mask
    target = torch.tensor([LABELS.index(v) for v in y])
    partial = torch.tensor(list(negative_only)) if negative_only is not None and any(negative_only) else None
    weight = None
    if groups is not None and len(set(groups)) > 1:
        counts = {g: 0 for g in groups}
        for g in groups:
            counts[g] += 1
        share = group_weights or {}
        weight = torch.tensor([share.get(g, 1.0) / counts[g] for g in groups])
    w = torch.zeros(3, xt.shape[1], requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = xs @ (w * mask).T + b
        fit = polarity_loss(logits, target, partial, weight)
        loss = fit + l2 * (w * mask).pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    names = feature_names(xt.shape[1])
    return {"features": list(names), "used": [names[c] for c in cols], "mean": mean.tolist(),
            "std": std.tolist(), "coef": (w * mask).detach().tolist(), "intercept": b.detach().tolist(), "l2": l2}


ABLATIONS = {
    "transformer": [0, 1, 2],
    "ngram": [3, 4, 5],
    "rules": [6],
    "snownlp": [7],
    "transformer+ngram": [0, 1, 2, 3, 4, 5],
    "transformer+ngram+rules": [0, 1, 2, 3, 4, 5, 6],
    "transformer+ngram+snownlp": [0, 1, 2, 3, 4, 5, 7],
    "blend": [0, 1, 2, 3, 4, 5, 6, 7],
}
# Only when the model directory keeps the corpus-only n-gram model (ngram_corpus.npz) beside the main one.
CORPUS_ABLATIONS = {
    "corpus_ngram": [8, 9, 10],
    "transformer+ngram+corpus_ngram+rules": [0, 1, 2, 3, 4, 5, 6, 8, 9, 10],
}


DEPLOYED = "transformer+ngram+rules"  # snownlp adds little and costs most of the time; see metrics.json
DEPLOYED_WITH_CORPUS_NGRAM = "transformer+ngram+corpus_ngram+rules"


def fit_model_blend(model_dir: Path, deployed: str = DEPLOYED, *, extra_dev: Sequence = (),
                    corpus_weight: float = 1.0, context: bool = False) -> dict:
    """Fit the blend on the dev split, write ``blend.json``, and measure every part on the corpus test split.

    Never on the authored held-out set: a training run that printed each part's held-out figure would invite
    choosing parts or weights by it, and then the set would no longer measure a new writer. The finished model is
    measured there by ``yuqing evaluate --data heldout``.

    ``extra_dev``: more dev texts to fit on (the public data's dev split); never its held-out split.
    ``corpus_weight``: how many public sources the project's corpus weighs as in the fit (``fit_blend``).
    ``context``: also fit on the ``CONTEXT_FEATURES`` and deploy that blend (needs the corpus-only n-gram model).
    A bank n-gram model in the directory (``ngram_bank.npz``, beside the corpus-only one) is blended too.

    Returns ``{ablation: {split: metrics}}``: each row is a logistic regression over that subset of features,
    fitted on dev the same way, so the contribution of each part is read off one table.
    """
    from sentiment.corpus import load_corpus, split
    from sentiment.metrics import polarity_metrics
    from sentiment.model import SentimentModel

    parts = split(load_corpus())
    sets = {"dev": list(parts["dev"]) + list(extra_dev), "test": parts["test"]}
    public_sources = {i.source for i in extra_dev}
    clf = BlendedClassifier(SentimentModel(model_dir), weights={})
    if context and clf.corpus_ngram is None:
        raise ValueError(f"{model_dir}: the context features are blended beside the corpus-only n-gram model, "
                         f"which is missing ({CORPUS_NGRAM_STEM}.npz)")
    feats = {name: clf.features([i.text for i in items], all_features=True, context=context)[0]
             for name, items in sets.items()}
    gold = {name: [i.polarity for i in items] for name, items in sets.items()}
    report: dict[str, dict] = {}
    chosen = None
    ablations = dict(ABLATIONS)
    if clf.corpus_ngram is not None:
        ablations |= CORPUS_ABLATIONS
        if deployed == DEPLOYED:
            deployed = DEPLOYED_WITH_CORPUS_NGRAM
    names = feature_names(feats["dev"].shape[1])
    if clf.bank_ngram is not None or context:
        # the deployed blend over every part present, named by its parts; its columns looked up by name
        parts_used = list(FEATURES[:7]) + list(CORPUS_NGRAM_FEATURES)
        deployed = "transformer+ngram+corpus_ngram"
        if clf.bank_ngram is not None:
            parts_used += BANK_NGRAM_FEATURES
            deployed += "+bank_ngram"
        deployed += "+rules"
        if context:
            parts_used += CONTEXT_FEATURES
            deployed += "+context"
        ablations[deployed] = [names.index(n) for n in parts_used]
    for name, cols in ablations.items():
        weights = fit_blend(feats["dev"], gold["dev"], features=cols,
                            negative_only=[i.negative_only for i in sets["dev"]],
                            groups=[i.source if i.source in public_sources else "corpus" for i in sets["dev"]],
                            group_weights={"corpus": corpus_weight})
        report[name] = {}
        for split_name in ("test",):
            probs = blend_probabilities(feats[split_name], weights)
            pred = [LABELS[int(k)] for k in probs.argmax(-1)]
            m = polarity_metrics(gold[split_name], probs[:, 0].tolist(), pred)
            report[name][split_name] = {k: v for k, v in m.items() if k != "confusion"}
        if name == deployed:
            chosen = weights
    (model_dir / BLEND_FILE).write_text(json.dumps(chosen | {"ablation": deployed, "corpus_weight": corpus_weight},
                                                   indent=1), encoding="utf-8")
    return report
