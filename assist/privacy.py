"""Replaces personal data in a question before anything is logged or sent to a model.

Swedish personal identity numbers (checksum and date checked, coordination numbers too), phone numbers
(`phonenumbers`, region SE), e-mail addresses, street addresses and postal codes, and people's names.
Presidio's Swedish recogniser was the first choice, but Presidio needs spaCy plus a language model fetched at
install or run time, which city networks and these machines cannot reach; the checks here follow its rules.

Names are found without a model: given names and surnames from Faker's person lists (MIT; Swedish, Nordic,
Finnish, Polish, Turkish, Arabic, Pakistani, Kenyan, Algerian, Balkan and other locales, which in Sweden's case
come from the population register's most common names) plus `data/names_extra.txt` (Somali, Tigrinya, Kurdish,
Persian, Arabic and Bosnian names those lists lack), combined with cues ("brukaren", "barnet", "mamma till",
"heter", "Mr"), capitalisation and surname shapes (-sson, -berg, -nen, -ić, -ski, ...). A name that is also a
common word (`data/name_words.txt`: "per", "hans", "bo", "klara") needs a cue, a surname beside it, or a capital
letter mid-sentence. bench/bench_privacy.py measures recall and false positives.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import import_module
from importlib.resources import files

import phonenumbers

from assist import lemmas

PNR = re.compile(r"(?<![\d-])(\d{2})?(\d{2})(\d{2})(\d{2})([-+ ]?)(\d{3})(\d)(?![\d-])")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A payment card number: 13 to 19 digits, in groups or not, whose Luhn check holds ("4111 1111 1111 1111").
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")

# --- birth dates ---------------------------------------------------------------------------------------------------
# A date is personal data when it is someone's birth date: after "född", "f.", "födelsedatum", "born", "date of
# birth", "DOB". A date alone ("2025-01-01", "den 12 mars") is the question's own and stays.
_MONTHS = (
    r"januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december|"
    r"january|february|march|may|june|july|august|october|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|okt|oct|nov|dec"
)
_DAY = r"(?:[0-2]?\d|3[01])(?::[ae]|st|nd|rd|th)?"
_DATE = (
    r"(?:(?:19|20)?\d{2}-?[01]\d-?[0-3]\d(?!\d)"  # 1945-03-12, 19450312, 450312
    r"|[0-3]?\d[./][01]?\d(?:[./ ]\s?(?:19|20)?\d{2})(?!\d)"  # 12/3 1945, 12.03.1945, 12/03/45
    rf"|{_DAY}\s+(?:of\s+)?(?:{_MONTHS})\.?,?\s+(?:19|20)\d{{2}}"  # 12 mars 1945, 12th of March 1945
    rf"|(?:{_MONTHS})\.?\s+{_DAY},?\s+(?:19|20)\d{{2}}"  # March 12, 1945
    r")"
)
BIRTH_DATE = re.compile(
    r"(?i:(?<![^\W\d_])(?:född|födda|föddes|f\.|födelsedatum|födelsedag|born|birth\s+date|date\s+of\s+birth|"
    r"d\.?o\.?b\.?|birthday)(?:\s*:)?\s+(?:(?:den|on|the)\s+)?)"
    rf"(?P<date>(?i:{_DATE}))(?![\w])"
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

# --- addresses ----------------------------------------------------------------------------------------------------
# A proper noun ending in a street word, then a house number: "Storgatan 3B", "Rinkebystråket 12", "Sankt
# Eriksgatan 101". In lower case only the unmistakable endings count: "parkeringsplats 3" and "våningsplan 3"
# are not addresses, "drottninggatan 3" is.
_LETTERS = "A-Za-zÅÄÖåäöÉéÜüØøÆæ"
_SUFFIX_ANY = (
    r"gatan|gata|vägen|väg|gränden|gränd|stråket|stråk|backen|backe|torget|torg|allén|allé|alle|stigen|stig|plan|"
    r"leden|led|platsen|plats|gången|gång|slingan|slinga|kroken|krok|terrassen|promenaden|kajen|stranden|strand|"
    r"parken|ringen|liden|hagen|höjden|svängen|sväng|bryggan|brygga|udden|udde"
)
_SUFFIX_LOWER = (
    r"gatan|gata|vägen|gränden|gränd|stråket|torget|allén|backen|stigen|leden|slingan|promenaden|svängen|bryggan|"
    r"udden"
)
_PREFIX = r"(?:(?:Sankt|S:t|St\.|Norra|Södra|Östra|Västra|Stora|Lilla|Gamla|Nya|Övre|Nedre)\s+)?"
# A house number, then a letter written on ("31b") or spaced and upper case ("5 A"); never "7 i dag".
_NUMBER = rf"\s+\d{{1,4}}(?:(?:[A-Za-z]|\s[A-Z])(?![{_LETTERS}\d]))?"
_FLAT = r"(?:,?\s*(?:lgh|lägenhet)\.?\s*\d{3,4})?(?:,?\s*\d\s?tr\b)?"
STREET = re.compile(
    rf"(?<![{_LETTERS}])(?:{_PREFIX}[A-ZÅÄÖ][{_LETTERS}-]*?(?:{_SUFFIX_ANY})"
    rf"|(?i:(?:sankt\s+|s:t\s+|norra\s+|södra\s+|östra\s+|västra\s+|stora\s+|lilla\s+)?[a-zåäöéü]{{2,}}?"
    rf"(?:{_SUFFIX_LOWER})))"
    rf"{_NUMBER}{_FLAT}"
)
# Two words: "Hagsätra torg 5", "Tensta allé 8", "södra vägen 9".
STREET_TWO_WORDS = re.compile(
    rf"(?<![{_LETTERS}])(?:[A-ZÅÄÖ][{_LETTERS}-]+|(?i:södra|norra|östra|västra|stora|lilla|gamla|nya))"
    rf"\s+(?i:gata|gatan|väg|vägen|torg|allé|alle|backe|gränd|plats|stig|strand){_NUMBER}{_FLAT}"
)
# English forms, the number first: "14 Baker Street", "221B Baker St.", "3 Acacia Avenue".
_STREET_EN = (
    r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Way|Court|Ct|Close|Place|Pl|Square|Sq|Gardens|Crescent|"
    r"Terrace|Boulevard|Blvd|Row|Mews|Walk|Hill"
)
STREET_ENGLISH = re.compile(
    rf"(?<![{_LETTERS}\d])\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][{_LETTERS}'-]+\s+){{1,3}}(?:{_STREET_EN})\b\.?"
)
FLAT = re.compile(r"\b(?:lgh|lägenhet)\.?\s*\d{3,4}\b", re.IGNORECASE)
# "163 64 Spånga", "postnummer 12345".
POSTAL_CODE = re.compile(
    r"(?<![\d-])\d{3}\s?\d{2}(?=\s+[A-ZÅÄÖ][a-zåäö]+)(?![\d-])|(?i:(?<=postnummer\s)|(?<=postnr\s))\d{3}\s?\d{2}\b"
)

# --- names --------------------------------------------------------------------------------------------------------
NAME_LOCALES = (
    "sv_SE", "da_DK", "no_NO", "fi_FI", "et_EE", "pl_PL", "lt_LT", "lv_LV", "ro_RO", "hr_HR", "tr_TR", "az_AZ",
    "en_PK", "fr_DZ", "en_KE", "ha_NG", "de_DE", "en_US", "en_GB", "es_ES",
)
_LATIN = re.compile(rf"[{_LETTERS}À-ÖØ-öø-žəƏ'’ -]+")
TOKEN = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# Words after which the next word is a person: "brukaren Lisa", "barnet heter omar", "Mr Andersson".
CUES = {
    "brukaren", "brukare", "brukarna", "kunden", "kund", "patienten", "patient", "klienten", "klient", "barnet",
    "eleven", "elev", "låntagaren", "låntagare", "besökaren", "vårdnadshavaren", "vårdnadshavare", "heter",
    "kallas", "herr", "fru", "kollegan", "kollega", "dottern", "sonen", "mamman", "pappan", "flickan", "pojken",
    "grannen", "anhörige", "mr", "mrs", "ms", "miss", "dr", "named", "called", "client", "resident",
    "child", "pupil", "borrower", "colleague",
    # people at work named by their post: "min chef Johansson", "sjuksköterskan Lind"
    "chef", "chefen", "enhetschef", "enhetschefen", "arbetsledaren", "samordnaren", "handläggaren", "sjuksköterskan",
    "läkaren", "doktor", "rektor", "rektorn", "förskolläraren", "läraren", "fröken", "bibliotekarien",
    "boss", "manager", "supervisor", "nurse", "doctor", "teacher", "neighbour", "neighbor",
}
# "mamma till X", "pappa till X".
PARENT_CUES = {"mamma", "pappa", "mor", "far", "förälder", "föräldern", "vårdnadshavare", "mother", "father", "parent"}
PARTICLES = {"al", "el", "bin", "ibn", "abu", "van", "von", "de", "da", "di", "af", "ter", "ben"}
# Words never taken for a name, whatever the lists say.
STOP = {
    "jag", "du", "han", "hon", "vi", "ni", "de", "den", "det", "en", "ett", "och", "eller", "men", "om", "på", "i",
    "till", "från", "med", "av", "för", "har", "är", "var", "kan", "ska", "vill", "får", "måste", "inte", "alla",
    "the", "a", "an", "and", "or", "is", "are", "was", "to", "of", "in", "on", "at", "for", "with", "my", "me",
    "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november",
    "december", "january", "february", "march", "may", "june", "july", "august", "october", "måndag", "tisdag",
    "onsdag", "torsdag", "fredag", "lördag", "söndag", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "sek", "kl", "ca", "st", "tr", "lgh", "ssk", "usk",
    # languages, capitalised in English mid-sentence and surnames in Faker's lists ("in English")
    "english", "swedish", "finnish", "polish", "german", "french", "spanish", "arabic", "somali", "turkish",
    "persian",
    # titles: cues for the next word, never a name themselves
    "herr", "fru", "mr", "mrs", "ms", "miss", "dr",
    # spoken Swedish the word lists lack
    "stan", "dom", "nån", "nåt", "sån", "mej", "dej", "sej", "ju", "typ", "asså",
    # Somali particles that are also given names ("Goorma ayaan ...")
    "ayaan", "ayuu", "ayay", "ayey", "waan", "waxaan", "maxaan", "iyo",
}
# Abbreviations that are also given names: a name only when capitalised mid-sentence ("och Tim Ek", not "2 tim").
ABBREVIATIONS = {"tim", "min", "max"}
# Common words that a flattened table or a heading capitalises mid-sentence ("temperaturer Max 26 °C"): a capital
# alone does not make them names; a surname beside them still does.
MID_SENTENCE_WORDS = {"andra", "alla", "inga", "man", "bara", "max", "min", "dag", "sol", "vid", "över", "under"}
# Names in fixed expressions that mean no person: the air-raid siren, a card game, the speaking clock, the duties
# to report wrongs in social care and health care.
NOT_PEOPLE = re.compile(r"\b(?i:hesa\s+fredrik|svarte\s+petter|fröken\s+ur|lex\s+sarah|lex\s+maria)\b")
# Surname endings. Capitalised words may have any; lower-case ones only endings that no common Swedish word has
# ("dricka", "svenska", "brev" and "medicinen" end like Polish, Slavic and Finnish surnames).
SURNAME_SHAPE = re.compile(
    r".{2,}(?:sson|son|sen|ssen|berg|bergh|ström|strom|lund|qvist|kvist|quist|gren|holm|dahl|stedt|blad|bäck|"
    r"nen|inen|ić|ič|vić|vic|ski|ska|cki|cka|wicz|czyk|oğlu|oglu|zadeh|zade|pour|nejad|yan|ian|ov|ova|ev|eva)$"
)
# Surname endings that no Swedish place or common word has (unlike -holm, -berg, -lund: "Stockholm"), so that a
# capitalised word with one is a surname even alone and unlisted ("Zetterqvist").
_SWEDISH_SURNAMES = re.compile(r".{2,}(?:sson|qvist|kvist|quist)")
SURNAME_SHAPE_LOWER = re.compile(
    r".{2,}(?:sson|berg|bergh|ström|qvist|kvist|quist|gren|holm|dahl|stedt|ić|vić|wicz|czyk|oğlu|zadeh|pour)$"
)
# Verbs after which a capitalised surname that starts the sentence is its subject: "Svensson har ramlat".
PERSON_VERBS = {
    "har", "hade", "är", "var", "vill", "kan", "ska", "får", "måste", "säger", "sa", "sade", "ringer", "ringde",
    "svarar", "tycker", "behöver", "vägrar", "ramlade", "mår", "bor", "kommer", "kom", "glömde", "glömmer", "fick",
    "blev", "gick", "tog", "gav", "äter", "sover", "saknar",
    "has", "had", "is", "was", "wants", "can", "will", "says", "said", "calls", "called", "needs", "refuses", "fell",
    "lives", "forgot",
}
ENGLISH_HINTS = {
    "the", "is", "are", "was", "what", "do", "does", "can", "how", "to", "my", "if", "should", "when", "who", "and",
    "their", "they", "someone", "of", "a", "it", "this", "that", "with", "have", "has", "you", "we", "not", "an",
    "there", "where", "which", "will", "would", "his", "her", "in", "your", "our", "be", "been", "for", "from",
    "by", "at", "on", "or", "any", "never", "use", "please",
}


def _read_lists(name: str) -> dict[str, set[str]]:
    """`section:` headed lists of words, one or more a line; '#' starts a comment."""
    out: dict[str, set[str]] = {}
    section = ""
    for raw in (files("assist") / "data" / name).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith(":") and " " not in line:
            section = line[:-1]
            continue
        out.setdefault(section, set()).update(w.lower() for w in line.split())
    return out


@lru_cache(maxsize=1)
def load_names(*, extra: bool = True) -> tuple[frozenset[str], frozenset[str]]:
    """(given names, surnames), lower case: Faker's person lists for NAME_LOCALES plus data/names_extra.txt."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in NAME_LOCALES:
        provider = import_module(f"faker.providers.person.{locale}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            first.update(n.lower() for n in getattr(provider, attr, None) or () if _LATIN.fullmatch(n))
        last.update(n.lower() for n in getattr(provider, "last_names", None) or () if _LATIN.fullmatch(n))
    if extra:
        lists = _read_lists("names_extra.txt")
        first |= lists.get("first", set())
        last |= lists.get("last", set())
    return frozenset(first), frozenset(last)


@lru_cache(maxsize=1)
def _name_words() -> tuple[frozenset[str], frozenset[str]]:
    lists = _read_lists("name_words.txt")
    return frozenset(lists.get("sv", set())), frozenset(lists.get("en", set()))


def warm_up_scrub() -> None:
    """Load the name lists now (about half a second) rather than on the first question."""
    load_names()
    _name_words()


class _Tok:
    """One word of the question and what the name lists say about it."""

    __slots__ = (
        "ambiguous", "cap", "end", "first", "last", "low", "native", "start", "starts_sentence", "text", "word",
    )

    def __init__(self, m: re.Match[str], before: str | None, english: bool, language: str = "") -> None:
        first, last = load_names()
        sv_words, en_words = _name_words()
        self.text = m.group(0)
        self.start, self.end = m.start(), m.end()
        # `before` is the text since the previous word; None for the first word.
        starts_sentence = before is None or bool(re.search(r"[.!?:;\n–|(\"]\s*$", before))
        self.low = self.text.lower()
        parts = [p for p in re.split(r"[-'’]", self.low) if p]
        self.first = all(p in first for p in parts)
        self.last = self.low in last or (len(parts) > 1 and parts[0] in PARTICLES and parts[-1] in first | last)
        self.cap = self.text[0].isupper() and not self.text.isupper() and len(self.text) > 1
        shape = SURNAME_SHAPE if self.cap else SURNAME_SHAPE_LOWER
        self.last = self.last or (len(parts) == 1 and shape.fullmatch(self.low) is not None)
        # `ambiguous`: a common word in this text's language; `word`: a common word in Swedish or English.
        self.ambiguous = self.low in STOP or self.low in sv_words or (english and self.low in en_words)
        # A word of the question's own language when it is not Swedish or English: the name lists hold "Anne"
        # (Turkish "mother"), "Tage" (German "days"), "aina" (Finnish "always").
        # In such a text a name is written with a capital; a lower-case word is one of its words ("heli", Somali).
        self.native = bool(language) and (_known_word(self.low, language) or _known_word(self.text, language))
        self.ambiguous = self.ambiguous or self.native or (bool(language) and self.text[0].islower())
        named = self.cap and not starts_sentence and self.low not in MID_SENTENCE_WORDS
        self.ambiguous = self.ambiguous or (self.low in ABBREVIATIONS and not named)
        self.word = self.ambiguous or self.low in en_words
        self.starts_sentence = starts_sentence


@lru_cache(maxsize=100_000)
def _known_word(word: str, language: str) -> bool:
    """Is `word` in simplemma's word list (assist.lemmas) of `language` (a language other than Swedish or English)?"""
    try:
        return bool(lemmas.is_known(word, language))
    except ValueError:  # a language simplemma has no list for
        return False


def _other_language(text: str) -> str:
    """The question's language when it is clearly neither Swedish nor English (else ""): then its common words are
    not names."""
    from assist.languages import detect_language  # noqa: PLC0415 - the detector loads on first use

    language = detect_language(text, default="sv")
    return "" if language in ("sv", "en") else language


def _tokens(text: str) -> list[_Tok]:
    english = len(ENGLISH_HINTS & {w.lower() for w in TOKEN.findall(text)}) >= 2
    language = _other_language(text) if len(TOKEN.findall(text)) >= 3 else ""
    out: list[_Tok] = []
    prev_end = 0
    for m in TOKEN.finditer(text):
        out.append(_Tok(m, text[prev_end : m.start()] if out else None, english, language))
        prev_end = m.end()
    return out


def _cued(toks: list[_Tok], i: int, text: str) -> bool:
    """Does a cue word stand right before token i?"""
    if i == 0 or not text[toks[i - 1].end : toks[i].start].isspace():
        return False
    prev = toks[i - 1].low
    if prev in CUES:
        return True
    return prev in {"till", "to", "of"} and i >= 2 and toks[i - 2].low in PARENT_CUES


def _starts_name(toks: list[_Tok], i: int, text: str) -> bool:
    t = toks[i]
    if t.low in STOP or t.low in CUES or len(t.low) < 2:
        return False
    nxt = toks[i + 1] if i + 1 < len(toks) and text[t.end : toks[i + 1].start] == " " else None
    if _cued(toks, i, text):
        # "brukaren karzan rashid": after a cue an unlisted word counts when a listed name follows it.
        unlisted_before_name = not t.word and nxt is not None and not nxt.cap and _continues(nxt)
        return t.cap or ((t.first or t.last) and not t.ambiguous) or unlisted_before_name
    if t.first and not t.ambiguous and t.cap:
        return True
    if t.first and not t.word:
        # A lower-case given name alone must be long enough not to be an abbreviation ("tim", "ann.").
        return len(t.low) >= 4 or (nxt is not None and _continues(nxt))
    if t.first and t.cap and not t.starts_sentence and t.low not in MID_SENTENCE_WORDS and not t.native:
        # "ge Klara medicinen": a capital mid-sentence settles an ambiguous name (not a German noun: "viele Tage")
        return True
    if t.cap and not t.word and _SWEDISH_SURNAMES.fullmatch(t.low):
        return True  # a surname alone, of a shape no other word has: "Zetterqvist fick fel svar"
    if t.cap and not t.word and t.low in load_names()[1]:
        # A listed surname alone: "fråga Wallin" mid-sentence; first in a sentence only before a verb that has a
        # person for its subject ("Wallin har ramlat"), as the lists hold words of other languages ("Cik").
        return not t.starts_sentence or (nxt is not None and nxt.low in PERSON_VERBS)
    # "Per Svensson", "Mattias Ek": a given name, even an ambiguous one, before a surname; or an unlisted
    # capitalised word before a listed surname ("Yonas Tesfay"), but not before a mere surname shape
    # ("Region Stockholm").
    if nxt is None or not (t.cap and nxt.cap and nxt.last and not nxt.ambiguous):
        return False
    return t.first or (not t.ambiguous and nxt.low in load_names()[1])


def _continues(t: _Tok) -> bool:
    """May `t` be the next part of a name already begun?"""
    if t.low in STOP:
        return False
    if t.cap:
        return not t.ambiguous or t.first or t.last
    return (t.first or t.last) and not t.ambiguous


def _fixed_expressions(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in NOT_PEOPLE.finditer(text)]


def find_names(text: str) -> list[tuple[int, int]]:
    """(start, end) of each person's name in `text`."""
    toks = [t for t in _tokens(text) if not any(a <= t.start < b for a, b in _fixed_expressions(text))]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        if not _starts_name(toks, i, text):
            i += 1
            continue
        j = i
        while j + 1 < len(toks) and j - i < 3 and text[toks[j].end : toks[j + 1].start] == " ":
            nxt = toks[j + 1]
            if _continues(nxt):
                j += 1
            elif nxt.low in PARTICLES and j + 2 < len(toks) and toks[j + 2].cap and _continues(toks[j + 2]):
                j += 2
            else:
                break
        spans.append((toks[i].start, toks[j].end))
        i = j + 1
    return spans


PLACEHOLDERS = {
    "personnummer": "[PERSONNUMMER]",
    "phone": "[TELEFON]",
    "email": "[E-POST]",
    "address": "[ADRESS]",
    "name": "[NAMN]",
    "card": "[KORTNUMMER]",
    "birth_date": "[FÖDELSEDATUM]",
}


def luhn_ok(digits: str) -> bool:
    """Luhn check over the 10 digits YYMMDDNNNC (or any number of digits, the check digit last)."""
    total = 0
    parity = len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == parity else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _valid_card(m: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", m.group(0))
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def _valid_pnr(m: re.Match[str]) -> bool:
    century, yy, mm, dd, _sep, nnn, check = m.groups()
    day = int(dd)
    if day > 60:  # coordination number: day + 60
        day -= 60
    year = int((century or "19") + yy)
    try:
        date(year, int(mm), day)
    except ValueError:
        return False
    return luhn_ok(yy + mm + dd + nnn + check)


@dataclass
class ScrubResult:
    """The scrubbed text and what was replaced (kinds only, never the values)."""

    text: str
    found: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.found)


def scrub(text: str) -> ScrubResult:
    """Replace personal data in `text` with placeholders."""
    found: dict[str, int] = {}

    def sub(pattern: re.Pattern[str], kind: str, s: str, check: object = None) -> str:
        def repl(m: re.Match[str]) -> str:
            if check is not None and not check(m):  # type: ignore[operator]
                return m.group(0)
            found[kind] = found.get(kind, 0) + 1
            return PLACEHOLDERS[kind]

        return pattern.sub(repl, s)

    def birth_date(m: re.Match[str]) -> str:
        found["birth_date"] = found.get("birth_date", 0) + 1
        return m.group(0)[: m.start("date") - m.start()] + PLACEHOLDERS["birth_date"]

    def replace_spans(s: str, spans: list[tuple[int, int]], kind: str) -> str:
        for start, end in reversed(spans):
            s = s[:start] + PLACEHOLDERS[kind] + s[end:]
        if spans:
            found[kind] = found.get(kind, 0) + len(spans)
        return s

    out = sub(CARD, "card", text, check=_valid_card)
    out = sub(PNR, "personnummer", out, check=_valid_pnr)
    out = BIRTH_DATE.sub(birth_date, out)
    out = sub(EMAIL, "email", out)
    spans = []
    for m in phonenumbers.PhoneNumberMatcher(out, "SE", leniency=phonenumbers.Leniency.POSSIBLE):
        digits = re.sub(r"\D", "", m.raw_string)
        if len(digits) >= 7 and not ISO_DATE.fullmatch(m.raw_string.strip()):
            spans.append((m.start, m.end))
    out = replace_spans(out, spans, "phone")
    for pattern in (STREET, STREET_TWO_WORDS, STREET_ENGLISH, FLAT, POSTAL_CODE):
        out = sub(pattern, "address", out)
    return ScrubResult(replace_spans(out, find_names(out), "name"), found)
