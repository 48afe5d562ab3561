"""The transparency record: the assistant described after the Algorithmic Transparency Standard v0.3.1.

The standard (Amsterdam-Helsinki / Eurocities, `Algoritmeregister/standard`, `_data/schema-v0_3_1.yaml`, copied in
owners/data/) lists the attributes a city publishes about an algorithm it uses. This module fills them from what
the deployment knows: the configuration (embedder, retrieval, generator, store, database), the store's documents
per collection (the data sources) and the latest `assist eval` run (performance, with its date). What only a
person can write (organisation, lawful basis, risks, contact, dates, objection procedure, ...) comes from a TOML
file the city edits (`ASSIST_TRANSPARENCY_FILE`; owners/data/transparency.example.toml shows every key). A value
still holding the example's `<<FILL IN` placeholder is reported, never passed off as filled.

The record is public. The configuration's addresses are never in it: the Qdrant server and the LLM endpoint are
named by kind, not by URL (their hosts are the city's internal network, and a URL may carry a user and password),
and no URL anywhere in the record, the city's own text included, keeps a user or password. The store is described in
aggregate only (documents, passages, collections counted): which collections exist, their sizes and languages are
for signed-in staff to learn, not a signed-out reader; the city says more in its file's `source_data` if it chooses.
"""

import json
import logging
import re
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from assist.errors import ConfigError
from assist.settings import Settings

logger = logging.getLogger(__name__)

STANDARD_VERSION = "0.3.1"
PLACEHOLDER = "<<FILL IN"
ENV_VAR = "ASSIST_TRANSPARENCY_FILE"
#: Figures of an eval run's summary shown as the record's performance, in this order, with what they mean.
PERFORMANCE_FIGURES = {
    "hit@5": "share of answerable questions whose right routine is among the first five retrieved",
    "mrr": "mean reciprocal rank of the right routine",
    "citation_precision": "share of citations that point at a right routine",
    "refusal_accuracy": "share of questions the routines do not cover that were refused or answered only closest",
    "false_refusal_rate": "share of answerable questions that were not answered",
    "language_match": "share of answers in the language asked for",
    "support": "share of answer sentences supported by the passage they cite",
}


#: A URL's user information (`scheme://user:password@`), which is never published.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@]*@")


def without_userinfo(text: str) -> str:
    """`text` with the user and password taken out of every URL in it."""
    return _URL_USERINFO.sub(r"\1", text)


def _model_name(model: str) -> str:
    """The served model's name as published: a file path (vLLM's default name) by its last part only."""
    return Path(model).name if model.startswith("/") else without_userinfo(model)


def schema_path() -> Path:
    """The committed copy of the standard's schema."""
    return Path(str(files("owners") / "data" / "schema-v0_3_1.yaml"))


def example_path() -> Path:
    """The shipped example of the city's file, every key with a placeholder or a default a city may keep."""
    return Path(str(files("owners") / "data" / "transparency.example.toml"))


def load_schema(path: Path | None = None) -> list[dict[str, Any]]:
    """The standard's attributes, in the schema's order."""
    data = yaml.safe_load((path or schema_path()).read_text(encoding="utf-8"))
    return list(data["properties"])


def required_attributes(schema: list[dict[str, Any]] | None = None) -> list[str]:
    """The attributes the schema marks required."""
    return [p["attribute"] for p in (schema or load_schema()) if p.get("required") is True]


@dataclass
class Inventory:
    """What the store holds, in aggregate: documents, passages and collections, counted."""

    documents: int = 0
    passages: int = 0
    collections: int = 0
    problem: str | None = None


#: The payload fields the inventory counts by.
_COUNTED = ["meta.collection", "meta.doc_id"]


def _metas(store: Any) -> Iterator[dict[str, Any]]:
    """The counted fields of every passage: the embedded shard's payloads, or a Qdrant server's, scrolled without
    vectors (qdrant-haystack's documents would bring every vector along).
    """
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415

    if isinstance(store, EdgeDocumentStore):
        for p in store.filter_payloads(fields=_COUNTED):
            yield p.get("meta", p)
        return
    store._initialize_client()  # noqa: SLF001 - qdrant-haystack opens its client lazily and has no payload-only read
    offset = None
    while True:
        points, offset = store._client.scroll(  # noqa: SLF001
            collection_name=store.index, limit=1000, offset=offset, with_payload=_COUNTED, with_vectors=False,
        )
        for point in points:
            yield (point.payload or {}).get("meta", {})
        if offset is None:
            return


