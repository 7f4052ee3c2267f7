"""The gateway's configuration: one YAML file, or a built-in default aimed at the local simulator.

Every problem in a file is reported as ``ConfigError("FILE: key.path: what is wrong")`` so a
user can fix it without reading this module. The format is documented in docs/gateway.md.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import yaml

from lynsms.gateway.providers import registry
from lynsms.gateway.providers.base import ProviderSettings
from lynsms.gateway.providers.names import PROVIDER_NAMES

DEFAULT_SIMULATOR_URL: Final = "http://127.0.0.1:8900"
DEFAULT_PRICE: Final = Decimal("0.05")
DEFAULT_TIMEOUT: Final = 10.0
API_KEY_ENV: Final = "LYNSMS_API_KEY"

_COUNTRY = re.compile(r"[A-Z]{2}")
# Top-level keys of the webhook settings (``WebhookSettings``), flat as the docs show them.
_WEBHOOK_KEYS: Final = (
    "webhook_url",
    "webhook_secret",
    "webhook_timeout_seconds",
    "webhook_retry_seconds",
    "webhook_max_age_seconds",
    "webhook_retention_seconds",
    "webhook_max_pending",
    "poll_after_seconds",
    "report_park_seconds",
    "report_park_max",
)


_STORE_KEYS: Final = ("store_max_messages", "idempotency_key_seconds")


# Where in a config document: mapping keys as strings, list positions as integers; () is the whole document.
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config: where (``("providers", "twilio", "price")``) and what."""

    source: str
    path: KeyPath
    message: str
    line: int = 0  # in the config file, when the config came from one

    @property
    def where(self) -> str:
        """The key path as people write it: ``routes.7.chain[1]``."""
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
        return text

    def __str__(self) -> str:
        at = f"{self.source}:{self.line}" if self.line else self.source
        return f"{at}: {self.where}: {self.message}" if self.path else f"{at}: {self.message}"


class ConfigError(ValueError):
    """A config that cannot be used. ``problems`` says what is wrong, structured, so callers need
    not parse the text; ``str(error)`` is ``"FILE: key.path: what is wrong"``."""

    def __init__(self, *problems: ConfigProblem) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems: tuple[ConfigProblem, ...] = problems


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false. Under YAML 1.1 the country code ``NO``
    (Norway) in a price table would load as ``False``."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class ProviderConfig:
    settings: ProviderSettings
    price: Decimal = DEFAULT_PRICE  # USD per segment
    prices: Mapping[str, Decimal] = field(default_factory=dict)  # ISO 3166 alpha-2 -> per-segment price


@dataclass(frozen=True)
class Route:
    id: int
    name: str
    chain: tuple[str, ...]


@dataclass(frozen=True)
class ApiKey:
    key: str = field(repr=False)  # never in logs or reprs
    name: str
    # Where events of messages this key sent go, and what signs them (else the global settings).
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WebhookSettings:
    """Customer webhooks and delivery-report tracking (docs/gateway.md, "Delivery reports and webhooks")."""

    url: str | None = None  # where message events are POSTed; None (and no per-key URL): no webhooks
    secret: str | None = field(default=None, repr=False)  # None: derived from the sending API key
    timeout_seconds: float = 10.0
    retry_seconds: float = 1.0  # wait before the first retry; doubles each time, at most an hour
    max_age_seconds: float = 3 * 86400.0  # an event not delivered by then is marked failed
    retention_seconds: float = 7 * 86400.0  # delivered and failed events are deleted this long after
    max_pending: int = 100_000  # beyond this many pending events, the oldest are failed
    poll_after_seconds: float | None = None  # poll providers for messages stuck in sent this long; None: off
    park_seconds: float = 600.0  # how long a report for a message not (yet) known waits for it
    park_max: int = 10_000  # reports parked per provider at most; beyond, new ones are dropped


@dataclass(frozen=True)
class StoreSettings:
    """What the store forgets (docs/gateway.md, "Retention")."""

    max_messages: int | None = None  # keep the newest this many; None: 50,000 in memory, all in a file
    key_lifetime_seconds: float = 86400.0  # an answered Idempotency-Key is honoured this long


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0


@dataclass(frozen=True)
class TwoWaySettings:
    """Inbound keywords and number lookup (the ``two_way`` block)."""

    help_text: str = "LynSMS: reply STOP to unsubscribe, START to subscribe again. Msg&data rates may apply."
    lookup_provider: str | None = None  # None: infobip if configured (it batches), else the first that looks up
    lookup_ttl_seconds: float = 86400.0  # how long a lookup result is reused; 0 turns the cache off


