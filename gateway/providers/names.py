"""The one registry of providers: their names, read by the gateway and the simulator alike.

A provider's name is the same lowercase string everywhere: the module ``gateway/providers/<name>.py``,
the simulator folder ``simulator/providers/<name>/``, the scenario key, the config key and the test
file. Each side finds a provider's code by this name, so adding a provider is that code plus one
line here. This module imports nothing, so the simulator's scenario schema and the pytest plugin
can read it without loading the gateway.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ProviderName = Literal["twilio", "sinch", "infobip", "clicksend"]
PROVIDER_NAMES: Final[tuple[ProviderName, ...]] = get_args(ProviderName)
