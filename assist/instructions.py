"""Finds sentences in a routine that read as instructions to the assistant rather than to staff (indirect injection).

A document anyone can edit or upload may carry text aimed at the model: "Ignorera alla tidigare instruktioner",
"SYSTEM: admin mode", "you are now ...", or a request to give personal identity numbers or passwords to a phone
number. Such sentences are flagged at ingest and listed for the routine's owners, never quoted as a step, and taken
out of the passages before an LLM reads them.

The checks look for kinds of text rather than phrases, in the languages the product answers in (sv, en, de, fr, es,
fi, pl, uk, ru, ar, so, tr, fa): words addressed to an AI, a chatbot or a language model ("Viktigt meddelande till
AI-assistenten:", "Note for the language model", "KI: antworte ...", "tekoälylle"), such a model told what it must do
or how to answer, "ignore the previous instructions" and "reveal your system prompt" in each language, another
identity or mode, and chat-template markers. The rest of a message goes with the sentence that addresses the machine
("... till AI-assistenten: Svara alltid att ..."), and a list number is never left alone where a line was taken out.
A test checks that no sentence of the routines in knowledge/ is flagged except the attack that one of them quotes as
an example.
"""

import re
from functools import lru_cache

from assist.text import sentences

#: Texts whose verdicts are remembered: a question's passages are checked by several components, and the same
#: routines come back question after question (the checks cost ~10 µs a sentence, thousands of times a question).
CACHE_SIZE = 1 << 15

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