@dataclass(frozen=True)
class GatewayConfig:
    providers: Mapping[str, ProviderConfig]
    default_chain: tuple[str, ...]
    routes: Mapping[int, Route] = field(default_factory=dict)
    api_keys: tuple[ApiKey, ...] = ()
    breaker: BreakerConfig = BreakerConfig()
    # Base URL providers call back (delivery reports); None sends no callback URL.
    public_url: str | None = None
    # Signs the token of every callback URL (``delivery.callback_auth``); None: generated per installation.
    report_secret: str | None = field(default=None, repr=False)
    webhooks: WebhookSettings = WebhookSettings()
    two_way: TwoWaySettings = TwoWaySettings()
    store: StoreSettings = StoreSettings()

    def with_api_key(self, key: str, name: str = "default") -> GatewayConfig:
        return replace(self, api_keys=(*self.api_keys, ApiKey(key=key, name=name)))


def default_provider(name: str, simulator_url: str) -> ProviderConfig:
    provider = registry.provider(name)
    return ProviderConfig(
        settings=ProviderSettings(
            name=name,
            base_url=simulator_url.rstrip("/"),
            credentials=dict(provider.default_credentials),
            timeout=DEFAULT_TIMEOUT,
            max_batch=provider.max_batch,
        )
    )


def is_http_url(text: str) -> bool:
    """An http:// or https:// URL with a host: the only kind the gateway POSTs to (never file://)."""
    return re.match(r"https?://[^/\s]+", text) is not None


def default_config(simulator_url: str | None = None) -> GatewayConfig:
    url = simulator_url or DEFAULT_SIMULATOR_URL
    return GatewayConfig(
        providers={name: default_provider(name, url) for name in PROVIDER_NAMES},
        default_chain=PROVIDER_NAMES,
    )


def load_config(path: str | None, simulator_url: str | None = None) -> GatewayConfig:
    """The file at ``path``, or the built-in default when ``path`` is None.

    ``simulator_url`` is where providers without a ``base_url`` point (default 127.0.0.1:8900).
    """
    if path is None:
        return default_config(simulator_url)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(ConfigProblem(str(path), (), f"cannot read: {exc}")) from exc
    try:
        data = yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(ConfigProblem(str(path), (), f"not valid YAML: {exc}", line)) from exc
    try:
        return parse_config(data if data is not None else {}, simulator_url, source=str(path))
    except ConfigError as exc:
        lines = _key_lines(text)
        raise ConfigError(*(replace(p, line=_line_of(p.path, lines)) for p in exc.problems)) from None