def store_inventory(store: Any) -> Inventory:
    """The documents, passages and collections of `store`, counted (from the passages' payloads; vectors are not
    read). The embedded store and a Qdrant server (qdrant-haystack's store) alike.
    """
    docs: set[tuple[str, str]] = set()
    collections: set[str] = set()
    passages = 0
    try:
        for meta in _metas(store):
            passages += 1
            collection = str(meta.get("collection", ""))
            collections.add(collection)
            if meta.get("doc_id"):
                docs.add((collection, str(meta["doc_id"])))
    except Exception as exc:  # noqa: BLE001 - the record says the store could not be read instead of failing
        logger.warning("Transparency record: the store could not be read: %s", exc)
        return Inventory(problem=f"the document store could not be read ({type(exc).__name__})")
    return Inventory(documents=len(docs), passages=passages, collections=len(collections))


def open_inventory(settings: Settings) -> Inventory:
    """The inventory of the configured store, opened read-only for the time it takes."""
    from assist.backends import make_document_store  # noqa: PLC0415
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415

    try:
        store = make_document_store(settings, create=False)
    except Exception as exc:  # noqa: BLE001
        return Inventory(problem=f"the document store could not be opened ({type(exc).__name__})")
    try:
        if isinstance(store, EdgeDocumentStore) and not store.exists():
            return Inventory(problem="there is no document store yet (run `assist ingest`)")
        return store_inventory(store)
    finally:
        if isinstance(store, EdgeDocumentStore):
            store.close()


#: The file beside the eval runs (<data_dir>/eval/) naming the run an admin chose to publish.
PUBLISHED_FILE = "published.json"


def eval_root(settings: Settings) -> Path:
    """Where `assist eval` keeps its runs (qa/store.py's RunStore root)."""
    return settings.data_dir / "eval"


def _read_run(path: Path) -> dict[str, Any] | None:
    """A run folder's meta.json when the run finished with a summary, else None."""
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(meta, dict) and meta.get("status") == "done" and isinstance(meta.get("summary"), dict):
        return {**meta, "run_id": meta.get("run_id") or path.name}
    return None


def finished_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every finished `assist eval` run under <data_dir>/eval, oldest first (run ids start with their start time)."""
    root = eval_root(settings)
    if not root.is_dir():
        return []
    runs = (_read_run(p) for p in sorted(root.iterdir()) if (p / "meta.json").is_file())
    return [r for r in runs if r is not None]


def latest_eval(settings: Settings) -> dict[str, Any] | None:
    """The newest finished `assist eval` run: its meta.json, or None. Never what is published (see published_eval)."""
    runs = finished_runs(settings)
    return runs[-1] if runs else None


def published_run_id(settings: Settings) -> str | None:
    """The run id an admin published with `assist transparency publish`, or None."""
    try:
        data = json.loads((eval_root(settings) / PUBLISHED_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("Transparency record: %s is unreadable (%s): no run is published.", PUBLISHED_FILE, exc)
        return None
    run_id = data.get("run_id") if isinstance(data, dict) else None
    return str(run_id) if run_id else None


def published_eval(settings: Settings) -> dict[str, Any] | None:
    """The run the record publishes: the one an admin marked, if it is still there and finished; else None.

    Never simply the newest run: an ad-hoc run of a scratch set must not become the city's published figures.
    """
    run_id = published_run_id(settings)
    if run_id is None or "/" in run_id or run_id.startswith("."):
        return None
    run = _read_run(eval_root(settings) / run_id)
    if run is None:
        logger.warning("Transparency record: the published eval run %s is gone or unfinished: no figures shown.",
                       run_id)
    return run


def publish_run(settings: Settings, run_id: str) -> dict[str, Any]:
    """Mark `run_id` ('latest': the newest finished run) as the run the record publishes; its meta.json.

    ValueError says what to do when there is no such finished run.
    """
    runs = finished_runs(settings)
    if run_id in ("latest", "last"):
        if not runs:
            msg = "No finished evaluation run yet: run `assist eval run --set dev` first."
            raise ValueError(msg)
        run = runs[-1]
    else:
        run = next((r for r in runs if r["run_id"] == run_id), None)
        if run is None:
            known = ", ".join(r["run_id"] for r in runs[-5:]) or "none"
            msg = (f"No finished evaluation run {run_id!r}: list them with `assist transparency runs` "
                   f"(newest finished: {known}).")
            raise ValueError(msg)
    marker = eval_root(settings) / PUBLISHED_FILE
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"run_id": run["run_id"], "published": datetime.now(UTC).isoformat(timespec="seconds")})
                   + "\n", encoding="utf-8")
    tmp.replace(marker)
    return run


def unpublish(settings: Settings) -> bool:
    """Publish no run's figures any more; whether one was published."""
    marker = eval_root(settings) / PUBLISHED_FILE
    existed = marker.exists()
    marker.unlink(missing_ok=True)
    return existed


