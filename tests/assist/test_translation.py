"""Cross-language term matching: the FreeDict reader, and the grounding check's use of it (a question's words found
in a routine written in another language, and never "no routine mentions" a word that routine says)."""

import gzip
import os
from pathlib import Path

import pytest
from haystack import Document

from assist import translation
from assist.grounding import Lexicon, assess, key_terms
from assist.translation import Translations, parse_entry
from tests.assist.conftest import use_lemma_cache

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(n: int) -> str:
    out = ""
    while True:
        out = _ALPHABET[n % 64] + out
        n //= 64
        if not n:
            return out


def write_dictd(folder: Path, name: str, entries: dict[str, str]) -> None:
    """A dictionary in dictd's format (an index of base64 offsets, and the entries gzipped), as FreeDict ships."""
    body = b""
    index = ["00databaseshort\tA\tB"]
    for head, text in entries.items():
        raw = f"{head} /x/\n{text}\n".encode()
        index.append(f"{head}\t{_b64(len(body))}\t{_b64(len(raw))}")
        body += raw
    (folder / f"{name}.index").write_text("\n".join(index) + "\n", encoding="utf-8")
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(body))


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tables of these made-up dictionaries are saved in the test's folder, not the machine's cache."""
    return use_lemma_cache(tmp_path / "cache", monkeypatch)


def dictionaries(tmp_path: Path) -> Translations:
    write_dictd(tmp_path, "freedict-swe-eng", {"nyckel": "key, wrench", "lyftsele": "sling", "brukare": "user"})
    write_dictd(tmp_path, "freedict-deu-swe", {"schlüssel": "1. nyckel\n2. klav", "verloren": "förlorad"})
    return Translations(tmp_path)


def test_entries_keep_short_translations_and_drop_explanations():
    head, found = parse_entry("nyckel /ˈnʏkːəl/ <noun>\n1. key, wrench\nEtt verktyg som öppnar ett lås och mycket mer.")
    assert head == "nyckel"
    assert found == ["key", "wrench"]


def test_pairs_read_both_ways_and_unknown_words_give_nothing(tmp_path):
    t = dictionaries(tmp_path)
    assert t.translate("nyckel", "sv", "en") == ["key", "wrench"]
    assert t.translate("key", "en", "sv") == ["nyckel"]  # the swe-eng file read backwards
    assert t.translate("Schlüssel", "de", "sv") == ["nyckel", "klav"]
    assert t.translate("ramlat", "sv", "en") == []
    assert t.translate("nyckel", "sv", "fi") == []  # no such dictionary
    assert not Translations(tmp_path / "none").pairs()


def test_a_pair_is_parsed_once_and_mapped_after_that(tmp_path, own_cache, monkeypatch):
    first = dictionaries(tmp_path)
    assert first.translate("nyckel", "sv", "en") == ["key", "wrench"]
    assert first.translate("user", "en", "sv") == ["brukare"]  # a pair's other direction: a table of its own
    assert len(list(own_cache.glob("translations-*.marisa"))) == 2

    def no_parse(index: Path) -> None:
        raise AssertionError(f"parsed {index} again")

    monkeypatch.setattr(translation, "Dictionary", no_parse)
    again = Translations(tmp_path)  # another process, or the next start
    assert again.translate("nyckel", "sv", "en") == ["key", "wrench"]
    assert again.translate("user", "en", "sv") == ["brukare"]


def test_an_updated_dictionary_is_parsed_again(tmp_path, own_cache):
    assert dictionaries(tmp_path).translate("nyckel", "sv", "en") == ["key", "wrench"]
    write_dictd(tmp_path, "freedict-swe-eng", {"nyckel": "key, clef"})  # the package updated
    later = os.stat(tmp_path / "freedict-swe-eng.index").st_mtime_ns + 10**9
    os.utime(tmp_path / "freedict-swe-eng.index", ns=(later, later))
    assert Translations(tmp_path).translate("nyckel", "sv", "en") == ["key", "clef"]


def _docs(texts: list[tuple[str, str, str]]) -> list[Document]:
    return [
        Document(content=t, meta={"doc_id": f"r{n}", "language": lang, "collection": c, "relevance": 0.85})
        for n, (t, c, lang) in enumerate(texts)
    ]


def test_a_word_an_english_routine_says_is_not_named_missing_in_a_swedish_question(tmp_path):
    texts = [
        ("Use the sling and the ceiling hoist; never lift alone.", "home_care", "en"),
        ("Ring sjuksköterskan om brukaren har ramlat.", "home_care", "sv"),
    ]
    lex = Lexicon.from_texts(texts)
    t = dictionaries(tmp_path)
    without = assess("var finns lyftsele", _docs(texts), "sv", lex, None, ["home_care"])
    with_dictionary = assess("var finns lyftsele", _docs(texts), "sv", lex, None, ["home_care"], translator=t)
    # The English routine says "sling": "no routine mentions lyftsele" would be false, with or without a dictionary.
    assert without.uncovered == []
    assert with_dictionary.uncovered == []
    # The dictionary changes what is claimed, not the features the calibration reads.
    assert with_dictionary.features == without.features


def test_a_word_is_named_missing_only_when_every_routine_language_was_checked(tmp_path):
    texts = [
        ("Use the sling and the ceiling hoist.", "home_care", "en"),
        ("Ring sjuksköterskan om brukaren har ramlat.", "home_care", "sv"),
    ]
    lex = Lexicon.from_texts(texts)
    t = dictionaries(tmp_path)
    # "nyckel" translates to "key"/"wrench", which no routine says either: checked in both languages.
    assert "nyckel" in assess("var är nyckel", _docs(texts), "sv", lex, None, ["home_care"], translator=t).uncovered
    # "semester" has no translation here: the English routine cannot be checked, so nothing is claimed.
    assert assess("hur många semesterdagar", _docs(texts), "sv", lex, None, ["home_care"], translator=t).uncovered == []
    # A collection written in Swedish only needs no translation.
    sv_only = Lexicon.from_texts([("Personalen planerar dagar och veckor i schemat.", "general", "sv"), *texts])
    gap = assess("hur många semesterdagar", _docs(texts), "sv", sv_only, None, ["general"], translator=t)
    assert gap.uncovered == ["semester"]


def test_a_german_question_s_words_are_known_to_a_swedish_routine_through_the_dictionary(tmp_path):
    texts = [("Om du har förlorad nyckel, ring enhetschefen direkt.", "home_care", "sv")]
    lex = Lexicon.from_texts(texts)
    keys = key_terms("Schlüssel verloren was tun", "de", lex, None, dictionaries(tmp_path))
    schluessel = next(t for t in keys.terms if t.word == "schlüssel")
    assert schluessel.translated == {"sv"}
    assert any(lex.mentioned(s, ["home_care"]) for s in schluessel.translations)
    assert not key_terms("Schlüssel verloren was tun", "de", lex).terms[0].translations
