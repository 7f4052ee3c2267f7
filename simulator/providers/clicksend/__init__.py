"""ClickSend REST v3 (``/v3/sms/send``, history, receipts and receipt rules)."""

from lynsms.simulator.providers.clicksend.handlers import ClickSend

PROVIDER = ClickSend

__all__ = ["PROVIDER", "ClickSend"]
