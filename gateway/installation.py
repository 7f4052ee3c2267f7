"""The configuration as this installation runs it: secrets the config leaves out, filled in from
the database (``store.secrets``), so no default gateway trusts a public constant (the callback
URL tokens' secret is filled in the same way, by ``delivery.tracking``).

- A provider on its built-in credentials gets its own value of each ``generated_credentials``
  (Twilio's auth token, which signs and verifies its callbacks); configured credentials are
  used as written.

A file store keeps them across restarts (URLs already handed to providers stay valid); the
in-memory store makes new ones in each process.
"""

from __future__ import annotations

from dataclasses import replace

from lynsms.gateway.config import GatewayConfig, ProviderConfig
from lynsms.gateway.providers import registry
from lynsms.gateway.store.secrets import InstallationSecrets


def installed(config: GatewayConfig, secrets: InstallationSecrets) -> GatewayConfig:
    providers = {name: _provider(provider, secrets) for name, provider in config.providers.items()}
    return replace(config, providers=providers)


def _provider(provider: ProviderConfig, secrets: InstallationSecrets) -> ProviderConfig:
    settings = provider.settings
    spec = registry.provider(settings.name)
    if not spec.generated_credentials or dict(settings.credentials) != dict(spec.default_credentials):
        return provider
    generated = {key: secrets.get(f"{settings.name}.{key}") for key in spec.generated_credentials}
    return replace(provider, settings=replace(settings, credentials={**settings.credentials, **generated}))
