"""Measures `assist gaps --json` over 10,000 stored questions: wall time and peak memory, and how well the topics
match the planted ones.

The questions are written from templates: per collection six topics (things the sample routines do not cover),
each in four phrasings, each with one of twenty context phrases ("for a client with dementia", "on a Sunday", ...),
so 1,920 distinct texts; the 10,000 rows reuse them with times spread over twelve weeks and a mix of refused,
closest and rated-down answers. They are embedded once here with the configured embedder (as the service's first
`assist gaps` would) and stored in a fresh SQLite database; then `assist gaps --json` runs in its own process,
twice: with the rows over four collections (the usual case, clustered directly), and with all of them in one
collection (past MAX_DIRECT, so a sample is clustered and the rest join it); and once over an empty database, for
the command's own start. Peak memory is the child process's maximum resident set.

    .venv/bin/python bench/bench_gaps.py [--rows 10000]

Writes bench/results/gaps.json.
"""

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from assist.settings import Settings  # noqa: E402
from bench.common import machine, write_result  # noqa: E402
from owners.gaps import make_embedder  # noqa: E402
from serving.state import Database  # noqa: E402
from serving.state.models import Question  # noqa: E402

TOPICS: dict[str, list[list[str]]] = {
    "home_care": [
        ["Hur bokar jag tvättstugan åt brukaren", "Var bokar man tvättstuga i brukarens hus",
         "Hur gör jag för att boka tvättstugan", "Kan jag boka en tid i tvättstugan åt brukaren"],
        ["Var får jag parkera bilen vid hembesök", "Vem betalar parkeringsavgiften vid hembesök",
         "Får hemtjänsten parkera på gatan utanför brukaren", "Hur får jag parkeringstillstånd för hemtjänstbilen"],
        ["Vad gör jag om brukarens hund är aggressiv", "Får jag gå in om brukarens hund skäller",
         "Hur hanterar jag en lös hund hemma hos brukaren", "Måste brukaren stänga in hunden när jag kommer"],
        ["Hur ansöker jag om semester i sommar", "När ska semesteransökan vara inne",
         "Hur många semesterdagar får jag ta i juli", "Var lämnar jag min ansökan om semester"],
        ["Får jag ta emot en present av brukaren", "Vad gör jag om brukaren vill ge mig pengar",
         "Får personalen ta emot gåvor från brukare", "Hur tackar jag nej till en gåva från brukaren"],
        ["Hur laddar jag telefonen i tjänstebilen", "Var finns laddkabeln till jobbtelefonen",
         "Vad gör jag om tjänstetelefonen är urladdad", "Vem ersätter en trasig laddare till telefonen"],
    ],
    "preschool": [
        ["Får barnen ha med sig husdjur till förskolan", "Får man ta med en hund till förskolan",
         "Kan ett barn ta med sin katt till förskolan", "Får husdjur besöka förskolan"],
        ["Hur firar vi barnens födelsedagar", "Får föräldrar ta med tårta på barnets födelsedag",
         "Vad gäller för kalas på förskolan", "Får barnet bjuda på godis när det fyller år"],
        ["Vilka solskyddsregler gäller på gården", "Måste barnen ha solkräm på förskolan",
         "Vem smörjer in barnen med solskydd", "Får vi sätta solkräm på barnen utan lov"],
        ["Hur fotograferar vi barnen till dokumentation", "Får vi lägga upp bilder på barnen",
         "Behövs samtycke för att fotografera barnen", "Får föräldrar filma på luciafirandet"],
        ["Hur går det till vid inskolning", "Hur länge pågår inskolningen",
         "Vad ska föräldrar ta med vid inskolning", "Kan inskolningen förlängas"],
        ["Vad gäller när ett barn biter andra barn", "Hur pratar vi med föräldrar om bitningar",
         "Ska vi anmäla när ett barn blivit bitet", "Vad gör vi om samma barn biter igen"],
    ],
    "library": [
        ["Får man äta i läsesalen", "Är det tillåtet att ta med mat in i biblioteket",
         "Får besökare dricka kaffe vid datorerna", "Var får man äta matsäck i biblioteket"],
        ["Hur lånar man ut en symaskin", "Kan man låna verktyg på biblioteket",
         "Finns det symaskiner att låna", "Hur länge får man låna en borrmaskin"],
        ["Hur anordnar vi en författarkväll", "Vem betalar arvode till en författare som besöker oss",
         "Hur bokar jag en föreläsare till biblioteket", "Hur marknadsför vi ett författarbesök"],
        ["Vad gör vi om en besökare somnar i läsesalen", "Får besökare sova i biblioteket",
         "Hur väcker jag en sovande besökare", "Ska jag ringa vakten om någon sover här"],
        ["Kan vi ta emot bokdonationer", "Vad gör vi med skänkta böcker",
         "Hur många donerade böcker tar vi emot", "Vem avgör om en bokgåva ska behållas"],
        ["Hur hanterar vi hittegods", "Var lämnar vi kvarglömda saker",
         "Hur länge sparar vi upphittade mobiler", "Vad gör vi med en hittad plånbok"],
    ],
    "general": [
        ["Hur beställer jag nya glasögon genom jobbet", "Betalar arbetsgivaren terminalglasögon",
         "Hur får jag ersättning för skärmglasögon", "Var ansöker man om glasögonbidrag"],
        ["Hur anmäler jag intresse för friskvårdsbidraget", "Vad får friskvårdsbidraget användas till",
         "Hur mycket är friskvårdsbidraget", "Hur får jag tillbaka pengar för gymkortet"],
        ["Hur byter jag lösenord till lönesystemet", "Jag har glömt lösenordet till lönesidan",
         "Vem återställer mitt lösenord i lönesystemet", "Hur loggar jag in på lönesystemet hemifrån"],
        ["Hur anmäler jag flytt till arbetsgivaren", "Var ändrar jag min adress hos lönekontoret",
         "Måste jag meddela jobbet när jag flyttar", "Hur uppdaterar jag mina kontaktuppgifter"],
        ["Får jag ta med min cykel in på kontoret", "Finns det cykelparkering vid stadshuset",
         "Var kan jag ladda min elcykel på jobbet", "Har vi förmånscykel i kommunen"],
        ["Hur bokar jag en tolk till ett möte", "Vilken tolkförmedling använder kommunen",
         "Vem betalar tolken vid ett föräldramöte", "Hur avbokar jag en tolk"],
    ],
}
CONTEXTS = [
    "", " på måndag", " i helgen", " på kvällen", " nu i december", " för en ny kollega", " i Rinkeby",
    " när chefen är borta", " för en brukare med demens", " i sommar", " på ett vikariat", " vid sjukdom",
    " om det är bråttom", " enligt rutinen", " på natten", " i Tensta", " för första gången", " igen",
    " för en vikarie", " på förmiddagen",
]


