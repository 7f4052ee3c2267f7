"""The delivery path: provider reports in, status changes, customer events out.

``inbound`` (the provider webhook endpoint) and ``polling`` read reports; ``status`` applies them
to messages; the store writes each change's customer event with it (``store.outbox``); ``outbox``
delivers those events, signed (``gateway.signing``); ``tracking`` runs the background parts.
"""
