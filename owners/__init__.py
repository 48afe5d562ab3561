"""The routine owners' domain: what the routines lack (knowledge gaps) and the public transparency record."""