def planted() -> list[tuple[str, int, str]]:
    """(collection, planted topic, text) for every distinct text."""
    out = []
    for collection, topics in TOPICS.items():
        for t, phrasings in enumerate(topics):
            out.extend((collection, t, f"{p}{c}?") for p in phrasings for c in CONTEXTS)
    return out


def build_database(path: Path, rows: int, vectors: np.ndarray, texts: list[tuple[str, int, str]], embedder: str,
                   one_collection: bool) -> list[tuple[str, int]]:
    """`rows` questions in a fresh SQLite file; returns each row's (question id, planted topic index)."""
    rng = random.Random(7)
    db = Database.sqlite(path)
    db.upgrade()
    now = datetime.now(UTC)
    truth = []
    batch = []
    for _ in range(rows):
        i = rng.randrange(len(texts))
        collection, topic, text = texts[i]
        qid = f"q_{secrets.token_hex(8)}"
        status = rng.choices(["refused", "closest", "answered"], weights=[6, 3, 1])[0]
        batch.append({
            "question_id": qid, "request_id": f"r_{secrets.token_hex(8)}",
            "created": (now - timedelta(minutes=rng.randrange(12 * 7 * 24 * 60))).isoformat(timespec="microseconds"),
            "status": status, "thumbs_down": status == "answered", "role": "admin",
            "collections": "[]", "collection": "all" if one_collection else collection, "language": "sv",
            "question": text, "nearest_doc_id": None, "embedder": embedder,
            "embedding": vectors[i].astype(np.float32).tobytes(),
        })
        truth.append((qid, i))
    with db.begin() as conn:
        conn.execute(insert(Question), batch)
    db.close()
    return truth


def run_gaps(data_dir: Path) -> tuple[float, float, list[dict[str, Any]]]:
    """`assist gaps --json` in its own process: wall seconds, peak resident MiB, the topics."""
    env = os.environ | {"ASSIST_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("ASSIST_DATABASE__URL", None)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-m", "assist.cli", "gaps", "--json"], cwd=ROOT, env=env,  # noqa: S603
                                stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"assist gaps failed: {proc.stderr.read().decode() if proc.stderr else ''}")
        out.seek(0)
        topics = json.loads(out.read())
    return seconds, usage.ru_maxrss / 1024, topics


def quality(topics: list[dict[str, Any]], texts: list[tuple[str, int, str]]) -> dict[str, Any]:
    """How the topics match the planted ones, judged from their examples (every text is planted once)."""
    owner = {text: (c, t) for c, t, text in texts}
    pure = sum(len({owner[e] for e in t["examples"]}) == 1 for t in topics)
    found = {owner[t["examples"][0]] for t in topics}
    planted_topics = {(c, t) for c, t, _ in texts}
    sizes = sorted((t["count"] for t in topics), reverse=True)
    return {
        "topics": len(topics), "planted_topics": len(planted_topics),
        "planted_topics_found": len(found & planted_topics),
        "topics_whose_examples_share_one_planted_topic": pure,
        "largest_topics": sizes[:5], "smallest_topic": sizes[-1] if sizes else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    texts = planted()
    embed, name = make_embedder(Settings())
    started = time.perf_counter()
    vectors = np.vstack([embed([t for _, _, t in texts[i : i + 64]]) for i in range(0, len(texts), 64)])
    embed_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "benchmark": "gaps", "rows": args.rows, "distinct_texts": len(texts), "embedder": name,
        "embedding": {"texts": len(texts), "seconds": round(embed_s, 1),
                      "ms_per_question": round(embed_s / len(texts) * 1000, 1),
                      "note": "what `assist gaps` spends once on questions not embedded yet (then kept in the table)"},
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        # The command's own start (imports, database) with nothing to cluster: what the runs below add to.
        Database.sqlite(Path(tmp) / "serving.sqlite").upgrade()
        seconds, peak_mib, _ = run_gaps(Path(tmp))
        result["runs"]["empty_database"] = {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1)}
    for label, one in (("four_collections", False), ("one_collection", True)):
        with tempfile.TemporaryDirectory() as tmp:
            truth = build_database(Path(tmp) / "serving.sqlite", args.rows, vectors, texts, name, one)
            seconds, peak_mib, topics = run_gaps(Path(tmp))
        result["runs"][label] = {
            "seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1),
            "questions": len(truth),
            "per_collection": dict(Counter("all" if one else texts[i][0] for _, i in truth)),
            **quality(topics, texts),
        }
        print(label, json.dumps(result["runs"][label]))  # noqa: T201
    result["machine"] = machine()
    print(write_result("gaps", result))  # noqa: T201


if __name__ == "__main__":
    main()
