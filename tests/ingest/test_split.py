"""Splitting by structure: headings, paragraphs, then size; never mid-sentence; tables keep their header."""

from ingest.split import split_pages


def test_heading_path_becomes_section():
    chunks = split_pages([("# Rutin\n\n## Före\n\nTvätta händerna.\n\n## Efter\n\nRapportera.", None)])
    assert [(c.section, c.text) for c in chunks] == [
        ("Rutin > Före", "Tvätta händerna."),
        ("Rutin > Efter", "Rapportera."),
    ]


def test_long_paragraph_cut_between_sentences_with_overlap():
    sentences = [f"Mening nummer {i} handlar om hur personalen arbetar säkert varje dag." for i in range(60)]
    chunks = split_pages([(" ".join(sentences), 1)], max_words=100)
    assert len(chunks) > 3
    for c in chunks:
        assert c.text.endswith(".") and c.page == 1
        assert len(c.text.split()) <= 100
    # one sentence of overlap between neighbours
    assert chunks[0].text.split(". ")[-1].rstrip(".") in chunks[1].text


def test_pages_are_kept_apart():
    chunks = split_pages([("Sida ett.", 1), ("Sida två.", 2)])
    assert [(c.text, c.page) for c in chunks] == [("Sida ett.", 1), ("Sida två.", 2)]


def test_long_table_split_by_rows_repeats_header():
    rows = "\n".join(f"| Rad {i} | Värde som är ganska långt för rad {i} |" for i in range(80))
    table = "| Namn | Värde |\n| --- | --- |\n" + rows
    chunks = split_pages([(table, None)], max_words=120)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.startswith("| Namn | Värde |\n| --- | --- |")
    assert sum(c.text.count("| Rad ") for c in chunks) == 80