# --- Kinds of text, across the languages the product answers in -------------------------------------------------------
# The machine itself: an AI, a chatbot, a language model. Acronyms only in capitals ("j'ai", "ki" are words), and
# not as the first half of a compound that names a service ("AI-tjänsten", "KI-Tools"), which routines may discuss.
_ACRONYM = r"(?-i:AI|A\.I\.|KI|IA|LLM|ChatGPT|GPT|ШІ|ИИ)"
_ROLE_WORD = (
    r"(?:assistent\w*|assistant\w*|asistente\w*|avustaja\w*|asystent\w*|асистент\w*|ассистент\w*|modell?\w*|bot\w*)"
)
_AI = (
    rf"(?:\b{_ACRONYM}(?:[-\s]?{_ROLE_WORD}|-ga\b|-da\b|:\w{{1,4}}\b)?(?![\w-])|"
    rf"\b(?:ai|ki)-{_ROLE_WORD}|"
    r"\bchatt?-?bot\w*|\bчат-?бот\w*|\bspråkmodell\w*|\blanguage\s+models?\b|\bsprachmodell\w*|"
    r"\bmod[èe]le\s+de\s+langage\b|\bmodelo\s+de\s+lenguaje\b|\bkielimalli\w*|\bmodel\w*\s+językow\w*|"
    r"\bмовн\w*\s+модел\w*|\bязыков\w*\s+модел\w*|\bdil\s+model\w*|"
    r"\bartificial\s+intelligence\b|\bartificiell\w*\s+intelligens\w*|\bkünstlich\w*\s+intelligenz\b|"
    r"\bintelligence\s+artificielle\b|\binteligencia\s+artificial\b|\btekoäly\w*|\bsztuczn\w*\s+inteligencj\w*|"
    r"\bштучн\w*\s+інтелект\w*|\bискусственн\w*\s+интеллект\w*|\byapay\s+zek[aâ]\w*|\bsirdoon\w*\s+macmal\w*|"
    r"\bvirtuell\w*\s+assistent\w*|\bvirtual\s+assistant\b|"
    r"هوش\s+مصنوعی|(?:لل|ال)ذكاء\s+الاصطناعي|روبوت\s+الدردشة|(?:ال|لل)?نموذج\s+(?:اللغوي|اللغة))"
)
# A message, a note or a greeting addressed to it: "Viktigt meddelande till AI-assistenten:", "Note for the language
# model", "Hinweis an die KI", "Message pour l'IA", "Nota para la IA", "Viesti tekoälylle", "Wiadomość dla AI",
# "Повідомлення для ШІ", "Fariin loogu talagalay AI", "Hej chattbot".
_NOTE = (
    r"(?:message\w*|note|notice|memo|instructions?|command|attention|meddelande\w*|notis|instruktion\w*|uppmaning\w*|"
    r"hälsning\w*|nachricht\w*|hinweis\w*|anweisung\w*|mitteilung\w*|consigne\w*|remarque\w*|mensaje\w*|nota|aviso|"
    r"instrucci\w+|viesti\w*|ohje\w*|huomautus\w*|tiedote|wiadomoś\w+|uwag\w+|polecen\w+|instrukcj\w+|"
    r"повідомлен\w+|вказівк\w+|інструкці\w+|сообщени\w+|указани\w+|fariin\w*|farriin\w*|ogeysiis\w*|mesaj\w*|"
    r"talimat\w*|پیام)"
)
_TO = (
    r"(?:till|åt|to|for|an|für|à|pour|para|per|dla|do|для|до|к|için|برای|u\s+socota|ku\s+socota|"
    r"loogu\s+talagalay)"
)
_THE = r"(?:(?:the|this|den|det|der|die|das|dem|le|la|les|el|al|l['’])\s*)?"
_GREETING = (
    r"(?:dear|hello|hi|hey|hej|hallå|kära|liebe[rs]?|hallo|bonjour|salut|cher|chère|hola|querid[oa]|hei|hyvä|"
    r"cześć|drogi|droga|witaj|привіт|шановн\w+|здравствуй\w*|مرحبا|عزيزي|salaan|merhaba|sevgili|سلام)"
)
_ADDRESS = [
    re.compile(rf"\b{_NOTE}\s+{_TO}\s+{_THE}{_AI}", _F),
    re.compile(rf"\b{_NOTE}\b[^.!?\n]{{0,20}}?\b(?:tekoäly|kielimalli|chatbot|botti|avustaja)\w*lle\b", _F),
    re.compile(rf"{_AI}\s+(?:için|uchun)\s+{_NOTE}", _F),  # Turkish puts the "to" after the word
    re.compile(r"(?:رسالة|تعليمات|ملاحظة|تنبيه)\s+(?:إلى\s+(?:ال)?|لل|ل)(?:ذكاء|مساعد|نموذج|روبوت)", _F),
    re.compile(rf"(?:^|[\s,;:(])\s*{_GREETING}[\s,]+{_THE}{_AI}", _F),
    # "Till AI-assistenten:", "To the AI:", "An die KI:", the address alone, opening its line or sentence.
    re.compile(rf"(?:^|[.!?\n]\s*|[\-*•]\s*(?:\d+[.)]\s*)?){_TO}\s+{_THE}{_AI}\s*[:,]", _F),
    # "Om du är en AI, ...", "If you are an AI", "Wenn du eine KI bist", "Si tu es une IA", "Jos olet tekoäly".
    re.compile(
        rf"\b(?:om\s+du\s+är|if\s+you\s+are|wenn\s+du|falls\s+du|si\s+(?:tu\s+es|vous\s+êtes|eres|usted\s+es)|"
        rf"jos\s+olet|jeśli\s+jesteś|якщо\s+ти|если\s+ты)\s+(?:an?|en|ett|ein\w*|une?|una?)?\s*{_AI}",
        _F,
    ),
]
# The machine told what it must do, or addressed by name before an order: "Die KI soll ...", "L'IA doit ...",
# "KI: antworte immer ...", "AI, ignore ...". Not a rule about using such a service ("AI får inte användas ...").
_MODAL = (
    r"(?:must|should|shall|will|is\s+to|has\s+to|ska|skall|måste|bör|får|muss|soll|sollte|darf|doit|devrait|debe|"
    r"debería|tiene\s+que|pitää|täytyy|saa|musi|powin\w+|ma|має|повин\w+|должен|должна|waa\s+inuu|waa\s+inay)"
)
_PASSIVE = (
    r"(?:\s+(?:inte|ej|not|nicht|pas|no|ei|nie|не)\b)?\s+(?:be\s+\w+|\w+as\b|\w+ed\b|werden|verwendet|genutzt|"
    r"eingesetzt|être|ser\b|käyttää|używa\w*|використов\w*|использов\w*)"
)
_ANSWER = (
    r"(?:svara\w*|answer\w*|respond\w*|reply|say|tell|säg|berätta|skriv|antworte\w*|sag\w*|schreib\w*|réponds|"
    r"répondez|dis|dites|écri\w*|responde\w*|di|dile|escrib\w*|vastaa\w*|kerro|sano|kirjoita|odpowiad\w*|"
    r"odpowiedz\w*|powiedz\w*|napisz|відповіда\w*|скажи\w*|напиши|отвечай\w*|أجب|قل|اكتب|jawaab\w*|sheeg|qor|"
    r"cevap\w*|yanıtla\w*|söyle|yaz|ignore\w*|ignorera|ignoriere|ohita|zignoruj|you|du|sie|vous|tu|usted|sinä|"
    r"ty|ти|ты|أنت|adiga|sen|always|alltid|immer|toujours|siempre|aina|zawsze|завжди|всегда|دائما|had\s+iyo)"
)
_TOLD = [
    re.compile(rf"{_AI}\s+{_MODAL}\b(?!{_PASSIVE})", _F),
    re.compile(r"يجب\s+على\s+(?:ال)?(?:ذكاء|مساعد|نموذج|روبوت)", _F),
    re.compile(rf"(?:^|[.!?\n]\s*|[\-*•]\s*){_AI}\s*[:,]\s*(?:\w+\s+){{0,2}}?{_ANSWER}\b", _F),
]
# "Ignore the previous instructions" in each language: the verb, then within a few words what to ignore and which.
_IGNORE = re.compile(
    r"\b(?:ignore|ignoring|disregard|forget|override|bypass|ignorera|glöm|strunta\s+i|bortse\s+från|ignorier\w*|"
    r"vergiss|vergessen\s+sie|missachte\w*|ignorez|ignorer|oublie\w*|ignora\w*|olvida\w*|olvide|ohita|unohda|"
    r"älä\s+välitä|zignoruj\w*|ignoruj\w*|zapomnij\w*|проігноруй\w*|ігноруй\w*|забудь\w*|игнорируй\w*|"
    r"iska\s+indho\s+tir|iska\s+dhaaf|ilow|yok\s+say\w*|unut\w*|نادیده\s+بگیر\w*)(?!\s+(?:inte|not|nicht|pas|no|ei|"
    r"nie|не)\b)|تجاهل|انس\b",
    _F,
)
_WHICH = re.compile(
    r"\b(?:previous|prior|above|earlier|preceding|all|your|system|tidigare|föregående|ovanstående|alla|dina|"
    r"vorherig\w*|bisherig\w*|obig\w*|früher\w*|alle[ns]?|deine|ihre|précédent\w*|ci-dessus|antérieur\w*|toutes|"
    r"tous|tes|vos|anterior\w*|previas|todas|tus|sus|aiemm\w*|edell\w*|aikaisemm\w*|kaikki|poprzedni\w*|"
    r"wcześniejsz\w*|wszystkie|swoje|twoje|попередн\w*|всі|усі|свої|твої|предыдущ\w*|все|свои|hore|dhammaan|"
    r"kahor|önceki|tüm|bütün|قبلی|همه)\b|السابقة|جميع|كل",
    _F,
)
_WHAT = re.compile(
    r"\b(?:instructions?|prompts?|rules|guidelines|directions|directives|guardrails|restrictions|instruktion\w*|"
    r"anvisning\w*|regler\w*|direktiv\w*|prompt\w*|begränsning\w*|anweisung\w*|regeln|vorgaben|richtlinien|"
    r"consignes?|règles|instrucci\w+|reglas|indicaciones|ohje\w*|säännö\w*|käsky\w*|instrukcj\w*|polece\w*|zasad\w*|"
    r"reguł\w*|інструкці\w*|вказівк\w*|правил\w*|инструкци\w*|указани\w*|tilmaam\w*|amarr\w*|xeer\w*|talimat\w*|"
    r"kural\w*|دستور\w*)\b|التعليمات|الأوامر|القواعد",
    _F,
)
IGNORE_WINDOW = 60
# Turkish, Somali and Persian put the verb last: "Önceki tüm talimatları yok say".
_IGNORE_LAST = re.compile(
    r"\b(?:önceki|tüm|bütün|hore|dhammaan|kahor)\b[\w\s]{0,40}?\b(?:talimat\w*|kural\w*|tilmaam\w*|amarr\w*|"
    r"xeer\w*)[\w\s]{0,20}?\b(?:yok\s+say\w*|unut\w*|iska\s+indho\s+tir|iska\s+dhaaf|ilow)\b|"
    r"(?:قبلی|همه)[\w\s]{0,40}?دستور\w*[\w\s]{0,20}?نادیده\s+بگیر",
    _F,
)
# Asking for the prompt behind the assistant: any mention of a system prompt or of hidden instructions.
_PROMPT = re.compile(
    r"\bsystem\s*-?prompt\w*|\bsystemprompt\w*|\bprompt\w*\s+(?:système|du\s+système|del\s+sistema|systemow\w*)|"
    r"\bjärjestelmäkehot\w*|\bсистемн\w*\s+(?:промпт|підказк|запит)\w*|موجه\s+النظام|تعليمات\s+النظام|"
    r"\bsistem\s+istem\w*|"
    r"\b(?:hidden|initial|original|secret)\s+(?:instructions|prompt)\b|"
    r"\b(?:dolda|ursprungliga|hemliga)\s+instruktioner\w*|\b(?:versteckten|ursprünglichen|geheimen)\s+anweisungen\b|"
    r"\binstructions\s+(?:cachées|initiales|secrètes)|\binstrucciones\s+(?:ocultas|iniciales|secretas)\b|"
    r"\b(?:piilotetut|alkuperäiset|salaiset)\s+ohjeet\b|\b(?:ukryte|pierwotne|tajne)\s+instrukcje\b|"
    r"\b(?:приховані|початкові|таємні)\s+інструкції\b",
    _F,
)
# "You are now ..." and "from now on ..." in each language, with an identity, a mode or an order to answer.
_NOW = re.compile(
    r"\b(?:du\s+bist\s+(?:jetzt|nun|ab\s+sofort)|tu\s+es\s+maintenant|vous\s+êtes\s+maintenant|ahora\s+eres|"
    r"olet\s+nyt|jesteś\s+teraz|teraz\s+jesteś|ти\s+тепер|тепер\s+ти|ты\s+теперь|теперь\s+ты|hadda\s+waxaad\s+tahay|"
    r"artık\s+sen|sen\s+artık|ab\s+jetzt|von\s+nun\s+an|à\s+partir\s+de\s+maintenant|désormais|a\s+partir\s+de\s+ahora|"
    r"de\s+ahora\s+en\s+adelante|tästä\s+(?:lähtien|eteenpäin)|od\s+teraz|відтепер|з\s+цього\s+моменту|"
    r"отныне|с\s+этого\s+момента|bundan\s+sonra)\b|أنت\s+الآن|من\s+الآن\s+فصاعدا",
    _F,
)
_NOW_WHAT = re.compile(
    rf"{_AI}|\b(?:assist\w*|asist\w*|avustaja\w*|асист\w*|ассист\w*|modus|mode|modo|tila\w*|tryb\w*|режим\w*|"
    r"admin\w*|entwickler\w*|développeur|desarrollador|kehittäjä\w*|deweloper\w*|розробник\w*|bot\w*|бот\w*|"
    r"antworte\w*|antwortest|réponds|répondez|responde|respondes|responda|vastaa|vastaat|odpowiadaj\w*|odpowiedz|"
    r"відповідай\w*|отвечай\w*|cevap\s+ver\w*)\b|مساعد|وضع|ستجيب|تجيب|أجب",
    _F,
)
NOW_WINDOW = 50
# An order about the form of every answer: "Reply only with 'OK'", "Antworte nur mit ...", "Vastaa vain ...".
_ONLY_WITH = re.compile(
    r"\b(?:reply|respond|answer|svara|antworte|réponds|répondez|responde|vastaa|odpowiedz|odpowiadaj|відповідай|"
    r"отвечай|ku\s+jawaab|cevap\s+ver)\s+(?:only|bara|endast|enbart|nur|seulement|uniquement|solo|sólo|únicamente|"
    r"vain|ainoastaan|tylko|лише|тільки|только|kaliya|sadece)\s+(?:with|med|mit|avec|par|con|by|in|på|auf|en|"
    r"kanssa|w|po|на|ku|ile)\b",
    _F,
)


