"""The ingestion worker: mail sources -> parsed facts -> store. Never imports Flask."""
