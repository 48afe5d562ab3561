"""What the learned answerability model reads of the question's nearest sentence in the top routine, by meaning.

The calibration (`assist/calibration.json`, fitted by `scripts/train_answerability.py` on `eval_sets/train.jsonl`,
model card `docs/models/answerability.md`) is a logistic model over the grounding features and these: the cosines
of the question with the top routine's sentences (best, second, best over median, how many). A calibration may also
read the elementwise product and difference of the question's vector and its nearest sentence's (`--vector`); the
shipped one does not: it measured worse on routines held out of the training. Everything is computed from vectors
already at hand (the question's, the sentences' stored at ingest): no model is loaded, no text re-encoded.
"""

import numpy as np

#: The named features this module gives the calibration (FEATURES in assist/grounding.py lists them too).
SENTENCE_FEATURES = ("top_sentence_cosine", "top_second_cosine", "top_cosine_spread", "top_units")


def unit_length(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norms == 0, 1.0, norms)


def sentence_features(question: np.ndarray, units: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """The named features and the interaction vector ([q ⊙ s, |q − s|] of unit-length vectors, 2 × dim) of a
    question and the vectors of its top routine's sentences (rows); zeros when there are none."""
    q = unit_length(np.asarray(question, dtype=np.float64))
    if len(units) == 0:
        return dict.fromkeys(SENTENCE_FEATURES, 0.0), np.zeros(2 * len(q))
    u = unit_length(np.asarray(units, dtype=np.float64))
    cos = u @ q
    order = np.argsort(-cos, kind="stable")
    best = u[order[0]]
    named = {
        "top_sentence_cosine": float(cos[order[0]]),
        "top_second_cosine": float(cos[order[1]]) if len(order) > 1 else float(cos[order[0]]),
        "top_cosine_spread": float(cos[order[0]] - np.median(cos)),
        "top_units": float(len(cos)),
    }
    return named, np.hstack([q * best, np.abs(q - best)])