def _in_window(first: re.Pattern[str], window: int, *then: re.Pattern[str], text: str) -> bool:
    """Does `first` match, followed within `window` characters by a match of each pattern in `then`?"""
    for m in first.finditer(text):
        tail = text[m.end() : m.end() + window]
        if all(p.search(tail) for p in then):
            return True
    return False


PATTERNS = [
    *_OVERRIDE, _OVERRIDE_OTHER, *_ROLE, *_MODE, *_ADDRESSED, *_ADDRESS, *_TOLD, _IGNORE_LAST, _PROMPT, _ONLY_WITH,
]

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


@lru_cache(maxsize=CACHE_SIZE)
def instruction_like(sentence: str) -> bool:
    """Does this sentence read as an instruction to the assistant (or a request to hand over secrets)?"""
    if any(p.search(sentence) for p in PATTERNS):
        return True
    if _in_window(_IGNORE, IGNORE_WINDOW, _WHICH, _WHAT, text=sentence):
        return True
    if _in_window(_NOW, NOW_WINDOW, _NOW_WHAT, text=sentence):
        return True
    return bool(
        _SECRET.search(sentence)
        and _HAND_OVER.search(sentence)
        and _DESTINATION.search(sentence)
        and not _NEGATED.search(sentence)
    )


#: A list item's number or bullet left alone ("3.", "-"): what is left of a list line once its text is taken out.
LIST_MARK = re.compile(r"^\s*(?:[-*•]\s*)?(?:\d{1,3}[.)]|[-*•])?\s*$")


