"""The provider adapters: one module per provider (``twilio``, ``sinch``, ...) holding everything
about that provider's wire, the shared mechanics (``base``, ``http``, ``transport``, ``reports``),
the names (``names``) and how a module is found by name (``registry``).

Deliberately empty: importing ``providers.names`` must not load the adapters.
"""
