"""What checking one request costs the gateway: the JSON parse, the request model and the checks
against the configuration (configured route and provider, provider body limits), per send body.

    python -m benchmarks.validation_bench [--number 20000]

In-process and single-threaded, so a busy machine moves it far less than the HTTP benchmarks: the
best of five repeats is printed, in microseconds per request, for a short (one part) body and a
long (eleven parts) one, the case where provider limits have to count parts. The same body is
checked each time, so the long one's segmentation is a cache hit after the first: a new body pays
it once per send, in validation instead of (as before) when the message is stored.
"""

from __future__ import annotations

import argparse
import functools
import json
import timeit

from lynsms.gateway.config import default_config
from lynsms.gateway.jsonbody import parse_json
from lynsms.gateway.validation import Context, send_request

BODIES = {"short": "Your verification code is 482194", "long": "Tickets for tonight are still available " * 40}


def context() -> Context:
    """The Context the gateway builds from its config (service.Gateway.__init__)."""
    config = default_config()
    return Context(
        providers=tuple(config.providers),
        routes={route_id: route.chain for route_id, route in config.routes.items()},
        default_chain=tuple(config.default_chain),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()
    ctx = context()
    for name, body in BODIES.items():
        raw = json.dumps({"to": "+12025550143", "from": "LynSMS", "body": body, "reference": "r-1"}).encode()
        check = functools.partial(send_request, ctx=ctx)
        seconds = min(timeit.repeat(lambda: check(parse_json(raw)), number=args.number, repeat=5))  # noqa: B023
        print(f"{name} body ({len(body)} characters): {seconds / args.number * 1e6:.1f} us per send request")


if __name__ == "__main__":
    main()
