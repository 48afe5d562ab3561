"""A small store built once from the service's fixture routines; each test writes to its own copy of it."""

import shutil
from pathlib import Path

import pytest

from assist.settings import QdrantSettings, Settings
from tests.conftest import ROLES_CITY
from tests.serving.conftest import (  # noqa: F401 - the gaps tests use the service's fixtures
    built_store,
    database,
    database_url,
    postgres_server,
    postgres_url,
)

DATA = Path(__file__).resolve().parents[1] / "serving" / "data"


@pytest.fixture(scope="session")
def base_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ingest.pipeline import Ingestor  # noqa: PLC0415

    root = tmp_path_factory.mktemp("owners-store")
    ingestor = Ingestor(Settings(data_dir=root))
    report = ingestor.ingest([DATA])
    ingestor.close()
    assert not report.failed, report.to_dict()
    return root / "qdrant"


@pytest.fixture
def settings(base_store: Path, tmp_path: Path) -> Settings:
    """Settings over this test's copy of the store, with an empty knowledge folder and the city's roles."""
    shutil.copytree(base_store, tmp_path / "qdrant")
    (tmp_path / "knowledge").mkdir()
    return Settings(
        data_dir=tmp_path, qdrant=QdrantSettings(path=tmp_path / "qdrant"), knowledge_dir=tmp_path / "knowledge",
        roles_file=ROLES_CITY,
    )
