"""The librarians' terminal client: keyboard-driven chat with cited sources, history and feedback (Textual)."""
