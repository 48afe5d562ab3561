"""What kind of fact a question asks for (a duration, a price, a count, a time, a phone number, a temperature, how
often, an age), and whether a sentence states one: an answer to "how long" must say how long, not only name the topic.
Also which variant of a routine a question names (day or night): "brukaren ramlade på dagen" wants the day routine.

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

#: The same question phrasings in the other languages staff ask in (Finnish, Polish and Turkish with and without
#: their accents, Ukrainian, Russian, Latvian, Arabic, Persian, Somali, German, French, Spanish; not Thai, whose words
#: are not set apart by spaces). They shape the extractive answer only (`extended`): the grounding check's features
#: read the Swedish and English ones, as they were calibrated.
_ASKS_OTHER: dict[str, tuple[str, ...]] = {
    DURATION: (
        "kuinka kauan", "kauanko", "kuinka pitkään", "miten pitkään", "kuinka nopeasti", "jak długo", "jak dlugo",
        "ile czasu", "jak szybko", "як довго", "скільки часу", "скільки днів", "как долго", "сколько времени",
        "сколько дней", "cik ilgi", "cik ilgā laikā", "cik dienas", "كم من الوقت", "كم يوم", "كم ساعة", "لمتى",
        "لإمتى", "تا کی", "چند روز", "چند ساعت", "چقدر طول", "intee le'eg", "immisa maalmood", "immisa saacadood",
        "ile to trwa", "ile trwa",
        "wie lange", "wie schnell", "wie viele tage", "combien de temps", "combien de jours", "cuánto tiempo",
        "cuanto tiempo", "cuántos días", "ne kadar süre", "kaç gün", "kaç saat",
    ),
    MONEY: (
        "paljonko maksaa", "mitä maksaa", "maksaa", "hinta", "maksu", "ile kosztuje", "koszt", "opłata", "oplata",
        "cena", "скільки коштує", "вартість", "плата", "ціна", "сколько стоит", "стоимость", "цена", "cik maksā",
        "cik maksa", "maksa", "بكم", "كم سعر", "تكلفة", "رسوم", "سعر", "هزینه", "قیمت", "شهریه", "lacag", "qiimaha",
        "kharash", "lagu bixiyaa", "was kostet", "kosten", "gebühr", "preis", "combien coûte", "combien coute",
        "coût", "prix", "frais", "cuánto cuesta", "cuanto cuesta", "precio", "tarifa", "ne kadar tutar", "ücret",
        "ucret", "fiyat",
    ),
    COUNT: (
        "kuinka monta", "montako", "ile", "скільки", "сколько", "cik", "كم", "كم عدد", "چند تا", "immisa",
        "wie viele", "combien", "cuántos", "cuantos", "cuántas", "kaç",
    ),
    TIME: (
        "milloin", "mihin aikaan", "aukioloajat", "kiedy", "o której", "o ktorej", "godziny otwarcia", "коли",
        "о котрій", "когда", "во сколько", "kad", "cikos", "متى", "إمتى", "امتى", "چه ساعتی", "چه وقت", "goorma",
        "saacadee", "wann", "um wie viel uhr", "öffnungszeiten", "quand", "à quelle heure", "horaires", "cuándo",
        "cuando", "a qué hora", "horario", "ne zaman", "saat kaçta",
    ),
    PHONE: (
        "kenelle soitan", "kenelle soittaa", "puhelinnumero", "numero", "do kogo dzwonię", "do kogo dzwonie",
        "do kogo zadzwonić", "do kogo zadzwonic", "numer", "кому дзвонити", "номер", "кому звонить", "kam zvanīt",
        "kam zvanit", "numurs", "tālrunis", "رقم", "بمن أتصل", "شماره", "زنگ بزنم", "lambar", "nambar", "yaan wacaa",
        "wen rufe ich an", "wen soll ich anrufen", "nummer", "telefonnummer", "qui appeler", "qui dois-je appeler",
        "numéro", "a quién llamo", "a quien llamo", "número", "kimi aramalıyım", "kimi ararım", "numara",
    ),
    TEMPERATURE: ("lämpötila", "astetta", "kuinka kylmä", "kuinka lämmin", "temperatura", "stopni", "температура",
                  "температуры", "градус", "градусов", "temperatūra", "grādi", "درجة", "حرارة", "درجه", "دما",
                  "temperatur", "grad", "wie kalt", "wie warm", "température", "degrés", "grados", "sıcaklık",
                  "derece"),
    FREQUENCY: ("kuinka usein", "miten usein", "jak często", "jak czesto", "як часто", "как часто", "cik bieži",
                "cik biezi", "كم مرة", "چند بار", "هر چند وقت", "immisa jeer", "inta jeer", "wie oft",
                "à quelle fréquence", "combien de fois", "cada cuánto", "con qué frecuencia", "ne sıklıkla",
                "kaç kez", "kaç kere"),
    AGE: ("kuinka vanha", "ikäraja", "ile lat", "wiek", "вік", "скільки років", "возраст", "сколько лет", "vecums",
          "cik vecs", "cik gadu", "عمر", "سن", "da'da", "wie alt", "altersgrenze", "quel âge", "âge", "qué edad",
          "edad", "kaç yaşında", "yaş"),
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


def asked_kinds(question: str, language: str, *, extended: bool = False) -> frozenset[str]:
    """The kinds of fact a Swedish or English question asks for; empty for open questions and other languages.

    `extended` (for shaping an answer) reads the other languages' question words too (`_ASKS_OTHER`), and the
    quantities they state ("350 kr" asks for the rule on amounts in any language).
    """
    if language not in {"sv", "en"}:
        if not extended:
            return frozenset()
        asked_other = {kind for kind, phrases in _ASKS_OTHER.items() if _ask_pattern(phrases).search(question)}
        return frozenset(asked_other | {kind for kind, pattern in _MENTIONS.items() if pattern.search(question)})
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


DAY = "day"
NIGHT = "night"
#: Words that name the day or the night variant of a routine, in the languages staff ask in (lower case, whole words).
#: Not a bare "dag" or "day": "samma dag", "per day" name no variant.
_VARIANT_WORDS: dict[str, tuple[str, ...]] = {
    DAY: (
        "dagen", "dagtid", "dagtiden", "dagpass", "dagpasset", "dagpersonal", "dagpersonalen",
        "daytime", "during the day", "in the day", "day shift", "dzień", "w dzień", "za dnia", "päivällä",
        "päiväsaikaan", "päivävuoro", "päivävuorossa",
        "النهار", "بالنهار", "نهارا", "در روز", "maalintii", "вдень", "удень", "dienā", "tagsüber",
        "am tag", "de día", "durante el día", "днём", "днем", "gündüz",
    ),
    NIGHT: (
        "natt", "natten", "nattetid", "nattpass", "nattpasset", "nattpersonal", "nattpersonalen", "night", "at night",
        "tonight", "overnight", "nighttime", "night shift", "noc", "nocy", "w nocy", "nocą", "yöllä", "yö",
        "yöaikaan", "yövuoro", "yövuorossa", "yövuorolla",
        "الليل", "بالليل", "ليلا", "ليلاً", "شب", "شبانه", "habeen", "habeenkii", "вночі", "ніч", "ночі",
        "naktī", "nakts", "nachts", "nacht", "noche", "de noche", "ночью", "ночь", "gece",
    ),
}
#: Table column headers that name a variant ("| | Dag | Natt |").
_VARIANT_HEADERS: dict[str, frozenset[str]] = {
    DAY: frozenset({"dag", "dagtid", "day", "daytime"}),
    NIGHT: frozenset({"natt", "nattetid", "night", "nighttime"}),
}
_CLOCK = re.compile(
    r"\b(?:kl\.?|klockan)\s*(\d{1,2})(?:[.:](\d{2}))?\b|\b(\d{1,2})[.:](\d{2})\b|\b(\d{1,2})\s*(am|pm)\b",
    re.IGNORECASE,
)
_RANGE = re.compile(r"\b(\d{1,2})[.:](\d{2})\s*[–-]\s*(\d{1,2})[.:](\d{2})\b")


def named_variants(text: str) -> frozenset[str]:
    """The variants (day, night) a text names in so many words."""
    return frozenset(kind for kind, phrases in _VARIANT_WORDS.items() if _ask_pattern(phrases).search(text))


def header_variant(header: str) -> str | None:
    """The variant a table column header names ("Natt" -> night), None for any other header."""
    h = header.strip().lower()
    return next((kind for kind, names in _VARIANT_HEADERS.items() if h in names), None)


def clock_minutes(question: str) -> int | None:
    """The time of day a question states ("kl 20", "20.30", "8 pm"), in minutes after midnight; None when none."""
    m = _CLOCK.search(question)
    if m is None:
        return None
    if m.group(1) is not None:
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
    elif m.group(3) is not None:
        hour, minute = int(m.group(3)), int(m.group(4))
    else:
        hour, minute = int(m.group(5)) % 12 + (12 if m.group(6).lower() == "pm" else 0), 0
    return hour * 60 + minute if hour < 24 and minute < 60 else None  # noqa: PLR2004 - hours and minutes


def covers(text: str, minutes: int) -> bool | None:
    """Does the time range a text states ("(21.30–07.00)") hold the time? None when it states no range."""
    m = _RANGE.search(text)
    if m is None:
        return None
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4))
    return start <= minutes < end if start <= end else minutes >= start or minutes < end
