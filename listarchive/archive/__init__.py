"""The stored archive: the schema, opening it, raw message bytes, and the read side of messages,
threads and lists (:mod:`.messageview`; the write side is ``ingest.messagestore``)."""
