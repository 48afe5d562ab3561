"""Write assist/data/name_words.txt: the given names and surnames the scrub knows that are also ordinary words.

A name that is also a common word ("per", "hans", "bo", "klara", "rita", "may", "mark") is not replaced on its own
in lower case, nor at the start of a sentence: only next to a surname, after a cue ("brukaren ..."), or capitalised
mid-sentence. Words come from Debian's word lists (wswedish: `apt-get install wswedish`; wamerican), lower-case
entries only (proper nouns there are capitalised). KEEP holds names whose other sense hardly occurs in staff
questions; they stay names.

    python scripts/build_name_words.py
"""

from pathlib import Path

from assist.privacy import load_names

SWEDISH = Path("/usr/share/dict/swedish")
ENGLISH = Path("/usr/share/dict/american-english")
OUT = Path(__file__).resolve().parent.parent / "assist" / "data" / "name_words.txt"
# Dictionary words that in a staff question are almost always the name.
KEEP = {
    "olle", "björn", "sten", "stig", "knut", "britt", "inger", "signe", "lotta", "ebba", "helga", "hulda", "ester",
    "frans", "lena", "lilja", "tindra", "valborg", "jarl", "kaj", "kåre", "örn", "inka", "tuva", "vilde", "karl",
    "svante", "ingrid", "gunnar",
}


def words(path: Path, encoding: str) -> set[str]:
    """Lower-case entries of a word list (its proper nouns are capitalised and left out)."""
    return {w.strip() for w in path.read_text(encoding=encoding).splitlines() if w[:1].islower()}


def main() -> None:
    first, last = load_names()
    names = first | last
    sv = sorted((names & words(SWEDISH, "latin-1")) - KEEP)
    en = sorted((names & words(ENGLISH, "utf-8")) - KEEP)
    header = (
        "# Names that are also ordinary words, written by scripts/build_name_words.py from Debian's word lists\n"
        "# (wswedish, wamerican). `sv:` words are ambiguous in any question, `en:` words only in English ones.\n"
    )
    OUT.write_text(header + "sv:\n" + "\n".join(sv) + "\nen:\n" + "\n".join(en) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(sv)} Swedish, {len(en)} English")  # noqa: T201


if __name__ == "__main__":
    main()
