"""One JSON error shape for every route (OpenAI's, so OpenAI clients show the message)."""

from typing import Any

from starlette.responses import JSONResponse

STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


def error_body(status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    """{"error": {"message", "type", "code"}}."""
    return {"error": {"message": message, "type": kind or STATUS_TYPES.get(status, "server_error"), "code": status}}


def error_response(
    status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(status, message, kind), status_code=status, headers=headers)
