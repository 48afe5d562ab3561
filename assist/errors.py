"""Errors raised by the assist core; each names what failed and what to do about it."""


class AssistError(Exception):
    """Base class: every error the core raises on purpose."""

    #: HTTP status a surface should answer with.
    status_code: int = 500


class ConfigError(AssistError, ValueError):
    """A setting has a value the product cannot use."""

    status_code = 500


class UnknownRoleError(AssistError, ValueError):
    """The caller named a role that does not exist."""

    status_code = 400


class InvalidQuestionError(AssistError, ValueError):
    """The question is empty, too long or not text."""

    status_code = 400


class StoreNotFoundError(AssistError):
    """The vector store has not been created yet."""

    status_code = 503


class BackendUnavailableError(AssistError):
    """A backend (Qdrant server, LLM endpoint) cannot be reached."""

    status_code = 503


class ScopeError(AssistError, ValueError):
    """The caller asked to search collections its role may not read."""

    status_code = 403


class StoreBusyError(AssistError):
    """The store is held by another process (another ingest writing it)."""

    status_code = 503


class StoreDamagedError(AssistError):
    """The store's files are missing, changed or unreadable: it has to be rebuilt or restored.

    `public` says the same without file system paths, for callers who must not see them.
    """

    status_code = 503

    def __init__(self, message: str, *, public: str | None = None):
        super().__init__(message)
        self.public = public or message
