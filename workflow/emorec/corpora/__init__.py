"""One module per corpus: filename / row parsing and ingest into manifest + rejects tables."""
