"""Dictionary forms of words (lemmas), and whether a word is in a language's word list: simplemma's dictionaries,
kept on disk as MARISA tries that every process maps into memory.

simplemma reads a language's whole dictionary into a Python dict the first time it is asked about that language:
Finnish takes 4 s, Polish 6 s, and all the served languages about 1 GB in each process. That made the first question
in a language wait, in every worker after every start. Here each language's dictionary becomes a trie once per
machine (the build costs about what that first read did), saved atomically in the cache folder. After that a process
maps it in a millisecond, and a service's workers share its pages. The answers are simplemma's own: the same lookup
strategies over another storage.

The cache folder is the setting `lemma_cache_dir` (`ASSIST_LEMMA_CACHE_DIR`), by default the user's cache folder
(`~/.cache/frontline-assist/lemmas/simplemma-<version>`); the translation tables (assist.translation) are saved there
too. Where it cannot be written, a process keeps what it built in memory and logs why.
"""

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from marisa_trie import BytesTrie
from platformdirs import user_cache_dir
from simplemma import Lemmatizer
from simplemma.__metadata__ import __version__ as SIMPLEMMA_VERSION
from simplemma.strategies import DefaultStrategy, DictionaryLookupStrategy
from simplemma.strategies.dictionaries import DefaultDictionaryFactory
from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES, CachingDictionaryFactory
from simplemma.strategies.dictionaries.trie_dictionary_factory import TrieWrapDict
from simplemma.utils import normalize_token

logger = logging.getLogger(__name__)

CACHE_ENV = "ASSIST_LEMMA_CACHE_DIR"


_configured: Path | None = None


def configure(folder: Path | None) -> None:
    """Keep the tries in `folder` (the setting `lemma_cache_dir`); None: $ASSIST_LEMMA_CACHE_DIR or the default."""
    global _configured  # noqa: PLW0603 - one cache folder per process, set where the settings are read
    _configured = folder


def cache_dir() -> Path:
    """Where the tries are kept (read at each use, so a test or a deployment can point it elsewhere)."""
    if _configured is not None:
        return _configured
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(user_cache_dir("frontline-assist")) / "lemmas" / f"simplemma-{SIMPLEMMA_VERSION}"


def _build(lang: str) -> BytesTrie:
    """The trie of simplemma's shipped dictionary of `lang` (read once, not kept)."""
    source = DefaultDictionaryFactory(cache_max_size=0).get_dictionary(lang)
    return BytesTrie((key, value.encode()) for key, value in source.items())


def _mapped(path: Path, what: str) -> BytesTrie | None:
    """The trie saved at `path`, mapped into memory; None when there is none or it cannot be read."""
    if not path.is_file():
        return None
    trie = BytesTrie()
    try:
        trie.mmap(str(path))
    except (OSError, RuntimeError, ValueError) as exc:  # a damaged file: built again
        logger.warning("The saved %s (%s) cannot be read (%s); building it again.", what, path, exc)
        return None
    return trie


def saved_trie(path: Path, build: Callable[[], BytesTrie], what: str) -> BytesTrie:
    """The trie saved at `path`, mapped; built with `build` and saved there first when there is none. One process
    builds it while the others (the workers of one service) wait for it rather than build it too, and a reader never
    sees half a file. Where the folder cannot be written, the built trie is kept in this process's memory."""
    trie = _mapped(path, what)
    if trie is not None:
        return trie
    built: BytesTrie | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                trie = _mapped(path, what)  # built by another process while this one waited
                if trie is not None:
                    return trie
                built = build()
                partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
                try:
                    built.save(str(partial))
                    os.replace(partial, path)
                finally:
                    partial.unlink(missing_ok=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError as exc:
        logger.warning("Cannot keep the %s in %s (%s): this process keeps it in memory. Set %s to a writable folder.",
                       what, path.parent, exc, CACHE_ENV)
        return built if built is not None else build()
    return _mapped(path, what) or built


class MappedTrieFactory(CachingDictionaryFactory):
    """simplemma's dictionaries as tries saved in `cache_dir()` and mapped into memory, each language opened once."""

    def __init__(self) -> None:
        super().__init__(cache_max_size=len(SUPPORTED_LANGUAGES))

    def _get_dictionary_uncached(self, lang: str) -> Mapping[str, str]:
        if lang not in SUPPORTED_LANGUAGES:
            raise ValueError(f"Unsupported language: {lang}")
        return TrieWrapDict(saved_trie(cache_dir() / f"{lang}.marisa", lambda: _build(lang), f"{lang} word list"))


FACTORY = MappedTrieFactory()
_LEMMATIZER = Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=FACTORY))
_LOOKUP = DictionaryLookupStrategy(FACTORY)


def supported(lang: str) -> bool:
    return lang in SUPPORTED_LANGUAGES


def lemmatize(word: str, lang: str) -> str:
    """simplemma.lemmatize(word, lang): the dictionary form, or the word itself. ValueError for a language simplemma
    has no dictionary of."""
    return str(_LEMMATIZER.lemmatize(word, lang))


def is_known(word: str, lang: str) -> bool:
    """simplemma.is_known(word, lang): is the word in the language's word list? ValueError for a language simplemma
    has no dictionary of."""
    if not word:
        return False
    return _LOOKUP.get_lemma(normalize_token(word), lang) is not None


def warm_up(languages: Iterable[str]) -> None:
    """Open (and on a machine's first start, build) the dictionaries of `languages` now rather than on their first
    question."""
    for lang in languages:
        if supported(lang):
            FACTORY.get_dictionary(lang)
