"""Notification mail: what to tell whom (:mod:`.notices`, read from the state history and the
new mail by a position), how it reads (:mod:`.letters`), who follows what (:mod:`.follows`),
and the outbox a sender delivers through the SMTP relay with retries (:mod:`.outbox`)."""
