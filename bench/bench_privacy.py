"""Measures the personal-data scrub on names and addresses: recall on a seeded battery, false positives elsewhere.

The battery (tests/data/privacy_battery.jsonl) holds realistic staff questions with seeded Swedish and immigrant
names (full and given names, with and without cues, upper and lower case) and street addresses, plus name-free
questions. Its rows marked `held_out` were written after the detector and its name lists were built, and
never used to tune them; the others were written first, but the same hand then compiled data/names_extra.txt,
so their figures are optimistic (`without_names_extra` shows how far they rest on that list). A seeded name or
address counts as caught when none of its words is left in the scrubbed text.
False positives are words outside the seeded ones that a [NAMN] or [ADRESS] placeholder replaced: on the
battery's questions, on its name-free questions, and on every question of eval_sets/dev.jsonl and test.jsonl;
and, for text that is not a question, the routine sentences of knowledge/ that the scrub changes.

    .venv/bin/python bench/bench_privacy.py

Writes bench/results/privacy.json.
"""

import difflib
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import assist.privacy  # noqa: E402
from assist.privacy import PLACEHOLDERS, load_names, scrub  # noqa: E402

BATTERY = ROOT / "tests" / "data" / "privacy_battery.jsonl"
EVAL_SETS = [ROOT / "eval_sets" / "dev.jsonl", ROOT / "eval_sets" / "test.jsonl"]
WORD = re.compile(r"\[[A-Z-]+\]|[^\W_]+(?:[-'’][^\W_]+)*")
MARKS = {PLACEHOLDERS["name"], PLACEHOLDERS["address"]}


def replaced_words(original: str, scrubbed: str) -> list[str]:
    """Words of `original` that a name or address placeholder took the place of."""
    a, b = WORD.findall(original), WORD.findall(scrubbed)
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op in ("replace", "delete") and (op == "delete" or MARKS & set(b[j1:j2])):
            out.extend(a[i1:i2])
    return out


def caught(entity: str, scrubbed: str) -> bool:
    """None of the entity's words is left in the scrubbed text."""
    left = {w.lower() for w in WORD.findall(scrubbed)}
    words = [w.lower() for w in WORD.findall(entity)]
    letters = [w for w in words if not w.isdigit()] or words
    return not any(w in left for w in letters)


