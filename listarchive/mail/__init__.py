"""Pure mail facts: bytes in, frozen values out.

Nothing here touches a database, the network or the web: a message's header facts
(:mod:`.message`), its subject (:mod:`.subject`), patches and pull requests (:mod:`.patches`,
with git's patch-id in :mod:`.patchid`), trailers, threads, series grouping, MAINTAINERS
sections and the mboxrd format. The ingest worker, the read side and the site all build on it.
"""
