"""The HTTP service: phone page, JSON and streaming API, OpenAI-compatible API, health and metrics."""
