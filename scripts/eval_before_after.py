"""Before/after figures by language pairing from `assist eval` runs' rows.jsonl, computed the same way for every run.

    .venv/bin/python scripts/eval_before_after.py before-dev RUN_A/rows.jsonl after-dev RUN_B/rows.jsonl ...

Writes JSON: for each labelled run, false refusals, refusal accuracy, citation precision, key fact in the first line
and the median lines of fact answers, for all rows, the original 299, the added ones, by language pairing and group.
"""

import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import frontmatter

from qa.metrics import answer_lines, first_line_has_key_fact, key_facts

ROOT = Path(__file__).resolve().parents[1]


def doc_languages():
    out = {}
    for p in (ROOT / "knowledge").glob("*/*"):
        if p.suffix == ".md":
            out[p.stem] = frontmatter.load(p).metadata.get("language", "sv")
        elif p.suffix in (".pdf", ".docx"):
            src = ROOT / "scripts/knowledge_src" / p.parent.name / f"{p.stem}.md"
            out[p.stem] = frontmatter.load(src).metadata.get("language", "sv")
        elif p.suffix == ".html":
            m = re.search(r'<html[^>]*lang="([a-z]+)', p.read_text("utf-8"))
            out[p.stem] = m.group(1) if m else "sv"
    return out


LANG = doc_languages()


def rows(run):
    return [json.loads(line) for line in Path(run).read_text("utf-8").splitlines() if line.strip()]


def pair(r):
    refs = r.get("reference_sources") or []
    docs = refs or (r.get("cited") or [])[:1] or (r.get("retrieved") or [])[:1]
    if not docs:
        return "same"
    return "same" if r["language"] in {LANG.get(d, "sv") for d in docs} else "differ"


def original(r):
    n = int(r["id"].split("-")[1])
    return n <= (126 if r["id"].startswith("dev") else 173)


def figures(rs, ref):
    ans = [r for r in rs if r["answerable"]]
    mr = [r for r in rs if not r["answerable"]]
    def st(r):
        return r.get("status") or ("refused" if r.get("refused") else "answered")
    fr = sum(st(r) != "answered" for r in ans) / len(ans) if ans else None
    ra = sum(st(r) != "answered" for r in mr) / len(mr) if mr else None
    cps = []
    for r in ans:
        if st(r) == "answered" and r.get("cited"):
            cps.append(sum(c in set(r["reference_sources"]) for c in r["cited"]) / len(r["cited"]))
    kf1 = [first_line_has_key_fact(ref[r["id"]], r["answer"], st(r)) for r in ans]
    kf1 = [x for x in kf1 if x is not None]
    lines = [answer_lines(r["answer"], "answered") for r in ans if st(r) == "answered" and key_facts(ref[r["id"]])]
    def f(x):
        return None if x is None else round(x, 3)
    return {
        "n": len(rs),
        "answerable": len(ans),
        "must_refuse": len(mr),
        "false_refusals": f(fr),
        "refusal_accuracy": f(ra),
        "citation_precision": f(sum(cps) / len(cps) if cps else None),
        "key_fact_first_line": f(sum(kf1) / len(kf1) if kf1 else None),
        "fact_lines_median": statistics.median(lines) if lines else None,
    }


def load_ref():
    ref = {}
    for s in ("dev", "test"):
        for line in (ROOT / f"eval_sets/{s}.jsonl").read_text("utf-8").splitlines():
            r = json.loads(line)
            ref[r["id"]] = r["reference_answer"]
    return ref


ref = load_ref()
out = {}
for label, run in zip(sys.argv[1::2], sys.argv[2::2], strict=False):
    rs = rows(run)
    groups = {
        "all": rs,
        "original rows": [r for r in rs if original(r)],
        "added rows": [r for r in rs if not original(r)],
        "same language": [r for r in rs if pair(r) == "same"],
        "languages differ": [r for r in rs if pair(r) == "differ"],
        "original, same language": [r for r in rs if original(r) and pair(r) == "same"],
        "original, languages differ": [r for r in rs if original(r) and pair(r) == "differ"],
        "sv+en questions": [r for r in rs if r["language"] in ("sv", "en")],
        "other languages": [r for r in rs if r["language"] not in ("sv", "en")],
        "original, sv+en": [r for r in rs if original(r) and r["language"] in ("sv", "en")],
        "original, other languages": [r for r in rs if original(r) and r["language"] not in ("sv", "en")],
    }
    out[label] = {g: figures(v, ref) for g, v in groups.items()}
print(json.dumps(out, indent=1))
