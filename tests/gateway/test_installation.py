"""Secrets each installation makes for itself: kept with a file database, new per in-memory store."""

from __future__ import annotations

from pathlib import Path

from lynsms.gateway.config import default_config, parse_config
from lynsms.gateway.installation import installed
from lynsms.gateway.store import Store


def test_a_file_store_keeps_its_secrets_and_each_installation_has_its_own(tmp_path: Path) -> None:
    first = Store(str(tmp_path / "a.db"))
    secret = first.secrets.get("report_secret")
    first.close()
    again = Store(str(tmp_path / "a.db"))
    assert again.secrets.get("report_secret") == secret
    assert Store(str(tmp_path / "b.db")).secrets.get("report_secret") != secret
    assert Store().secrets.get("report_secret") != Store().secrets.get("report_secret")
    assert len(secret) >= 40


def test_the_built_in_twilio_auth_token_is_generated_per_installation() -> None:
    tokens = {installed(default_config(), Store().secrets).providers["twilio"].settings.credentials["auth_token"]}
    tokens.add(installed(default_config(), Store().secrets).providers["twilio"].settings.credentials["auth_token"])
    assert len(tokens) == 2 and "lynsms-local-auth-token" not in tokens


def test_configured_credentials_are_used_as_written() -> None:
    creds = {"account_sid": "AC" + "1" * 32, "auth_token": "mine"}
    config = parse_config({"providers": {"twilio": {"credentials": creds}}})
    assert installed(config, Store().secrets).providers["twilio"].settings.credentials == creds
