"""Ingest: convert a city's documents, split them by structure, embed and write them to the store."""