def set_names(run: dict[str, Any]) -> list[str]:
    """The run's eval sets by their split name (`dev`, `test`), never the local path they were read from."""
    return [Path(str(s)).stem for s in run.get("sets", [])]


def read_city_file(settings: Settings) -> tuple[dict[str, Any], Path]:
    """The city's human-written fields (the shipped example when none is configured) and where they came from."""
    path = settings.transparency_file or example_path()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"The transparency file {path} does not exist: copy {example_path()} there and fill it in."
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"The transparency file {path} is not valid TOML ({exc}): fix it."
        raise ConfigError(msg) from None
    record = data.get("record", data)
    if not isinstance(record, dict):
        msg = f"The transparency file {path}: [record] must be a table of attribute = value."
        raise ConfigError(msg)
    return {str(k): v for k, v in record.items()}, Path(path)


def _performance(run: dict[str, Any] | None) -> str:
    if run is None:
        return ("No evaluation run is published yet: `assist eval` measures retrieval, citations and refusals, and "
                "an administrator publishes one run's figures with `assist transparency publish RUN_ID`.")
    figures = run["summary"].get("all", {})
    when = str(run.get("finished") or run.get("started") or "")[:10]
    parts = [
        f"{name} {figures[name]:.3f} ({meaning})"
        for name, meaning in PERFORMANCE_FIGURES.items()
        if isinstance(figures.get(name), int | float)
    ]
    sets = ", ".join(set_names(run)) or "the eval sets"
    return (
        f"Measured by `assist eval` on {when} (run {run.get('run_id', '?')}, commit {run.get('commit', '?')}) over "
        f"{figures.get('rows', '?')} questions of {sets}: " + "; ".join(parts) + "."
    )


def _models(settings: Settings) -> str:
    from assist.backends import embedder_name  # noqa: PLC0415

    g = settings.generator
    generator = {
        "extractive": "extractive: no language model; the answer quotes the cited passages",
        "llamacpp": f"llama.cpp running a local GGUF model ({Path(g.model_path).name if g.model_path else 'SmolLM2'})",
        "openai": f"an OpenAI-compatible endpoint (e.g. vLLM) serving {_model_name(g.model)}",
    }[g.backend]
    r = settings.retrieval
    return (
        f"Embedding model: {embedder_name(settings)}. Retrieval: {r.mode} (dense vectors and BM25 sparse vectors "
        f"in Qdrant, fused by reciprocal rank), top {r.top_k} passages, at most {r.per_doc} per document. Relevance "
        f"gate: questions whose best dense score is under {r.min_score} are refused; a calibrated grounding check "
        f"(logistic regression over retrieval features) sends answers the passages do not address to 'closest'. "
        f"Generator: {generator}. Personal data is replaced in each question by pattern and name-list recognisers "
        "before anything else runs."
    )


