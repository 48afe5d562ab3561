"""The token store keeps hashes only; the CLI prints a token once."""

from pathlib import Path

import pytest
import typer

from assist.errors import UnknownRoleError
from serving.app import SQLITE_FILE
from serving.cli import token_create, token_revoke
from serving.service import AskOptions, AskService, usable_cpus
from serving.tokens import TokenStore


class TestTokenStore:
    def test_token_is_stored_hashed(self, tmp_path: Path) -> None:
        store = TokenStore(tmp_path / "s.sqlite")
        token_id, token = store.create("library")
        info = store.verify(token)
        assert info is not None
        assert (info.token_id, info.role) == (token_id, "library")
        store.close()
        assert token.encode() not in (tmp_path / "s.sqlite").read_bytes()

    def test_unknown_role(self, tmp_path: Path) -> None:
        with pytest.raises(UnknownRoleError, match="home-care"):
            TokenStore(tmp_path / "s.sqlite").create("janitor")

    def test_revoke(self, tmp_path: Path) -> None:
        store = TokenStore(tmp_path / "s.sqlite")
        token_id, token = store.create("admin")
        assert store.revoke(token_id)
        assert store.verify(token) is None
        assert not store.revoke(token_id)

    def test_cli_prints_a_token_once(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        token = token_create("preschool", data_dir=tmp_path)
        out = capsys.readouterr()
        assert out.out.strip() == token
        assert f"#token={token}" in out.err
        store = TokenStore(tmp_path / SQLITE_FILE)
        info = store.verify(token)
        assert info is not None
        assert info.role == "preschool"
        token_revoke(info.token_id, data_dir=tmp_path)
        assert store.verify(token) is None
        with pytest.raises(typer.Exit):
            token_create("nobody", data_dir=tmp_path)


class TestForwardCompatibility:
    def test_history_is_passed_only_when_the_core_takes_it(self, make_settings) -> None:
        service = AskService(make_settings())
        options = AskOptions(history=[{"role": "user", "content": "Och sen?"}])
        assert "history" not in service._kwargs(options, None)
        service._ask_params = frozenset({"question", "role", "language", "streaming_callback", "history"})
        assert service._kwargs(options, None)["history"] == options.history

    def test_llamacpp_gets_one_worker(self, make_settings) -> None:
        assert AskService(make_settings(backend="llamacpp")).limiter.total_tokens == 1
        assert AskService(make_settings()).limiter.total_tokens == min(4, usable_cpus())  # one per CPU, at most 4
