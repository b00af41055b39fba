"""listarchive: a public mailing-list archive and patch-review portal."""

__version__ = "0.1.0"
