"""Finds sentences in a routine that read as instructions to the assistant rather than to staff (indirect injection).

A document anyone can edit or upload may carry text aimed at the model: "Ignorera alla tidigare instruktioner",
"SYSTEM: admin mode", "you are now ...", or a request to give personal identity numbers or passwords to a phone
number. Such sentences are flagged at ingest and listed for the routine's owners, never quoted as a step, and taken
out of the passages before an LLM reads them. Swedish and English patterns, and the "ignore previous
instructions" family in German, French, Spanish, Finnish, Polish and Arabic. A test checks that no sentence of the
routines in knowledge/ is flagged except the attack that one of them quotes as an example.
"""

import re

from assist.text import sentences

_F = re.IGNORECASE | re.DOTALL

# "Ignore all previous instructions", "Ignorera alla tidigare instruktioner", "glöm dina regler".
_OVERRIDE = [
    re.compile(
        r"\b(?:ignore|disregard|forget|override|bypass)\b[\w\s,]{0,30}?\b(?:previous|prior|above|earlier|preceding|"
        r"all|any|your|the|system|these|those)\b[\w\s]{0,20}?\b(?:instructions?|prompts?|rules|guidelines|directions|"
        r"directives|guardrails|restrictions|policies|messages?)\b",
        _F,
    ),
    re.compile(
        r"\b(?:ignorera|glöm|strunta\s+i|bortse\s+från|åsidosätt|skippa)\b[\wåäö\s,]{0,30}?\b(?:tidigare|föregående|"
        r"ovanstående|alla|dina|era|systemets|de\s+här)\b[\wåäö\s]{0,20}?\b(?:instruktion(?:er|erna|en)?|"
        r"anvisning(?:ar|arna|en)?|regler(?:na)?|direktiv(?:en)?|prompt(?:en|ar)?|begränsningar(?:na)?)\b",
        _F,
    ),
]
# The same in the other languages staff and parents write in (German, French, Spanish, Finnish, Polish, Arabic).
_OVERRIDE_OTHER = re.compile(
    r"\bignorier(?:e|en)?\s+(?:alle\s+)?(?:vorherigen|bisherigen|obigen)\s+(?:anweisungen|instruktionen|regeln)\b|"
    r"\bignore[zr]?\s+(?:toutes\s+)?les\s+(?:instructions|consignes)\s+(?:précédentes|ci-dessus)|"
    r"\bignora\s+(?:todas\s+)?las\s+instrucciones\s+anteriores\b|"
    r"\bohita\s+(?:kaikki\s+)?(?:aiemmat|edelliset|aikaisemmat)\s+(?:ohjeet|käskyt)\b|"
    r"\bzignoruj\s+(?:wszystkie\s+)?(?:poprzednie|wcześniejsze)\s+(?:instrukcje|polecenia)\b|"
    r"تجاهل\s+(?:جميع|كل)?\s*التعليمات\s+السابقة",
    _F,
)
# Chat-template role markers and special tokens: "SYSTEM:", "[SYSTEM]", "<|im_start|>", "### Assistant:", "[INST]".
_ROLE = [
    re.compile(r"(?:^|[\s\[(<#])(?:SYSTEM|ASSISTANT|DEVELOPER|SYSTEMET|ASSISTENT)\s*(?::|\]|>)"),
    re.compile(
        r"\[/?(?:system|inst|assistant|developer)\]|<\|?/?(?:im_start|im_end|system|assistant|eot_id)\|?>|</s>", _F
    ),
    re.compile(r"(?:^|\n)\s*#{1,6}\s*(?:system|assistant|developer)\b\s*:?", _F),
]
# Switching the assistant into another mode or identity.
_MODE = [
    re.compile(r"\b(?:admin|administrator|developer|god|jailbreak|dan|unrestricted|sudo)[\s-]?mode\b", _F),
    re.compile(r"\b(?:admin|administratörs|utvecklar|gud|obegränsat)\s?-?läge\b", _F),
    re.compile(r"\byou\s+are\s+now\b|\bfrom\s+now\s+on,?\s+you\b|\bpretend\s+(?:to\s+be|you\s+are)\b", _F),
    re.compile(r"\bact\s+as\s+(?:an?|the|my)\s+[\w\s]{0,20}?(?:assistant|ai|model|chatbot|admin|administrator)\b", _F),
    re.compile(
        r"\bdu\s+är\s+nu\s+(?:en|ett|i)\b[\wåäö\s-]{0,30}?(?:assistent|ai|modell|chattbot|läge|admin|administratör)",
        _F,
    ),
    re.compile(r"\bfrån\s+och\s+med\s+nu\s+(?:ska|är|får)\s+du\b|\blåtsas\s+(?:att\s+du\s+är|vara)\b", _F),
]
# Words addressed to the model itself.
_ADDRESSED = [
    re.compile(
        r"\b(?:as\s+an?\s+(?:ai|language\s+model)|if\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant|"
        r"chatbot)|note\s+to\s+(?:the\s+)?(?:ai|assistant|model|llm))\b",
        _F,
    ),
    re.compile(
        r"\b(?:the\s+(?:ai|assistant|chatbot|language\s+model|llm)|(?:ai-)?assistenten|chattboten|språkmodellen|"
        r"ai:n)\s+(?:must|should|shall|will|is\s+to|ska|måste|skall|får\s+inte)\b",
        _F,
    ),
    re.compile(
        r"\b(?:reveal|print|show|repeat|output|leak)\s+(?:your|the)\s+(?:system\s+)?(?:prompt|instructions)\b|"
        r"\b(?:visa|skriv\s+ut|upprepa|avslöja)\s+(?:din|dina|systemets|system)?\s*(?:systemprompt(?:en)?|"
        r"prompt(?:en)?|instruktioner)\b",
        _F,
    ),
]
# Requests to hand over secrets or identity numbers to a number, address or link.
_SECRET = re.compile(
    r"\b(?:personnummer|personnumret|personnumren|samordningsnummer|personal\s+identity\s+numbers?|"
    r"social\s+security\s+numbers?|id\s+numbers?|lösenord(?:et|en)?|passwords?|passcodes?|pin(?:-?kod(?:en)?)?|"
    r"bankid|tokens?|api[\s-]?keys?|credentials|inloggningsuppgifter(?:na)?|kortnummer|card\s+numbers?|"
    r"säkerhetskod(?:en)?|engångskod(?:en)?|verification\s+codes?)\b",
    _F,
)
_HAND_OVER = re.compile(
    r"\b(?:ge|uppge|lämna|skicka|sms:a|messa|mejla|maila|läs\s+upp|berätta|dela|give|provide|send|tell|share|"
    r"disclose|read\s+out|text|e-?mail|forward|reply\s+with|svara\s+med)\b",
    _F,
)
_DESTINATION = re.compile(r"\+?\d[\d\s-]{4,}\d|[\w.+-]+@[\w-]+\.[\w.]+|https?://|www\.", _F)
_NEGATED = re.compile(
    r"\b(?:aldrig|inte|ej|never|not|don't|do\s+not|under\s+inga\s+omständigheter|in\s+no\s+case)\b", _F
)

