"""Grounding without a store: glossary files, key terms (stems, compounds, plurals, synonyms), table rows, the
extractive sentence choice and the calibration file."""

import json

import pytest
from haystack import Document

from assist.components.extractive import extract, passage_units
from assist.errors import ConfigError
from assist.glossary import load_glossary, parse_glossary
from assist.grounding import FEATURES, Lexicon, assess, key_terms, load_calibration


def test_glossary_groups_read_both_ways_and_phrases_match_whole():
    g = parse_glossary(
        '[terms]\n"ssk" = ["sjuksköterska"]\n"brukare" = ["kund", "omsorgstagare"]\n"lex" = ["lex sarah"]'
    )
    assert g.synonyms("SSK") == {"sjuksköterska"}
    assert g.synonyms("kund") == {"brukare", "omsorgstagare"}
    assert "sjuksköterska" in g.expansion("ring ssk nu").split()
    assert g.expansion("rasker") == ""
    assert "lex sarah" in g.matches("en anmälan enligt lex sarah")


def test_glossary_matches_an_inflected_form_with_a_stemmer():
    g = parse_glossary('[terms]\n"brukare" = ["kund"]')
    stem = {"brukaren": frozenset({1}), "brukare": frozenset({1}), "har": frozenset(), "ramlat": frozenset({2})}
    assert "kund" in g.expansion("brukaren har ramlat", lambda w: stem.get(w, frozenset()))
    assert g.expansion("brukaren har ramlat") == ""


