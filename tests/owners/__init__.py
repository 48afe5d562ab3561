"""Tests of the routine owners' domain: knowledge gaps and the transparency record."""
