"""What kind of fact a question asks for (a duration, a price, a count, a time, a phone number, a temperature, how
often, an age), and whether a sentence states one: an answer to "how long" must say how long, not only name the topic.

A question that states a quantity asks about the rule for it: "kan en 16-åring få meröppet" wants the age limit,
"brukaren vill att jag handlar för 800 kr" the amount allowed.

Swedish and English question words only, the languages the routines are written in; a question in another language
asks for no known kind, and nothing is required of its sentences.
"""

import re
from functools import lru_cache

DURATION = "duration"
MONEY = "money"
COUNT = "count"
TIME = "time"
PHONE = "phone"
TEMPERATURE = "temperature"
FREQUENCY = "frequency"
AGE = "age"

#: Question phrasings per kind (lower case, matched on word boundaries).
_ASKS: dict[str, tuple[str, ...]] = {
    DURATION: (
        "hur länge", "hur lång tid", "hur snabbt", "hur fort", "hur tidigt", "hur sent", "hur långt i förväg",
        "hur många dagar", "hur många timmar", "hur många minuter", "hur många veckor", "inom hur",
        "how long", "how soon", "how quickly", "how fast", "how early", "how late", "how far ahead",
        "how far in advance", "how many days", "how many hours", "how many minutes", "how many weeks",
    ),
    MONEY: (
        "kostar", "kosta", "kostnad", "avgift", "avgiften", "pris", "priset", "hur mycket betal", "hur mycket får jag",
        "ersättning", "tjänar", "lön", "cost", "costs", "price", "fee", "fees", "charge", "how much is",
        "how much does", "paid", "pay",
    ),
    COUNT: ("hur många", "antal", "antalet", "max", "how many", "number of", "maximum"),
    TIME: (
        "vilken tid", "vilka tider", "vilken dag", "vilka dagar", "öppettider", "klockan", "öppet",
        "what time", "which day", "which days", "opening hours", "open",
    ),
    PHONE: (
        "vem ringer", "vem ska jag ringa", "ringa", "ringer", "numret", "nummer", "telefonnummer", "vem kontaktar",
        "who do i call", "who should i call", "call", "phone number", "number", "contact",
    ),
    TEMPERATURE: ("hur kall", "hur varm", "grader", "temperatur", "how cold", "how warm", "how hot", "temperature"),
    FREQUENCY: ("hur ofta", "hur många gånger", "how often", "how many times"),
    AGE: (
        "hur gammal", "hur gamla", "ålder", "åldern", "åldersgräns", "åldersgränsen", "how old", "age", "age limit",
        "minimum age",
    ),
}

#: "när"/"when" asks for a time only where it opens the question: "vad gör jag när ..." asks what to do.
_OPENING_WHEN = re.compile(r"^\W*(?:(?:och|men|and|but)\s+)?(?:när|when)\b", re.IGNORECASE)

#: Quantities a question states, per kind: the answer is the routine's rule for that quantity.
_MENTIONS: dict[str, re.Pattern[str]] = {
    AGE: re.compile(
        r"\d+\s*-?\s*(?:åring|års?\s*ålder|år\s+gammal|år\s+gamla|years?[\s-]+old|year-olds?)|\bage[ds]?\s+\d+",
        re.IGNORECASE,
    ),
    MONEY: re.compile(r"\d[\d\s\u00a0]*(?:kr\b|kronor|sek\b|:-|€|euro|eur\b)", re.IGNORECASE),
}

_UNIT_TIME = (
    r"(?:sekund|minut|min\b|timm|tim\b|h\b|dag|dygn|veck|månad|år\b|års|"
    r"second|minute|hour|day|week|month|year)"
)
_NUMBER_WORDS = (
    r"(?:en|ett|två|tre|fyra|fem|sex|sju|åtta|nio|tio|elva|tolv|femton|tjugo|trettio|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|half|halv)"
)
#: What a sentence must state to answer each kind.
_STATES: dict[str, re.Pattern[str]] = {
    DURATION: re.compile(
        rf"(?:\d+(?:[.,]\d+)?|{_NUMBER_WORDS})[\s\u00a0–-]*{_UNIT_TIME}|samma dag|direkt|omedelbart|genast|"
        r"same day|immediately|right away|senast|no later than|i förväg|in advance",
        re.IGNORECASE,
    ),
    MONEY: re.compile(
        r"\d[\d\s\u00a0]*(?:[.,]\d+)?\s*(?:kr\b|kronor|sek\b|:-|€|eur|euro)|gratis|kostnadsfri|avgiftsfri|"
        r"ingen avgift|free of charge|\bfree\b|no charge|no fee",
        re.IGNORECASE,
    ),
    COUNT: re.compile(rf"\d|\b{_NUMBER_WORDS}\b", re.IGNORECASE),
    TIME: re.compile(
        r"\b\d{1,2}[.:]\d{2}\b|\bkl\.?\s*\d|\d{1,2}\s*(?:–|-)\s*\d{1,2}\b|"
        r"måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag|vardag|helg|"
        r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekday|weekend|"
        r"januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december|"
        r"january|february|march|may|june|july|august|october|"
        rf"\d+(?:[.,]\d+)?\s*{_UNIT_TIME}|samma dag|same day|direkt|immediately|före|efter|innan|before|after",
        re.IGNORECASE,
    ),
    PHONE: re.compile(r"(?<![\d-])0\d{1,3}-\d{2,3}(?:[ \u00a0]\d{2,3}){1,3}|\b112\b|\b1177\b|\b114 ?14\b"),
    TEMPERATURE: re.compile(r"[-−+]?\d+(?:[.,]\d+)?\s*(?:°|grader|degrees)", re.IGNORECASE),
    FREQUENCY: re.compile(
        rf"(?:\d+|{_NUMBER_WORDS})\s+(?:gång|gånger|times)\b|\bvarje\b|\bvarannan\b|\bper\s+(?:dag|vecka|månad|år|"
        r"day|week|month|year)|dagligen|veckovis|årligen|\bdaily\b|\bweekly\b|\bmonthly\b|\byearly\b|"
        r"\bannually\b|\bevery\b|\bonce\b|\btwice\b",
        re.IGNORECASE,
    ),
    AGE: re.compile(
        r"\d+\s*(?:år\b|års\b|-?åring|years?\b)|\b(?:aged|age|ålder|åldern|åldersgräns)\b",
        re.IGNORECASE,
    ),
}


@lru_cache(maxsize=64)
def _ask_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{alternatives})(?![\w])", re.IGNORECASE)


def asked_kinds(question: str, language: str) -> frozenset[str]:
    """The kinds of fact a Swedish or English question asks for; empty for other languages or open questions."""
    if language not in {"sv", "en"}:
        return frozenset()
    asked = {kind for kind, phrases in _ASKS.items() if _ask_pattern(phrases).search(question)}
    if _OPENING_WHEN.search(question):
        asked.add(TIME)
    asked |= {kind for kind, pattern in _MENTIONS.items() if pattern.search(question)}
    return frozenset(asked)


def stated_kinds(question: str, language: str) -> frozenset[str]:
    """The kinds of quantity a Swedish or English question states ("16-åring", "800 kr"): it asks for their rule."""
    if language not in {"sv", "en"}:
        return frozenset()
    return frozenset(kind for kind, pattern in _MENTIONS.items() if pattern.search(question))


def states(sentence: str, kinds: frozenset[str]) -> bool:
    """Does the sentence state a fact of one of `kinds` (a duration, a price, ...)?"""
    return any(_STATES[k].search(sentence) for k in kinds)
