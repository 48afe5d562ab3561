"""How the text surfaces word the answer states, table rows in quotes, and `assist ask`'s printing of each state."""

import json
import subprocess
import sys

import pytest

from assist.cli import _print_answer
from assist.schemas import Answer, Citation
from assist.states import closest_preamble, not_mentioned, readable_quote

LOANS = Citation(n=1, doc_id="bibliotek-lan", title="Lån och omlån", source="library/bibliotek-lan.md",
                 section="Lånetider", quote="Böcker och ljudböcker | Lånetid: 28 dagar | Omlån: 3 gånger")


class TestReadableQuote:
    def test_row_quoted_with_headers_becomes_one_cell_per_line(self) -> None:
        assert readable_quote(LOANS.quote) == "Böcker och ljudböcker\n  Lånetid: 28 dagar\n  Omlån: 3 gånger"

    def test_markdown_table_gets_its_headers_in_front_of_each_cell(self) -> None:
        quote = (
            "Lånetider:\n| Medietyp | Lånetid | Omlån |\n|---|:---:|---|\n"
            "| Böcker | 28 dagar | 3 gånger |\n| Filmer | 7 dagar | Lånetid: ingen |\nSlut."
        )
        assert readable_quote(quote).splitlines() == [
            "Lånetider:",
            "Böcker", "  Lånetid: 28 dagar", "  Omlån: 3 gånger",
            "Filmer", "  Lånetid: 7 dagar", "  Omlån: Lånetid: ingen",
            "Slut.",
        ]

    def test_text_without_tables_is_unchanged(self) -> None:
        quote = "Ring sjuksköterskan.\n\n- Steg 1\n- Steg 2"
        assert readable_quote(quote) == quote


class TestStatePhrases:
    def test_closest_preamble_in_the_answers_language_english_otherwise(self) -> None:
        sv = Answer(answer="x", status="closest", uncovered=["semester", "OB"], language="sv")
        assert closest_preamble(sv) == ["Rutinerna svarar inte direkt på detta.", "Ingen rutin nämner: semester, OB."]
        fi = Answer(answer="x", status="closest", uncovered=["loma"], language="fi")
        assert closest_preamble(fi)[1] == "No routine mentions: loma."

    def test_no_uncovered_terms_no_line(self) -> None:
        answer = Answer(answer="x", status="closest", language="en")
        assert not_mentioned(answer) == ""
        assert closest_preamble(answer) == ["The routines do not answer this directly."]


class TestAskPrinting:
    def test_closest_is_stated_first_and_its_text_quoted(self, capsys: pytest.CaptureFixture[str]) -> None:
        answer = Answer(answer="Böcker lånas i 28 dagar [1].", status="closest", uncovered=["laptop"],
                        language="sv", citations=[LOANS])
        _print_answer(answer)
        out = capsys.readouterr().out.splitlines()
        assert out[:2] == ["Rutinerna svarar inte direkt på detta.", "Ingen rutin nämner: laptop."]
        assert out[3] == "  | Böcker lånas i 28 dagar [1]."
        assert "Närmaste rutiner:" in out
        assert "Sources:" not in out
        assert out[-3:] == [
            "      \u201cBöcker och ljudböcker", "        Lånetid: 28 dagar", "        Omlån: 3 gånger\u201d",
        ]

    def test_answered_prints_the_text_then_sources(self, capsys: pytest.CaptureFixture[str]) -> None:
        answer = Answer(answer="Böcker lånas i 28 dagar [1].", language="sv", citations=[LOANS])
        _print_answer(answer)
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "Böcker lånas i 28 dagar [1]."
        assert "Sources:" in out
        assert not any("svarar inte direkt" in line for line in out)


def test_ask_json_carries_status_and_uncovered(store_dir) -> None:  # noqa: ANN001
    out = subprocess.run(
        [sys.executable, "-m", "assist.cli", "ask", "Var förvaras nycklarna?", "--role", "home-care", "--json",
         "--store", str(store_dir / "qdrant")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj["status"] in ("answered", "closest", "refused")
    assert obj["refused"] is (obj["status"] != "answered")
    assert isinstance(obj["uncovered"], list)
