"""Languages the product answers in, with the words it needs in each."""

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
}

NOT_COVERED = {
    "sv": "Rutinerna svarar inte på den frågan.",
    "en": "The routines do not cover this question.",
}

FALLBACK_NOTICE = {
    "sv": "Språkmodellen kunde inte nås: svaret är citerade meningar ur rutinerna.",
    "en": "The language model could not be reached: the answer quotes the routines directly.",
}


def phrase(table: dict[str, str], language: str) -> str:
    """A fixed phrase in `language`, English when there is none, Swedish for Swedish."""
    return table.get(language) or table["en"]
