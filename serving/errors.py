"""One JSON error shape for every route (OpenAI's, so OpenAI clients show the message)."""

from typing import Any

from starlette.responses import JSONResponse


def error_type(status: int) -> str:
    """OpenAI's error type for an HTTP status: what OpenAI's clients map to their exception classes."""
    if status in (401, 403):
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    if 400 <= status < 500:
        return "invalid_request_error"
    return "server_error"


def error_body(status: int, message: str) -> dict[str, Any]:
    """{"error": {"message", "type", "code"}}: `type` is one of OpenAI's, `code` the HTTP status."""
    return {"error": {"message": message, "type": error_type(status), "code": status}}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)