def measure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall per kind and origin, and false-positive words, over battery rows."""
    first, last = load_names()
    totals: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    missed: list[dict[str, str]] = []
    fp_words: list[str] = []
    free_fp: list[dict[str, Any]] = []
    for row in rows:
        out = scrub(row["text"]).text
        seeded = Counter(w.lower() for e in row["names"] + row["addresses"] for w in WORD.findall(e))
        wrong = [w for w in replaced_words(row["text"], out) if not seeded[w.lower()]]
        fp_words.extend(wrong)
        if row["origin"] == "none" and wrong:
            free_fp.append({"id": row["id"], "text": row["text"], "scrubbed": out})
        for kind, entities in (("names", row["names"]), ("addresses", row["addresses"])):
            for e in entities:
                listed = all(w.lower() in first | last for w in WORD.findall(e) if not w.isdigit())
                keys = [kind, f"{kind}:{row['origin']}"] + ([f"{kind}:in_lists" if listed else f"{kind}:not_in_lists"]
                                                           if kind == "names" else [])
                ok = caught(e, out)
                for k in keys:
                    totals[k] += 1
                    hits[k] += ok
                if not ok:
                    missed.append({"id": row["id"], "entity": e, "scrubbed": out})
    recall = {k: {"caught": hits[k], "of": totals[k], "recall": round(hits[k] / totals[k], 3)} for k in sorted(totals)}
    free = [r for r in rows if r["origin"] == "none"]
    return {
        "recall": recall,
        "false_positive_words_battery": len(fp_words),
        "false_positive_words_list": fp_words,
        "name_free_questions": len(free),
        "name_free_questions_changed": len(free_fp),
        "name_free_changed": free_fp,
        "missed": missed,
    }


def eval_false_positives(paths: list[Path]) -> dict[str, Any]:
    """Words that a name or address placeholder replaced in questions (and follow-up turns) with no personal data."""
    questions: list[tuple[str, str]] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            questions.append((row["id"], row["question"]))
            questions.extend((row["id"], t["content"]) for t in row.get("turns", []) if t.get("role") == "user")
    changed = []
    words = 0
    for qid, q in questions:
        out = scrub(q).text
        wrong = replaced_words(q, out)
        if wrong:
            words += len(wrong)
            changed.append({"id": qid, "question": q, "scrubbed": out, "words": wrong})
    return {"questions": len(questions), "words_wrongly_replaced": words, "questions_changed": changed}


def knowledge_sentences() -> dict[str, Any]:
    """Sentences of the routines in knowledge/ that the scrub changes (routines may name real authors and laws)."""
    from assist.text import sentences  # noqa: PLC0415
    from ingest.convert import convert  # noqa: PLC0415

    total = 0
    changed = []
    for path in sorted((ROOT / "knowledge").rglob("*")):
        if not path.is_file() or path.name.lower() == "readme.md" or path.suffix.lower() == ".toml":
            continue
        for page in convert(path, detect_language=False).pages:
            for sent in sentences(page.text):
                total += 1
                words = replaced_words(sent, scrub(sent).text)
                if words:
                    changed.append({"file": path.name, "words": words})
    return {"sentences": total, "changed": len(changed), "details": changed}


def load_battery(path: Path = BATTERY) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    from bench.common import write_result  # noqa: PLC0415

    rows = load_battery()
    started = time.perf_counter()
    result = measure(rows)
    # Rows marked held_out were written after the detector was built and never used to tune it.
    result["held_out"] = measure([r for r in rows if r.get("held_out")])
    result["tuned_on"] = {k: v for k, v in measure([r for r in rows if not r.get("held_out")]).items()
                          if k in ("recall", "false_positive_words_battery", "name_free_questions_changed")}
    result["eval_sets"] = eval_false_positives(EVAL_SETS)
    result["knowledge_sentences"] = knowledge_sentences()
    # The same battery with Faker's lists alone: how much rests on data/names_extra.txt, which was compiled by the
    # same hand as the battery.
    assist.privacy.load_names = lambda: load_names(extra=False)  # type: ignore[assignment,misc]
    ablated = measure(rows)
    assist.privacy.load_names = load_names
    result["without_names_extra"] = {"recall": ablated["recall"], "missed": ablated["missed"]}
    texts = [r["text"] for r in rows]
    t0 = time.perf_counter()
    for _ in range(5):
        for t in texts:
            scrub(t)
    result["scrub_ms_per_question"] = round((time.perf_counter() - t0) * 1000 / (5 * len(texts)), 3)
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["battery"] = {
        "rows": len(rows),
        "names": sum(len(r["names"]) for r in rows),
        "addresses": sum(len(r["addresses"]) for r in rows),
    }
    path = write_result("privacy", result)
    r = result["recall"]
    print(  # noqa: T201
        f"held-out: names {result['held_out']['recall']['names']['recall']}, addresses "
        f"{result['held_out']['recall']['addresses']['recall']}; all: "
        f"names {r['names']['recall']} ({r['names']['caught']}/{r['names']['of']}), "
        f"addresses {r['addresses']['recall']} ({r['addresses']['caught']}/{r['addresses']['of']}), "
        f"FP words battery {result['false_positive_words_battery']}, name-free changed "
        f"{result['name_free_questions_changed']}/{result['name_free_questions']}, eval FP words "
        f"{result['eval_sets']['words_wrongly_replaced']} over {result['eval_sets']['questions']} questions; "
        f"names without names_extra.txt {result['without_names_extra']['recall']['names']['recall']} → {path}"
    )


if __name__ == "__main__":
    main()