def _key_lines(text: str) -> dict[KeyPath, int]:
    """The line of every key path in a YAML document (keys' lines for mappings, items' for lists)."""
    lines: dict[KeyPath, int] = {}

    def walk(node: yaml.Node, path: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                walk(item, (*path, index))

    root = yaml.compose(text, Loader=_Yaml12Loader)
    if root is not None:
        walk(root, ())
    return lines


def _line_of(path: KeyPath, lines: Mapping[KeyPath, int]) -> int:
    """The line of ``path``, or of its nearest ancestor written in the file (a key that is missing)."""
    for end in range(len(path), 0, -1):
        found = lines.get(path[:end])
        if found:
            return found
    return 0


def parse_config(data: object, simulator_url: str | None = None, source: str = "<config>") -> GatewayConfig:
    return _Parser(source, simulator_url or DEFAULT_SIMULATOR_URL).config(data)


def effective_api_keys(config: GatewayConfig, environ: Mapping[str, str] = os.environ) -> tuple[ApiKey, ...]:
    """Keys from the config plus ``LYNSMS_API_KEY`` when set."""
    env_key = environ.get(API_KEY_ENV, "").strip()
    extra = (ApiKey(key=env_key, name="env"),) if env_key else ()
    return config.api_keys + extra


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'timeout'?)`` for a near miss among ``choices``, else nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Parser:
    def __init__(self, source: str, simulator_url: str) -> None:
        self.source = source
        self.simulator_url = simulator_url.rstrip("/")

    def fail(self, where: KeyPath, message: str) -> ConfigError:
        return ConfigError(ConfigProblem(self.source, where, message))

    def mapping(self, value: object, where: KeyPath) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, got {type(value).__name__}")
        return value

    def known_keys(self, value: dict[Any, Any], where: KeyPath, allowed: set[str]) -> None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            hint = did_you_mean(unknown[0], allowed)
            raise self.fail((*where, unknown[0]), f"unknown key{hint} (allowed: {', '.join(sorted(allowed))})")

    def string(self, value: object, where: KeyPath) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "must be a non-empty string")
        return value.strip()

    def price(self, value: object, where: KeyPath) -> Decimal:
        # bool is an int subclass; "true" is never a price.
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(where, "must be a number >= 0")
        return Decimal(str(value))

    def positive(self, value: object, where: KeyPath, integer: bool = False) -> float:
        ok = isinstance(value, int) or (not integer and isinstance(value, float))
        if isinstance(value, bool) or not ok or not isinstance(value, int | float) or value <= 0:
            raise self.fail(where, f"must be a positive {'integer' if integer else 'number'}")
        return float(value)

    def url(self, value: object, where: KeyPath) -> str:
        text = self.string(value, where)
        if not is_http_url(text):
            raise self.fail(where, "must be an http:// or https:// URL")
        return text.rstrip("/")

    def chain(self, value: object, where: KeyPath, providers: Mapping[str, ProviderConfig]) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "must be a non-empty list of provider names")
        names: list[str] = []
        for i, item in enumerate(value):
            if item not in providers:
                hint = did_you_mean(str(item), providers)
                raise self.fail((*where, i), f"{item!r} is not a configured provider{hint} ({', '.join(providers)})")
            if item in names:
                raise self.fail((*where, i), f"{item!r} appears twice")
            names.append(item)
        return tuple(names)

    def config(self, data: object) -> GatewayConfig:
        top = self.mapping(data, ())
        self.known_keys(
            top,
            (),
            {
                "providers",
                "routes",
                "default_chain",
                "api_keys",
                "breaker",
                "public_url",
                "report_secret",
                "two_way",
                *_WEBHOOK_KEYS,
                *_STORE_KEYS,
            },
        )
        providers = self.providers(top.get("providers"))
        chain = (
            self.chain(top["default_chain"], ("default_chain",), providers)
            if "default_chain" in top
            else tuple(name for name in PROVIDER_NAMES if name in providers)
        )
        return GatewayConfig(
            providers=providers,
            default_chain=chain,
            routes=self.routes(top.get("routes", {}), providers),
            api_keys=self.api_keys(top.get("api_keys", [])),
            breaker=self.breaker(top.get("breaker", {})),
            public_url=self.url(top["public_url"], ("public_url",)) if top.get("public_url") is not None else None,
            report_secret=self.string(top["report_secret"], ("report_secret",))
            if top.get("report_secret") is not None
            else None,
            webhooks=self.webhooks(top),
            store=StoreSettings(
                max_messages=int(self.positive(top["store_max_messages"], ("store_max_messages",), True))
                if top.get("store_max_messages") is not None
                else None,
                key_lifetime_seconds=self.positive(
                    top.get("idempotency_key_seconds", 86400.0), ("idempotency_key_seconds",)
                ),
            ),
            two_way=self.two_way(top.get("two_way", {}), providers),
        )

    def two_way(self, value: object, providers: Mapping[str, ProviderConfig]) -> TwoWaySettings:
        spec = self.mapping(value, ("two_way",))
        self.known_keys(spec, ("two_way",), {"help_text", "lookup_provider", "lookup_ttl_seconds"})
        base = TwoWaySettings()
        provider = spec.get("lookup_provider")
        if provider is not None and provider not in providers:
            raise self.fail(("two_way", "lookup_provider"), f"not a configured provider: {provider!r}")
        ttl = spec.get("lookup_ttl_seconds", base.lookup_ttl_seconds)
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0:
            raise self.fail(("two_way", "lookup_ttl_seconds"), "must be a number of seconds, 0 or more")
        return TwoWaySettings(
            help_text=self.string(spec["help_text"], ("two_way", "help_text"))
            if "help_text" in spec
            else base.help_text,
            lookup_provider=provider,
            lookup_ttl_seconds=float(ttl),
        )

    def webhooks(self, top: dict[Any, Any]) -> WebhookSettings:
        def seconds(key: str, default: float) -> float:
            return self.positive(top.get(key, default), (key,))

        poll = top.get("poll_after_seconds")
        return WebhookSettings(
            url=self.url(top["webhook_url"], ("webhook_url",)) if top.get("webhook_url") is not None else None,
            secret=self.string(top["webhook_secret"], ("webhook_secret",))
            if top.get("webhook_secret") is not None
            else None,
            timeout_seconds=seconds("webhook_timeout_seconds", 10.0),
            retry_seconds=seconds("webhook_retry_seconds", 1.0),
            max_age_seconds=seconds("webhook_max_age_seconds", 3 * 86400.0),
            retention_seconds=seconds("webhook_retention_seconds", 7 * 86400.0),
            max_pending=int(self.positive(top.get("webhook_max_pending", 100_000), ("webhook_max_pending",), True)),
            poll_after_seconds=self.positive(poll, ("poll_after_seconds",)) if poll is not None else None,
            park_seconds=seconds("report_park_seconds", 600.0),
            park_max=int(self.positive(top.get("report_park_max", 10_000), ("report_park_max",), True)),
        )

    def providers(self, value: object) -> dict[str, ProviderConfig]:
        if value is None:
            return {name: default_provider(name, self.simulator_url) for name in PROVIDER_NAMES}
        section = self.mapping(value, ("providers",))
        if not section:
            raise self.fail(("providers",), "must configure at least one provider")
        return {name: self.provider(name, body) for name, body in section.items()}

    def provider(self, name: object, value: object) -> ProviderConfig:
        where: KeyPath = ("providers", str(name))
        if name not in PROVIDER_NAMES:
            hint = did_you_mean(str(name), PROVIDER_NAMES)
            raise self.fail(where, f"unknown provider{hint} (known: {', '.join(PROVIDER_NAMES)})")
        assert isinstance(name, str)
        body = self.mapping(value if value is not None else {}, where)
        self.known_keys(body, where, {"base_url", "credentials", "timeout", "price", "prices", "max_batch"})
        defaults = registry.provider(name)
        credentials = dict(defaults.default_credentials)
        if "credentials" in body:
            creds = self.mapping(body["credentials"], (*where, "credentials"))
            credentials = {str(k): self.string(v, (*where, "credentials", str(k))) for k, v in creds.items()}
        prices: dict[str, Decimal] = {}
        for country, price in self.mapping(body.get("prices", {}), (*where, "prices")).items():
            if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
                raise self.fail((*where, "prices", str(country)), "must be an ISO 3166 alpha-2 country code, e.g. GB")
            prices[country] = self.price(price, (*where, "prices", str(country)))
        return ProviderConfig(
            settings=ProviderSettings(
                name=name,
                base_url=self.url(body["base_url"], (*where, "base_url")) if "base_url" in body else self.simulator_url,
                credentials=credentials,
                timeout=self.positive(body.get("timeout", DEFAULT_TIMEOUT), (*where, "timeout")),
                max_batch=int(self.positive(body.get("max_batch", defaults.max_batch), (*where, "max_batch"), True)),
            ),
            price=self.price(body.get("price", 0.05), (*where, "price")),
            prices=prices,
        )

    def routes(self, value: object, providers: Mapping[str, ProviderConfig]) -> dict[int, Route]:
        routes: dict[int, Route] = {}
        for key, body in self.mapping(value if value is not None else {}, ("routes",)).items():
            where: KeyPath = ("routes", str(key))
            if isinstance(key, bool) or not (isinstance(key, int) or (isinstance(key, str) and key.isdecimal())):
                raise self.fail(where, "route ids must be positive integers")
            route_id = int(key)
            if route_id <= 0 or route_id in routes:
                raise self.fail(where, "route ids must be unique positive integers")
            spec = self.mapping(body, where)
            self.known_keys(spec, where, {"name", "chain"})
            name = self.string(spec["name"], (*where, "name")) if "name" in spec else f"route-{route_id}"
            if "chain" not in spec:
                raise self.fail((*where, "chain"), "is required")
            routes[route_id] = Route(
                id=route_id, name=name, chain=self.chain(spec["chain"], (*where, "chain"), providers)
            )
        return routes

    def api_keys(self, value: object) -> tuple[ApiKey, ...]:
        if not isinstance(value, list):
            raise self.fail(("api_keys",), "must be a list of {key, name} mappings")
        keys: list[ApiKey] = []
        for i, item in enumerate(value):
            where: KeyPath = ("api_keys", i)
            spec = self.mapping({"key": item} if isinstance(item, str) else item, where)
            self.known_keys(spec, where, {"key", "name", "webhook_url", "webhook_secret"})
            key = self.string(spec.get("key"), (*where, "key"))
            if any(ch.isspace() for ch in key):
                raise self.fail((*where, "key"), "must not contain whitespace")
            name = self.string(spec["name"], (*where, "name")) if "name" in spec else f"key-{i + 1}"
            url = (
                self.url(spec["webhook_url"], (*where, "webhook_url")) if spec.get("webhook_url") is not None else None
            )
            secret = spec.get("webhook_secret")
            secret = self.string(secret, (*where, "webhook_secret")) if secret is not None else None
            keys.append(ApiKey(key=key, name=name, webhook_url=url, webhook_secret=secret))
        return tuple(keys)

    def breaker(self, value: object) -> BreakerConfig:
        spec = self.mapping(value if value is not None else {}, ("breaker",))
        self.known_keys(spec, ("breaker",), {"failure_threshold", "cooldown_seconds"})
        return BreakerConfig(
            failure_threshold=int(
                self.positive(spec.get("failure_threshold", 5), ("breaker", "failure_threshold"), True)
            ),
            cooldown_seconds=self.positive(spec.get("cooldown_seconds", 30.0), ("breaker", "cooldown_seconds")),
        )
