"""The word lists kept as tries (assist/lemmas.py): simplemma's answers, built once per machine, mapped after that."""

import threading
from pathlib import Path

import pytest
import simplemma
from simplemma import Lemmatizer
from simplemma.strategies import DefaultStrategy, DictionaryLookupStrategy
from simplemma.strategies.dictionaries import DefaultDictionaryFactory
from simplemma.utils import normalize_token

from assist import lemmas
from assist.settings import Settings
from tests.assist.conftest import use_lemma_cache


def fresh(monkeypatch: pytest.MonkeyPatch, folder: Path) -> lemmas.MappedTrieFactory:
    """A factory with nothing opened yet, keeping its tries in `folder` (as a new process would)."""
    use_lemma_cache(folder, monkeypatch)
    return lemmas.MappedTrieFactory()


def lemma(factory: lemmas.MappedTrieFactory, word: str, lang: str) -> str:
    return Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=factory)).lemmatize(word, lang)


def known(factory: lemmas.MappedTrieFactory, word: str, lang: str) -> bool:
    return DictionaryLookupStrategy(factory).get_lemma(normalize_token(word), lang) is not None


def sample(lang: str) -> list[str]:
    """Every 500th word of the language's dictionary, capitalised too, and words it does not hold."""
    words = list(DefaultDictionaryFactory(cache_max_size=0).get_dictionary(lang))[::500]
    return words + [w.capitalize() for w in words] + ["xqzv", "Anne", "slagit", "don't", "fell", "gick", "ramlade"]


@pytest.mark.parametrize("lang", ["sv", "en", "lv"])
def test_the_tries_answer_as_simplemma_does(lang: str) -> None:
    words = sample(lang)
    assert len(words) > 50
    assert [lemmas.lemmatize(w, lang) for w in words] == [simplemma.lemmatize(w, lang=lang) for w in words]
    assert [lemmas.is_known(w, lang) for w in words] == [simplemma.is_known(w, lang=lang) for w in words]
    assert lemmas.lemmatize("slog", "sv") == "slå"


def test_a_language_simplemma_has_no_dictionary_of_is_a_value_error_as_before() -> None:
    with pytest.raises(ValueError):
        simplemma.lemmatize("maxaan", lang="so")
    with pytest.raises(ValueError):
        lemmas.lemmatize("maxaan", "so")
    with pytest.raises(ValueError):
        lemmas.is_known("maxaan", "so")
    assert lemmas.is_known("", "sv") is False


def test_a_trie_is_built_once_and_mapped_by_the_next_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fresh(monkeypatch, tmp_path)
    assert lemma(first, "husen", "sv") == "hus"
    assert (tmp_path / "sv.marisa").is_file()
    assert not list(tmp_path.glob(".*partial"))

    def no_build(lang: str) -> None:
        raise AssertionError(f"built {lang} again")

    monkeypatch.setattr(lemmas, "_build", no_build)
    second = fresh(monkeypatch, tmp_path)
    assert lemma(second, "husen", "sv") == "hus"
    assert known(second, "brukare", "sv")


def test_two_openers_at_once_build_one_trie(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[str] = []
    real_build = lemmas._build

    def counted(lang: str):  # noqa: ANN202 - the trie type of marisa_trie
        builds.append(lang)
        return real_build(lang)

    monkeypatch.setattr(lemmas, "_build", counted)
    factories = [fresh(monkeypatch, tmp_path) for _ in range(3)]
    results: list[str] = []
    threads = [threading.Thread(target=lambda f=f: results.append(lemma(f, "gick", "sv"))) for f in factories]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["gå", "gå", "gå"]
    assert builds == ["sv"]  # the others waited for the lock and mapped the saved trie


def test_a_damaged_trie_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "en.marisa").write_bytes(b"not a trie" * 100)
    factory = fresh(monkeypatch, tmp_path)
    assert lemma(factory, "fell", "en") == simplemma.lemmatize("fell", lang="en")
    assert (tmp_path / "en.marisa").stat().st_size > 1000


def test_a_cache_folder_that_cannot_be_written_keeps_the_trie_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    factory = fresh(monkeypatch, blocker / "lemmas")
    assert lemma(factory, "husen", "sv") == "hus"
    assert lemmas.CACHE_ENV in caplog.text


def test_warm_up_opens_the_served_languages_simplemma_knows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    factory = fresh(monkeypatch, tmp_path)
    monkeypatch.setattr(lemmas, "FACTORY", factory)
    lemmas.warm_up(["sv", "so", "lv"])  # Somali: no dictionary, skipped
    assert sorted(p.name for p in tmp_path.glob("*.marisa")) == ["lv.marisa", "sv.marisa"]


def test_the_setting_names_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_lemma_cache(tmp_path / "lists", monkeypatch)
    assert Settings().lemma_cache_dir == tmp_path / "lists"  # the same variable, read with the other settings
    lemmas.configure(tmp_path / "set")
    assert lemmas.cache_dir() == tmp_path / "set"