def test_malformed_glossary_names_the_file_and_the_fix(tmp_path):
    (tmp_path / "home_care").mkdir()
    (tmp_path / "home_care" / "glossary.toml").write_text('[terms]\nssk = "sjuksköterska', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"home_care/glossary.toml.*fix the file"):
        load_glossary(tmp_path, ["home_care"])
    (tmp_path / "home_care" / "glossary.toml").write_text("[terms]\nssk = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="ssk"):
        load_glossary(tmp_path, ["home_care"])


def test_missing_glossary_is_empty_and_an_edit_is_read_without_restart(tmp_path):
    assert not load_glossary(tmp_path, ["library"])
    (tmp_path / "library").mkdir()
    path = tmp_path / "library" / "glossary.toml"
    path.write_text('[terms]\n"bibblan" = ["biblioteket"]\n', encoding="utf-8")
    assert load_glossary(tmp_path, ["library"]).synonyms("bibblan") == {"biblioteket"}
    path.write_text('[terms]\n"bibblan" = ["biblioteket", "filialen"]\n', encoding="utf-8")
    import os

    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    assert load_glossary(tmp_path, ["library"]).synonyms("bibblan") == {"biblioteket", "filialen"}


def small_lexicon() -> Lexicon:
    texts = [
        ("Ring sjuksköterskan dagtid inom 15 minuter om brukaren har ramlat.", "home_care", "sv"),
        ("Böcker och ljudböcker lånas i 28 dagar. Lånetiden står på kvittot med tid och datum.", "library", "sv"),
        ("Personalen planerar dagar och veckor i schemat.", "general", "sv"),
        ("Brandlarmet testas varje månad av personalen.", "home_care", "sv"),
    ]
    return Lexicon.from_texts(texts)


def test_a_compound_the_routines_lack_is_split_and_its_unknown_part_named():
    lex = small_lexicon()
    assert lex.split("semesterdagar") == ["semester", "dagar"]
    keys = key_terms("hur många semesterdagar har jag?", "sv", lex)
    (term,) = [t for t in keys.terms if t.word == "semesterdagar"]
    passage = lex.text_ids("Personalen planerar dagar och veckor.")
    assert 0 < term.found(passage) < 0.5  # "dagar" is common, "semester" is the rare part and absent
    assert keys.missing(passage) == ["semester"]


def test_rare_terms_weigh_more_than_common_ones():
    lex = small_lexicon()
    keys = key_terms("brandlarmet personalen", "sv", lex)
    weights = {t.word: t.weight for t in keys.terms}
    assert weights["brandlarmet"] > weights["personalen"]


def test_irregular_plural_and_glossary_synonym_count_as_found():
    lex = small_lexicon()
    glossary = parse_glossary('[terms]\n"ssk" = ["sjuksköterska"]')
    book = key_terms("hur länge får man låna en bok", "sv", lex)
    row = lex.text_ids("Böcker och ljudböcker | Lånetid: 28 dagar")
    assert {t.word for t in book.terms if t.found(row) == 1.0} >= {"bok", "låna"}
    ssk = key_terms("när ringer jag ssk", "sv", lex, glossary)
    assert ssk.coverage("Ring sjuksköterskan dagtid.") > key_terms("när ringer jag ssk", "sv", lex).coverage(
        "Ring sjuksköterskan dagtid."
    )


def test_irregular_forms_are_found_through_their_dictionary_form():
    texts = [
        ("Om brukaren har slagit i huvudet, ring 112.", "home_care", "sv"),
        ("If the client has fallen, call the nurse.", "home_care", "en"),
    ]
    lex = Lexicon.from_texts(texts)
    # "slog" and "slagit" share no stem; both are forms of "slå". "fell" and "fallen" are forms of "fall".
    slog = key_terms("brukaren slog huvudet", "sv", lex)
    assert slog.coverage(texts[0][0], "sv") == 1.0
    fell = key_terms("the client fell", "en", lex)
    assert fell.coverage(texts[1][0], "en") == 1.0


def test_a_typing_error_is_read_as_the_routines_word_it_is_one_edit_from():
    texts = [("Om brukaren är aggressiv, lämna bostaden och ring din kollega.", "home_care", "sv")]
    lex = Lexicon.from_texts(texts)
    assert lex.misspelt("aggresiv") == "aggressiv"
    assert lex.misspelt("kolega") == "kollega"
    assert lex.misspelt("akvarium") is None  # nothing near
    assert lex.misspelt("aggressiv") is None  # spelt right
    keys = key_terms("brukaren är aggresiv vad gör jag", "sv", lex)
    assert keys.coverage(texts[0][0], "sv") == 1.0


def _routines(lex_texts: list[tuple[str, str, str]]) -> list[Document]:
    return [
        Document(content=t, meta={"doc_id": f"r{n}", "language": lang, "collection": c, "relevance": 0.85})
        for n, (t, c, lang) in enumerate(lex_texts)
    ]


def test_uncovered_names_a_compound_part_only_when_it_is_a_word():
    texts = [
        ("Personalen planerar dagar och veckor i schemat.", "home_care", "sv"),
        ("Brukaren lever ensam och får besök varje dag.", "home_care", "sv"),
    ]
    lex = Lexicon.from_texts(texts)
    assert lex.split("leverantör") == ["leve", "rantör"]  # a known part, and a rest that is no word
    docs = _routines(texts)
    assert assess("hur många semesterdagar har jag", docs, "sv", lex, None, ["home_care"]).uncovered == ["semester"]
    gift = assess("får jag en gåva från en leverantör", docs, "sv", lex, None, ["home_care"])
    assert "leverantör" in gift.uncovered
    assert "rantör" not in gift.uncovered


def test_a_question_in_a_language_no_routine_uses_names_no_uncovered_words():
    texts = [("Personalen planerar semester och veckor i schemat.", "home_care", "sv")]
    lex = Lexicon.from_texts(texts)
    polish = assess("Ile dni urlopu mam w pierwszym roku?", _routines(texts), "pl", lex, None, ["home_care"])
    assert polish.features["foreign"] == 1.0
    assert polish.uncovered == []  # not "No routine mentions: ile, dni, urlopu, ..."


def test_table_rows_are_quoted_with_their_column_headers():
    text = (
        "## Låneregler\n| Medietyp | Lånetid | Omlån |\n| --- | --- | --- |\n"
        "| Böcker och ljudböcker | 28 dagar | Upp till 3 gånger |\n| Filmer | 14 dagar | 1 gång |\n\nHögst 50 lån."
    )
    units = passage_units(text)
    assert "Böcker och ljudböcker | Lånetid: 28 dagar | Omlån: Upp till 3 gånger" in units
    assert "Filmer | Lånetid: 14 dagar | Omlån: 1 gång" in units
    assert units[-1] == "Högst 50 lån."


def test_extract_quotes_the_sentence_carrying_the_key_terms_not_the_first_steps():
    doc = Document(
        content="1. Kontrollera att brukaren andas.\n2. Lägg en filt över brukaren.\n"
        "3. Ring sjuksköterskan på 08-123 40 20 inom 15 minuter.\n4. Skriv en avvikelse.",
        meta={"doc_id": "fall", "language": "sv"},
    )
    text = extract("vilket nummer ringer jag till sjuksköterskan?", [doc], "sv")
    assert "08-123 40 20" in text
    assert "filt" not in text


def test_extract_answers_a_fact_question_without_the_routines_other_figures():
    doc = Document(
        content="Kylda matlådor ska hålla högst 8 °C vid leverans.\nMät med sticktermometer i en låda per tur.\n"
        "Brukarens kylskåp ska hålla högst 5 °C.\nSläng mat som har passerat bäst före-datum.\n"
        "Personalen tvättar händerna.\nPersonalen byter förkläde.\nPersonalen torkar bänken.\n"
        "Lunchen levereras före klockan 12.",
        meta={"doc_id": "mat", "language": "sv"},
    )
    answer = extract("hur kall ska matlådan vara vid leverans", [doc], "sv")
    assert "8 °C" in answer.splitlines()[0]
    assert "klockan 12" not in answer
    assert len(answer.splitlines()) <= 3  # the fact and what qualifies it, not every figure of the routine
    other = Document(content="Frysen ska hålla minus 18 °C.", meta={"doc_id": "frys", "language": "sv"})
    assert "[2]" not in extract("hur kall ska matlådan vara vid leverans", [doc, other], "sv")  # top routine only


def test_extract_lets_a_routines_purpose_statement_not_crowd_out_its_steps(monkeypatch):
    from assist.components import extractive

    docs = [
        Document(
            content="Rutinen beskriver hur personalen gör när en brukare har ramlat i hemmet.",
            meta={"doc_id": "fall", "language": "sv", "section": "Fall hos brukare > Syfte"},
        ),
        Document(
            content="Ring sjuksköterskan direkt när en brukare har ramlat.\nLyft aldrig brukaren ensam.",
            meta={"doc_id": "fall", "language": "sv", "section": "Fall hos brukare > Arbetsgång"},
        ),
    ]
    question = "vad gör personalen när en brukare har ramlat i hemmet"
    assert "Ring sjuksköterskan" in extract(question, docs, "sv")
    monkeypatch.setattr(extractive, "FRAMING_WEIGHT", 1.0)  # the purpose statement, matched in full, would be all
    assert "Ring sjuksköterskan" not in extract(question, docs, "sv")


def test_extract_breaks_ties_by_passage_order_so_the_answer_is_stable():
    docs = [
        Document(content="Ring sjuksköterskan vid fall.", meta={"doc_id": "b"}),
        Document(content="Ring sjuksköterskan vid fall.", meta={"doc_id": "a"}),
        Document(content="Ring sjuksköterskan vid fall. Ring sjuksköterskan vid fall.", meta={"doc_id": "c"}),
    ]
    answers = {extract("ring sjuksköterskan", docs, "sv", max_sentences=1) for _ in range(20)}
    assert answers == {"- Ring sjuksköterskan vid fall. [1]"}


def test_packaged_calibration_loads_and_rewards_coverage():
    cal = load_calibration()
    assert set(cal.features) <= set(FEATURES)
    base = {f: 0.0 for f in FEATURES} | {"best_cosine": 0.86, "margin": 0.01}
    low = cal.probability(base | {"window_coverage": 0.1, "top_document_coverage": 0.1, "rarest_found": 0.0})
    high = cal.probability(base | {"window_coverage": 1.0, "top_document_coverage": 1.0, "rarest_found": 1.0})
    assert 0.0 <= low < high <= 1.0
    assert 0.0 < cal.threshold < 1.0
    assert cal.info["fitted_on"]["rows"] == "dev.jsonl"  # the test split is never fitted on


def test_broken_calibration_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "cal.json"
    bad.write_text(json.dumps({"features": ["best_cosine"], "mean": [0], "scale": [1], "coef": [1, 2],
                               "intercept": 0, "threshold": 0.5}), encoding="utf-8")
    with pytest.raises(ConfigError, match="calibrate.py"):
        load_calibration(bad)
    with pytest.raises(ConfigError, match="calibrate.py"):
        load_calibration(tmp_path / "missing.json")


@pytest.mark.parametrize("collection", ["home_care", "preschool", "library", "general"])
def test_each_collection_ships_a_readable_glossary(collection):
    from pathlib import Path

    knowledge = Path(__file__).resolve().parents[2] / "knowledge"
    assert (knowledge / collection / "glossary.toml").is_file()
    assert load_glossary(knowledge, [collection])
