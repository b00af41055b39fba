"""Search: the query language (:mod:`.query`), the engine adapter, the indexer that follows the
database (write side) and the searcher the site and the command line ask (read side)."""
