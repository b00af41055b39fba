"""Search: the query language (:mod:`.vocabulary`, :mod:`.querytree`, :mod:`.queryparser`,
:mod:`.querydates`), the analysis both engines follow (:mod:`.analysis`), one interface
(:mod:`.documents`) with an adapter per engine (tantivy, the default: :mod:`.tantivyindex` and
the modules it names; Whoosh: :mod:`.whooshindex` and the modules it names) chosen by
:mod:`.engine`, the indexer that follows the database (write side, :mod:`.indexer`, with its
documents built by :mod:`.docbuilder`) and the searcher the site and the command line ask (read
side, :mod:`.searcher`)."""
