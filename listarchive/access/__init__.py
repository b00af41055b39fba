"""Who may read and change what: accounts, the visibility of lists and messages, embargoes."""
