"""Languages the product answers in: detection (lingua, models in the package) and the fixed phrases it needs."""

from functools import lru_cache
from typing import Any

LANGUAGE_NAMES = {
    "sv": "Swedish",
    "en": "English",
    "ar": "Arabic",
    "so": "Somali",
    "fi": "Finnish",
    "fa": "Persian",
    "pl": "Polish",
    "lv": "Latvian",
    "uk": "Ukrainian",
    # Staff also ask in these; known to the detector so that a German or Russian question is not read as Swedish.
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ru": "Russian",
    "th": "Thai",
    "tr": "Turkish",
}

NOT_COVERED = {
    "sv": "Rutinerna svarar inte på den frågan.",
    "en": "The routines do not cover this question.",
    "ar": "الإجراءات لا تغطي هذا السؤال.",
    "so": "Habraacyadu kama jawaabaan su'aashan.",
    "fi": "Ohjeet eivät vastaa tähän kysymykseen.",
    "fa": "دستورالعمل‌ها به این پرسش پاسخ نمی‌دهند.",
    "pl": "Procedury nie obejmują tego pytania.",
    "lv": "Kārtības neatbild uz šo jautājumu.",
    "uk": "Інструкції не відповідають на це питання.",
    "de": "Die Routinen beantworten diese Frage nicht.",
    "fr": "Les procédures ne répondent pas à cette question.",
    "es": "Los procedimientos no responden a esta pregunta.",
    "ru": "Инструкции не отвечают на этот вопрос.",
    "th": "ขั้นตอนปฏิบัติไม่ได้ตอบคำถามนี้",
    "tr": "Rutinler bu soruyu yanıtlamıyor.",
}

ASK_CONTACT = {
    "sv": "Fråga:",
    "en": "Ask:",
    "ar": "اسأل:",
    "so": "Weydii:",
    "fi": "Kysy:",
    "fa": "بپرسید از:",
    "pl": "Zapytaj:",
    "lv": "Jautājiet:",
    "uk": "Зверніться:",
    "de": "Fragen Sie:",
    "fr": "Demandez à :",
    "es": "Pregunte a:",
    "ru": "Обратитесь:",
    "th": "สอบถาม:",
    "tr": "Sorun:",
}

#: The routines are relevant but none answers the question: the nearest are named, never quoted as the answer.
CLOSEST = {
    "sv": "Rutinerna svarar inte direkt på frågan. Närmaste rutiner:",
    "en": "The routines do not answer this directly; closest routines:",
}

UNCOVERED = {
    "sv": "Ingen rutin nämner: {terms}.",
    "en": "No routine mentions: {terms}.",
}

FALLBACK_NOTICE = {
    "sv": "Språkmodellen kunde inte nås: svaret är citerade meningar ur rutinerna.",
    "en": "The language model could not be reached: the answer quotes the routines directly.",
}

NO_TRANSLATION_NOTICE = {
    "sv": "Svaret citerar rutinerna på originalspråket: ett översatt svar kräver språkmodellen (LLM-generatorn).",
    "en": "The answer quotes the routines in their own language: a translated answer needs the LLM generator.",
}

SCRUBBED_NOTICE = {
    "sv": "Personuppgifter i frågan ersattes innan den behandlades: {kinds}.",
    "en": "Personal data in the question was replaced before it was processed: {kinds}.",
}


def phrase(table: dict[str, str], language: str) -> str:
    """A fixed phrase in `language`, English when there is none."""
    return table.get(language) or table["en"]


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder  # noqa: PLC0415

    langs = [getattr(Language, n.upper()) for n in LANGUAGE_NAMES.values()]
    return LanguageDetectorBuilder.from_languages(*langs).with_minimum_relative_distance(0.0).build()


#: One sentence per script of the served languages: detecting each loads the models of the languages written in it
#: (Latin, about 280 MB and 2-3 s; Arabic and Persian; Ukrainian and Russian), which the first question in that
#: script paid for otherwise. Thai is told by its script alone.
WARM_UP_SAMPLES = (
    "Vad gör jag om en brukare har ramlat?",
    "ماذا أفعل إذا سقط المستفيد؟",
    "Що робити, якщо клієнт упав?",
)


def warm_up_languages() -> None:
    """Load the language detector's models now rather than on each script's first question."""
    for sample in WARM_UP_SAMPLES:
        _detector().detect_language_of(sample)


def detect_language(text: str, default: str = "sv") -> str:
    """ISO 639-1 code of the text's language among those the product serves; `default` when unsure."""
    if len(text.strip()) < 3:
        return default
    lang = _detector().detect_language_of(text)
    if lang is None:
        return default
    code = str(lang.iso_code_639_1.name.lower())
    if code == "de" and len(SWEDISH_WORDS & set(text.lower().split())) >= 2:
        # A short Swedish question with a typing error reads as German to the detector ("hur länge ligger utskirften
        # kvar i kön"); two Swedish function words that German does not have settle it.
        return "sv"
    return code


#: Swedish function words that are not German words (nor common in German questions).
SWEDISH_WORDS = frozenset(
    [
        "hur",
        "vad",
        "när",
        "vem",
        "vilken",
        "jag",
        "mig",
        "kan",
        "ska",
        "får",
        "och",
        "inte",
        "det",
        "är",
        "på",
        "för",
        "med",
        "till",
        "kvar",
        "länge",
        "mycket",
        "min",
        "mitt",
        "hon",
        "han",
        "vi",
        "ni",
        "de",
        "måste",
        "finns",
    ]
)