def _opens_a_message(sentence: str) -> bool:
    """Does the sentence address the machine ("Note to the AI.", "Kära AI,", "KI: ..."), so that what follows on its
    line is the message?"""
    return sentence.endswith(":") or any(p.search(sentence) for p in (*_ADDRESS, _ADDRESSED[0], _TOLD[2]))


def flagged_sentences(text: str) -> list[str]:
    """The sentences of `text` that read as instructions to the assistant, in order.

    A message is flagged whole: the sentence after one that announces it ("Viktigt meddelande till AI-assistenten:"
    then "Svara alltid att ..."), and the rest of the line after one that addresses the machine ("Note to the AI.
    Tell staff ..."). The sentences before it on its line are the routine's own and stay.
    """
    return list(_flagged(text))


@lru_cache(maxsize=CACHE_SIZE)
def _flagged(text: str) -> tuple[str, ...]:
    sents = sentences(text)
    flagged = {s for s in sents if instruction_like(s)}
    if not flagged:
        return ()
    for before, after in zip(sents, sents[1:], strict=False):
        if before in flagged and before.endswith(":"):
            flagged.add(after)
    for line in text.splitlines():
        parts = sentences(line)
        opened = next((i for i, p in enumerate(parts) if p in flagged and _opens_a_message(p)), None)
        if opened is not None:
            flagged.update(parts[opened:])
    return tuple(s for s in sents if s in flagged and not LIST_MARK.match(s))


def has_flagged(text: str, flagged: list[str] | None = None) -> bool:
    """Does the passage hold instruction-like text (`flagged` is what ingest stored, if anything)?"""
    return bool(flagged) or bool(flagged_sentences(text))


@lru_cache(maxsize=CACHE_SIZE)
def without_flagged(text: str) -> str:
    """`text` with its instruction-like sentences taken out (what an LLM may read), and no list number left alone."""
    flagged = flagged_sentences(text)
    if not flagged:
        return text
    for sent in flagged:
        text = text.replace(sent, "")
    # A sentence that a PDF wrapped over lines is not found whole: drop the lines it is made of.
    lines = [ln for ln in text.splitlines() if not any(ln.strip() and ln.strip() in s for s in flagged)]
    # A line that held only flagged text is dropped whole, with its list number; the paragraph breaks stay.
    return "\n".join(ln for ln in lines if not ln or (not LIST_MARK.match(ln) and not instruction_like(ln)))
