"""``lynsms.intercept()``: a Python process's requests to the providers' real hosts reach the simulator.

Like moto's ``mock_aws``, it needs no change to the code under test: it works at the HTTP-client
layer (urllib3, and so ``requests``; httpx, sync and async; aiohttp), never inside an SDK. Requests
for a provider host go to the simulator over plain HTTP with their original ``Host`` header; requests
for loopback addresses go through untouched; anything else raises ``InterceptRefused`` unless
``passthrough=`` names the host.

- ``routing``: the active interceptions and what each host gets (simulator, through, refused);
- ``hooks_urllib3`` / ``hooks_httpx`` / ``hooks_aiohttp``: one seam per HTTP client library, each a
  ``patch.Patch`` of one method, in place only while an interception is active;
- ``context``: ``intercept()`` itself, a context manager and decorator.
"""

from __future__ import annotations

from lynsms.simulator.harness.intercept.context import Intercept, intercept
from lynsms.simulator.harness.intercept.routing import InterceptRefused

__all__ = ["Intercept", "InterceptRefused", "intercept"]