def _connections(settings: Settings) -> str:
    # Kinds only: an address would publish an internal host, and a URL may hold a user and password.
    store = ("a Qdrant server run for the service (its address is not published)" if settings.qdrant.url
             else "the embedded Qdrant Edge store, on the service's own disk")
    db = "a PostgreSQL database" if settings.database.url else "a SQLite file under the data folder"
    parts = [f"Vector store: {store}.", f"Service state (tokens, feedback, audit log, recorded questions): {db}."]
    if settings.generator.backend == "openai":
        parts.append("Language model: an OpenAI-compatible endpoint (in the documented deployment, vLLM on the "
                     "city's own GPU node) that the service sends each question and its passages to (its address "
                     "is not published).")
    parts.append("No connection to population registers, case files or other personal-data systems.")
    return " ".join(parts)


def _sources(inventory: Inventory, city_text: Any = None) -> str:
    """The data sources: what the city wrote (`source_data` in its file), else a general sentence, and the store's
    figures in aggregate. No collection is named, sized or given its languages here: the record is public.
    """
    said = str(city_text).strip() if city_text not in (None, "") else "The city's own routines and policy documents."
    if inventory.problem:
        figures = f"The figures are not available: {inventory.problem}."
    else:
        figures = (f"The service answers from {inventory.documents} documents ({inventory.passages} passages) in "
                   f"{inventory.collections} collections, each read only by the roles the city's roles file allows.")
    return (
        f"{said} {figures} Staff's questions are processed with personal data replaced; unanswered ones are kept "
        "(scrubbed) so that routine owners can write what is missing."
    )


def _description(settings: Settings) -> str:
    return (
        "Staff ask a question in their own words on a phone, in a terminal or through an API. Personal data in the "
        "question (identity numbers, phone numbers, e-mail and street addresses, names) is replaced first. The "
        "question's language is detected and the question is turned into a dense vector by a multilingual "
        "embedding model and a sparse BM25 vector. Both search the passages of the routines the asker's role may "
        "read; the results are fused and ranked by document. A relevance gate refuses the question when no passage "
        "is close enough, and says who to ask instead. A grounding check then decides whether the passages "
        "address what was asked; when they do not, the answer is marked 'closest' and shows the nearest routines "
        "without presenting them as an answer. Otherwise the generator writes a short answer from the numbered "
        "passages only, every sentence cites its source, and a citation check drops citations that do not support "
        "the text. The answer names the routine, page and section so staff can check it. No decision about a "
        "resident is taken by the system: it informs staff, who act under their own professional responsibility. "
        f"{_models(settings)}"
    )


def _default(value: Any, fallback: str) -> Any:
    return fallback if value in (None, "") else value


