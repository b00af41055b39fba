"""The benchmark harness behind ``make bench``: listarchive side by side with public-inbox.

``python -m bench --size SIZE`` assembles a corpus of real mail into ``bench/scratch/``, ingests it
with listarchive and with public-inbox, serves both archives on loopback, measures them with the
same client on the same URLs, and writes ``BENCHMARKS.md`` plus plots in ``bench/plots/``.
Nothing here is imported by the product.
"""
