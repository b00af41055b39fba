"""Patch review: states and their rules, history, queues, git-scan, the read side of series and
patches (:mod:`.seriesview`, :mod:`.patchview`; the write side is ``ingest.seriesstore``) and the
am-ready exports."""
