"""The roles file: its shape, its checks (at load and against the real store), and the claim-to-role mapping."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assist.errors import ConfigError, UnknownRoleError
from assist.pipeline import Assistant
from assist.roles import ClaimMapping, default_roles_file, load_roles, parse_roles
from assist.settings import Settings
from tests.conftest import ROLES_CITY, make_settings, write_pdf

MINIMAL = """
[roles.home-care]
collections = ["home_care", "general"]
[roles.owner-home-care]
collections = ["home_care", "general"]
owns = ["home_care"]
[roles.admin]
collections = ["*"]
admin = true
"""


def write(tmp_path: Path, text: str, name: str = "roles.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestShape:
    def test_packaged_file_holds_the_four_roles(self) -> None:
        roles = load_roles()
        assert roles.names == ["home-care", "preschool", "library", "admin"]
        assert roles.collections_for("home-care") == ["home_care", "general"]
        assert roles.collections_for("library") == ["library", "general"]
        assert roles.is_admin("admin") and not roles.is_admin("library")
        assert roles.source == str(default_roles_file())

    def test_the_contract_minimal_shape_is_accepted(self, tmp_path: Path) -> None:
        roles = load_roles(write(tmp_path, MINIMAL))
        assert roles.names == ["home-care", "owner-home-care", "admin"]
        assert roles.owners_of("home_care") == ["owner-home-care"]
        assert roles.is_admin("admin") and not roles.is_admin("owner-home-care")
        assert roles.claims.claim == "groups" and roles.claims.map == {}

    def test_star_reads_every_collection_the_roles_name_and_the_store_holds(self) -> None:
        roles = load_roles(ROLES_CITY)
        assert roles.collections_for("admin") == ["home_care", "general", "preschool", "library"]
        assert roles.collections_for("admin", ["social_services", "general"])[-1] == "social_services"
        assert roles.collections_for("family-services", ["social_services"]) == ["preschool", "library"]

    def test_settings_read_the_file_named_by_ASSIST_ROLES_FILE(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ASSIST_ROLES_FILE", str(ROLES_CITY))
        roles = Settings().roles
        assert len(roles.names) == 7
        assert roles.collections_for("family-services") == ["preschool", "library"]
        monkeypatch.delenv("ASSIST_ROLES_FILE")
        assert Settings().roles.names == ["home-care", "preschool", "library", "admin"]

    def test_unknown_role_names_the_configured_ones(self) -> None:
        with pytest.raises(UnknownRoleError, match="use one of home-care, owner-home-care, preschool"):
            load_roles(ROLES_CITY).collections_for("janitor")


BAD_FILES = [
    ("[roles.a\ncollections = []", ["not valid TOML", "line"]),
    ("[roles.a]\ncollections = 'home_care'", ["[roles.a] collections", "valid list"]),
    ("[roles.a]\ncolections = ['x']", ["[roles.a] colections: unknown key", "collections, owns, admin"]),
    ("[roles.a]\ncollections = ['x']\nadmin = 'yes'", ["[roles.a] admin", "boolean"]),
    ("[roles.a]\ncollections = ['x']\nowns = ['y']", ["[roles.a]", "owns ['y'] but may not read them"]),
    ("[roles.a]\ncollections = ['../etc']", ["[roles.a] collections", "'../etc' not allowed"]),
    ("[roles.a]\ncollections = ['*', 'x']", ['"*" already means every collection']),
    ("[roles.a]\ncollections = []", ["[roles.a] collections", "at least 1"]),
    ("[roles.'a b']\ncollections = ['x']", ["role names 'a b' not allowed"]),
    ("[role.a]\ncollections = ['x']", ["no roles", "role: unknown key"]),
    ("[roles.a]\ncollections = ['x']\n[claims.map]\ng = 'b'", ["[claims.map] maps to unknown role(s) 'b'"]),
    ("[roles.a]\ncollections = ['x']\n[claims]\ngroup = 'g'", ["[claims] group: unknown key", "claim, map"]),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_FILES, ids=[f[1][0] for f in BAD_FILES])
def test_a_malformed_file_is_a_clear_error_naming_file_table_and_fix(tmp_path: Path, text: str, fragments: list[str]):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_roles(path)
    message = str(err.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_a_missing_file_names_the_variable_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: set ASSIST_ROLES_FILE"):
        load_roles(tmp_path / "nope.toml")


class TestClaims:
    def test_city_file_maps_groups_to_roles(self) -> None:
        claims = load_roles(ROLES_CITY).claims
        assert claims.role_for({"groups": ["alla-anstallda", "familjeservice"]}) == "family-services"
        assert claims.role_for({"groups": "hemtjanst-chefer"}) == "owner-home-care"

    def test_first_mapped_entry_in_file_order_decides(self) -> None:
        claims = load_roles(ROLES_CITY).claims
        assert claims.role_for({"groups": ["frontline-admins", "hemtjanst-personal"]}) == "home-care"

    def test_no_mapped_group_means_no_role(self) -> None:
        claims = load_roles(ROLES_CITY).claims
        assert claims.role_for({"groups": ["alla-anstallda"]}) is None
        assert claims.role_for({}) is None
        assert claims.role_for({"groups": 7}) is None

    def test_dotted_claim_reads_nested_claims(self) -> None:
        claims = ClaimMapping(claim="realm_access.roles", map={"hemtjanst": "home-care"})
        assert claims.role_for({"realm_access": {"roles": ["hemtjanst"]}}) == "home-care"
        assert claims.role_for({"realm_access": "hemtjanst"}) is None


def test_parse_roles_names_its_source() -> None:
    with pytest.raises(ConfigError, match="The roles file city.toml is not valid"):
        parse_roles("[roles.a]\ncollections = 1", "city.toml")


class TestAgainstTheStore:
    def test_a_role_naming_a_collection_the_store_lacks_stops_only_that_role(self, assistant_factory, tmp_path: Path):
        path = write(tmp_path, MINIMAL + '[roles.social]\ncollections = ["social_services", "general"]\n')
        assistant = assistant_factory(roles_file=path)
        assistant.warm_up()
        assert assistant.incomplete_roles == {"social": ["social_services"]}
        message = assistant.roles.missing_message(assistant.incomplete_roles, assistant.collections)
        assert str(path) in message
        assert "role 'social' names 'social_services'" in message
        assert "it holds general, home_care, library, preschool" in message
        assert "Ingest a folder of that name" in message
        with pytest.raises(ConfigError, match="Role 'social' names 'social_services'"):
            assistant.ask("Var förvaras nycklarna?", role="social")
        assert assistant.ask("Var förvaras nycklarna?", role="home-care").citations[0].doc_id == "nycklar"

    def test_the_city_file_passes_against_the_store(self, assistant_factory) -> None:
        assistant = assistant_factory(roles_file=ROLES_CITY)
        assistant.warm_up()
        assert assistant.collections == ["general", "home_care", "library", "preschool"]

    def test_any_folder_is_a_collection_and_star_reads_it(self, tmp_path: Path) -> None:
        """A folder no role names is ingested as a collection; "*" reads it, a scoped role never does."""
        from ingest.pipeline import Ingestor  # noqa: PLC0415

        corpus = tmp_path / "corpus"
        (corpus / "general").mkdir(parents=True)
        (corpus / "social_services").mkdir()
        (corpus / "bad name").mkdir()
        (corpus / "general" / "lösenord.md").write_text(
            "# Lösenord\n\nEtt lösenord ska ha minst tolv tecken och bytas varje år.", encoding="utf-8"
        )
        (corpus / "bad name" / "x.md").write_text("# X\n\nText.", encoding="utf-8")
        write_pdf(
            corpus / "social_services" / "forsorjningsstod.pdf",
            "Ekonomiskt bistånd",
            [["Ansökan om ekonomiskt bistånd görs i e-tjänsten senast den femte varje månad."]],
        )
        ingestor = Ingestor(make_settings(tmp_path))
        report = ingestor.ingest([corpus])
        ingestor.close()
        assert [Path(f.path).name for f in report.failed] == ["x.md"]
        assert "is not a collection name" in report.failed[0].reason
        roles = write(tmp_path, '[roles.reception]\ncollections = ["general"]\n[roles.admin]\ncollections = ["*"]\n')
        assistant = Assistant(make_settings(tmp_path, roles_file=roles))
        try:
            question = "När ska ansökan om ekonomiskt bistånd göras?"
            admin = assistant.ask(question, role="admin")
            assert admin.citations and admin.citations[0].collection == "social_services"
            reception = assistant.ask(question, role="reception")
            assert all(c.collection == "general" for c in reception.citations)
        finally:
            assistant.close()


def _assist(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assist.cli", *args], capture_output=True, text=True, env=os.environ | env,
        timeout=300, check=False,
    )


def test_a_role_naming_a_missing_collection_stops_only_its_own_questions(store_dir: Path, tmp_path: Path) -> None:
    """A new city's folder lacks a collection one role reads: the admin is answered (with a warning naming it), and
    that role's questions get one line naming what is missing."""
    path = write(tmp_path, '[roles.social]\ncollections = ["social_services", "general"]\n'
                           '[roles.admin]\ncollections = ["*"]\nadmin = true\n')
    ask = ("ask", "Var förvaras nycklarna?", "--store", str(store_dir / "qdrant"))
    admin = _assist(*ask, "--role", "admin", "--json", env={"ASSIST_ROLES_FILE": str(path)})
    assert admin.returncode == 0, admin.stderr
    assert json.loads(admin.stdout)["citations"][0]["doc_id"] == "nycklar"
    assert f"Warning: The roles file {path}: role 'social' names 'social_services'" in admin.stderr
    social = _assist(*ask, "--role", "social", env={"ASSIST_ROLES_FILE": str(path)})
    assert social.returncode == 2
    lines = [line for line in social.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, social.stderr
    assert lines[0].startswith("Error: Role 'social' names 'social_services', but the store has no such collection")
    assert "Traceback" not in social.stderr


def test_serve_stops_before_listening_on_a_malformed_roles_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[roles.a]\ncollections = ['x']\nadmin = 1\n")
    out = _assist("serve", "--port", "1", env={"ASSIST_ROLES_FILE": str(path), "ASSIST_DATA_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert f"The roles file {path} is not valid: [roles.a] admin" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_token_create_takes_any_configured_role(tmp_path: Path) -> None:
    env = os.environ | {"ASSIST_ROLES_FILE": str(ROLES_CITY), "ASSIST_DATA_DIR": str(tmp_path)}
    run = [sys.executable, "-m", "assist.cli", "token", "create", "--role"]
    ok = subprocess.run([*run, "family-services"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().startswith("fa_")
    assert "for role family-services" in ok.stderr
    bad = subprocess.run([*run, "janitor"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert bad.returncode == 2
    assert "Unknown role 'janitor': use one of home-care, owner-home-care" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_qdrant_server_store_lists_its_collections_too() -> None:
    """qdrant-client's local mode stands in for a Qdrant server: the same facet call finds the collections."""
    from haystack import Document  # noqa: PLC0415
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore  # noqa: PLC0415

    from assist.backends import stored_collections  # noqa: PLC0415

    store = QdrantDocumentStore(":memory:", embedding_dim=3, recreate_index=True, progress_bar=False)
    store.write_documents([
        Document(content="a", meta={"collection": "social_services"}, embedding=[1.0, 0.0, 0.0]),
        Document(content="b", meta={"collection": "general"}, embedding=[0.0, 1.0, 0.0]),
        Document(content="c", meta={"collection": "general"}, embedding=[0.0, 0.0, 1.0]),
    ])
    assert stored_collections(store) == ["general", "social_services"]
    missing = load_roles(ROLES_CITY).check_collections(stored_collections(store))
    assert missing["home-care"] == ["home_care"]
    assert "admin" not in missing  # it reads "*": whatever the store holds
