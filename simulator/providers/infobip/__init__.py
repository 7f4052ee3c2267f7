"""Infobip SMS (``/sms/3/messages``, ``/sms/2/text/advanced``, reports and logs)."""

from lynsms.simulator.providers.infobip.handlers import Infobip

PROVIDER = Infobip

__all__ = ["PROVIDER", "Infobip"]