def build_record(settings: Settings, *, inventory: Inventory | None = None, eval_run: dict[str, Any] | None = None,
                 city: dict[str, Any] | None = None, today: date | None = None) -> dict[str, Any]:
    """The record as an ordered mapping: every attribute of the schema the deployment or the city file fills."""
    if city is None:
        city, _ = read_city_file(settings)
    inventory = inventory if inventory is not None else open_inventory(settings)
    today = today or datetime.now(UTC).date()
    published = str(city.get("publication_date") or today.isoformat())
    try:
        first = date.fromisoformat(published[:10])
    except ValueError:  # still the example's placeholder: the revision is due a year from now
        first = today
    generated: dict[str, Any] = {
        "standard_version": STANDARD_VERSION,
        "lang": "en",
        "publication_date": published,
        "last_change_date": today.isoformat(),
        "revision_date": (first + timedelta(days=365)).isoformat(),
        "description_short": "Answers city staff's questions from the city's own routines, with citations, and "
                             "says when the routines do not answer.",
        "status": "pilot",
        "domain": "generic",
        "algorithm_type": "hybrid",
        "type": "descriptive",
        "training_data": (
            "None of the city's data trains a model. The models are used as published: "
            f"{_models(settings)} The relevance and grounding thresholds are calibrated on the project's "
            "evaluation questions, which are written for the purpose and hold no personal data."
        ),
        "source_data": _sources(inventory, city.get("source_data")),
        "connected_data_sources": _connections(settings),
        "description": _description(settings),
        "methods_and_models": _models(settings),
        "performance": _performance(eval_run),
        "monitoring": (
            "`assist eval` measures retrieval (hit@5, MRR), citation precision, refusals of questions the routines "
            "do not cover and false refusals on fixed question sets, and a quality gate stops a release that falls "
            "below the floors. Staff rate answers up or down; refused, closest and rated-down questions are grouped "
            "into topics on the knowledge-gaps page for the routines' owners. Latest figures: "
            + _performance(eval_run)
        ),
        "human_intervention": (
            "Every answer cites the routine it comes from, and staff decide what to do; an answer the routines do "
            "not support is refused or shown only as the closest routines. Routine owners review the questions "
            "the routines did not answer and write the missing routines; administrators can withdraw documents by "
            "re-ingesting without them."
        ),
    }
    record = {**generated, **{k: v for k, v in city.items() if v not in (None, "")}}
    # Figures the deployment measures always come from the deployment, never from a stale copy in the file.
    for key in ("standard_version", "source_data", "performance", "methods_and_models"):
        record[key] = generated[key]
    if "uuid" not in record:
        # Stable across runs for one organisation and name, so a register sees one entry being updated.
        seed = f"{record.get('organization', '')}/{record.get('name', '')}"
        record["uuid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
    order = [p["attribute"] for p in load_schema()]
    return {k: _plain(record[k]) for k in order if k in record}


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    if isinstance(value, str):
        return without_userinfo(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def placeholders(record: dict[str, Any]) -> list[str]:
    """The attributes still holding the example file's placeholder."""
    return [k for k, v in record.items() if isinstance(v, str) and PLACEHOLDER in v]


def missing_required(record: dict[str, Any], schema: list[dict[str, Any]] | None = None) -> list[str]:
    """Required attributes of the schema that the record lacks or leaves empty."""
    return [a for a in required_attributes(schema) if record.get(a) in (None, "")]


def to_yaml(record: dict[str, Any]) -> str:
    return yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100)


def _attributes(record: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """(category, attribute, English name, value) of each attribute the record has, in the schema's order."""
    for prop in load_schema():
        key = prop["attribute"]
        if key in record:
            yield prop["category"]["en"], key, prop["name"]["en"], record[key]


def to_markdown(record: dict[str, Any]) -> str:
    """The record for a person: the schema's categories as sections, each attribute under its English name."""
    lines = [f"# {record.get('name', 'Algorithm')}", "",
             f"Algorithmic Transparency Standard v{STANDARD_VERSION} record.", ""]
    category = None
    for section, key, name, value in _attributes(record):
        if section != category:
            category = section
            lines += [f"## {category.capitalize()}", ""]
        lines += [f"**{name}** (`{key}`)", "", str(value), ""]
    return "\n".join(lines)


def to_html(record: dict[str, Any]) -> str:
    """The record as a plain HTML page (every value escaped)."""
    parts = []
    category = None
    for section, key, name, value in _attributes(record):
        if section != category:
            if category is not None:
                parts.append("</dl>")
            category = section
            parts.append(f"<h2>{escape(category.capitalize())}</h2><dl>")
        parts.append(f'<dt id="{escape(key)}">{escape(name)}</dt><dd>{escape(str(value))}</dd>')
    parts.append("</dl>")
    title = escape(str(record.get("name", "Algorithm")))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}: transparency record</title><link rel="stylesheet" href="/static/app.css"></head>'
        f"<body><header><h1>{title}</h1><p class=\"tagline\">Algorithmic Transparency Standard v{STANDARD_VERSION}. "
        'Also as <a href="/transparency.yaml">YAML</a> and <a href="/transparency.md">Markdown</a>.</p></header>'
        f"<main>{''.join(parts)}</main></body></html>"
    )


