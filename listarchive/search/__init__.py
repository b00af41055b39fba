"""Search: the query language (:mod:`.query`), the analysis both engines follow (:mod:`.analysis`),
one interface (:mod:`.documents`) with an adapter per engine (:mod:`.tantivyindex`, the default,
and :mod:`.whooshindex`) chosen by :mod:`.engine`, the indexer that follows the database (write
side) and the searcher the site and the command line ask (read side)."""
