"""Small Word documents for the owners' tests, built with python-docx (as a person saves them from Word)."""

import io
from pathlib import Path


def docx_bytes(title: str, paragraphs: list[str], *, author: str = "", comments: str = "") -> bytes:
    """A .docx with a title, one heading and these paragraphs."""
    import docx  # noqa: PLC0415

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = author
    document.core_properties.comments = comments
    document.add_heading(title, level=0)
    document.add_heading("Arbetsgång", level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write_docx(path: Path, title: str, paragraphs: list[str]) -> Path:
    """The same document written to `path`."""
    path.write_bytes(docx_bytes(title, paragraphs))
    return path


#: A routine no fixture routine resembles: ice at a client's entrance.
ICE_TITLE = "Halka vid brukarens entré"
ICE = [
    "När trappan eller gången till brukarens entré är isig ska du strö sand från hinken vid dörren innan du går in.",
    "Finns ingen sand: ring fastighetsjouren på 020-55 66 77 och notera halkan i avvikelsesystemet.",
    "Gå aldrig in genom en isig entré med tunga kassar; ta dem i två vändor.",
]
ICE_NEW_TITLE = "Halka vid brukarens entré (ny rutin)"
ICE_NEW = [
    "När trappan eller gången till brukarens entré är isig ska du strö salt från påsen i bilen innan du går in.",
    "Finns inget salt: ring fastighetsjouren på 020-11 22 33 och notera halkan i avvikelsesystemet.",
]
ICE_QUESTION = "Vad gör jag om trappan till brukarens entré är isig?"