PATTERNS = [*_OVERRIDE, _OVERRIDE_OTHER, *_ROLE, *_MODE, *_ADDRESSED]

INSTRUCTION_NOTICE = {
    "sv": (
        "En citerad rutin innehåller text som läses som instruktioner till assistenten; den citerades inte. "
        "Rapportera det till rutinens ägare."
    ),
    "en": (
        "A cited routine contains text that reads as instructions to the assistant; it was not quoted. "
        "Report it to the routine's owner."
    ),
}


def instruction_like(sentence: str) -> bool:
    """Does this sentence read as an instruction to the assistant (or a request to hand over secrets)?"""
    if any(p.search(sentence) for p in PATTERNS):
        return True
    return bool(
        _SECRET.search(sentence)
        and _HAND_OVER.search(sentence)
        and _DESTINATION.search(sentence)
        and not _NEGATED.search(sentence)
    )


def flagged_sentences(text: str) -> list[str]:
    """The sentences of `text` that read as instructions to the assistant, in order."""
    return [s for s in sentences(text) if instruction_like(s)]


def has_flagged(text: str, flagged: list[str] | None = None) -> bool:
    """Does the passage hold instruction-like text (`flagged` is what ingest stored, if anything)?"""
    return bool(flagged) or bool(flagged_sentences(text))


def without_flagged(text: str) -> str:
    """`text` with its instruction-like sentences taken out (what an LLM may read)."""
    flagged = flagged_sentences(text)
    if not flagged:
        return text
    for sent in flagged:
        text = text.replace(sent, "")
    # A sentence that a PDF wrapped over lines is not found whole: drop the lines it is made of.
    lines = [ln for ln in text.splitlines() if not any(ln.strip() and ln.strip() in s for s in flagged)]
    return "\n".join(ln for ln in lines if not instruction_like(ln))