def write_record(record: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """DIR/transparency.yaml and DIR/transparency.md."""
    out.mkdir(parents=True, exist_ok=True)
    yaml_path, md_path = out / "transparency.yaml", out / "transparency.md"
    yaml_path.write_text(to_yaml(record), encoding="utf-8")
    md_path.write_text(to_markdown(record), encoding="utf-8")
    return yaml_path, md_path


def run_transparency(*, out: Path, settings: Settings) -> int:
    """`assist transparency --out DIR`: write the record; the exit code."""
    import typer  # noqa: PLC0415

    try:
        city, source = read_city_file(settings)
        record = build_record(settings, city=city, eval_run=published_eval(settings))
    except ConfigError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        return 2
    missing = missing_required(record)
    if missing:
        typer.secho(f"Error: {source} leaves required attributes empty: {', '.join(missing)}.", fg=typer.colors.RED,
                    err=True)
        return 2
    yaml_path, md_path = write_record(record, out)
    typer.echo(f"Wrote {yaml_path} and {md_path}.")
    todo = placeholders(record)
    if todo:
        typer.secho(f"Still to fill in {source} (set {ENV_VAR} to your own copy): {', '.join(todo)}.",
                    fg=typer.colors.YELLOW, err=True)
    return 0


def _run_line(run: dict[str, Any], published: str | None) -> str:
    figures = run["summary"].get("all", {})
    when = str(run.get("finished") or run.get("started") or "")[:16].replace("T", " ")
    limit = f", first {run['limit']} per set" if run.get("limit") else ""
    mark = "  (published)" if run["run_id"] == published else ""
    return (f"{run['run_id']}  {when}  {', '.join(set_names(run)) or '-'}  {figures.get('rows', '?')} questions"
            f"{limit}  commit {run.get('commit', '?')}  label {run.get('label', '-')}{mark}")


def run_runs(*, settings: Settings) -> int:
    """`assist transparency runs`: the finished eval runs an admin can publish, newest last."""
    import typer  # noqa: PLC0415

    runs = finished_runs(settings)
    if not runs:
        typer.echo("No finished evaluation run yet: run `assist eval run --set dev` first.")
        return 0
    published = published_run_id(settings)
    for run in runs:
        typer.echo(_run_line(run, published))
    if published is None:
        typer.echo("None is published: `assist transparency publish RUN_ID` chooses the run /transparency shows.")
    return 0


def run_publish(run_id: str, *, settings: Settings) -> int:
    """`assist transparency publish RUN_ID`: the record shows this run's figures from now on."""
    import typer  # noqa: PLC0415

    try:
        run = publish_run(settings, run_id)
    except ValueError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        return 2
    typer.echo(f"Published run {run['run_id']}: /transparency shows its figures from now on; later runs change "
               "nothing until one of them is published.")
    typer.echo(_performance(run))
    return 0


def run_unpublish(*, settings: Settings) -> int:
    """`assist transparency unpublish`: the record shows no run's figures."""
    import typer  # noqa: PLC0415

    typer.echo("No run is published any more." if unpublish(settings) else "No run was published.")
    return 0


def run_show(*, settings: Settings) -> int:
    """`assist transparency show`: which run is published and the performance text the record shows."""
    import typer  # noqa: PLC0415

    run_id = published_run_id(settings)
    run = published_eval(settings)
    if run_id is None:
        typer.echo("No run is published: the record says so. Choose one with `assist transparency runs` and "
                   "`assist transparency publish RUN_ID`.")
    elif run is None:
        typer.echo(f"Run {run_id} is published but is gone or unfinished: the record shows no figures. Publish "
                   "another with `assist transparency publish RUN_ID`.")
    else:
        typer.echo(f"Published run: {run_id}")
    typer.echo(_performance(run))
    return 0


def start_warning(settings: Settings) -> str | None:
    """One line for `assist serve` to print at start while the public record is not ready: the city file still holds
    `<<FILL IN` placeholders (or cannot be read). None when there is nothing to say.
    """
    try:
        city, source = read_city_file(settings)
    except ConfigError as exc:
        return f"/transparency cannot be built: {exc}"
    todo = [k for k, v in city.items() if isinstance(v, str) and PLACEHOLDER in v]
    if not todo:
        return None
    where = f"{source}" if settings.transparency_file else f"the shipped example {source}"
    return (f"/transparency publishes {len(todo)} unfilled {PLACEHOLDER}>> placeholders from {where} "
            f"({', '.join(todo)}): copy it, fill it in and set {ENV_VAR} to your copy.")
