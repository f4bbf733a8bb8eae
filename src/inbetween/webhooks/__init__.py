"""Webhooks, following the Standard Webhooks specification.

``outbox``: which status changes become messages, and their bodies (fixed when the change is
stored, in the same transaction); ``signing``: per-key ``whsec_`` secrets and the
``webhook-signature`` header; ``sender``: the loop any API or worker process runs to send
due deliveries, each attempt claimed in the store so two processes never send it at once.
"""

from inbetween.webhooks.outbox import Outbox
from inbetween.webhooks.signing import new_secret, signature_header

__all__ = ["Outbox", "new_secret", "signature_header"]
