"""Parsers of the article formats ingest reads: each turns one file's bytes into Articles."""
