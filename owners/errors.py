"""Errors of the owners' routines; each says what was refused and what to do, and carries its HTTP status."""

from assist.errors import AssistError


class OwnersError(AssistError):
    """Base class of the owners' errors."""

    status_code = 400


class NotAllowedError(OwnersError):
    """The caller may not manage this collection (or any)."""

    status_code = 403


class UnknownDocumentError(OwnersError):
    """No routine with that id in the collections the caller manages."""

    status_code = 404


class DocumentExistsError(OwnersError):
    """A routine of that name is already there: replace it, or name the file differently."""

    status_code = 409


class UploadTooLargeError(OwnersError):
    """The uploaded file is over the size limit."""

    status_code = 413


class UnsupportedFileError(OwnersError):
    """The file's content is not a document type the ingest reads (judged by its bytes, not its name)."""

    status_code = 415


class UnreadableFileError(OwnersError):
    """The file is of a supported type but could not be converted: the ingest's reason says why."""

    status_code = 422


class ChangeInProgressError(OwnersError):
    """Another change (an owner's, or an ingest) holds the store: try again after `retry_after` seconds."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, retry_after)
        self.headers = {"Retry-After": str(self.retry_after)}


class UploadStoppedError(OwnersError):
    """The upload was stopped part-way (its client went away): nothing of it was kept."""

    status_code = 400
