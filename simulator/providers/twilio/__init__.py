"""Twilio Programmable Messaging (``/2010-04-01/Accounts/{sid}/Messages``)."""

from lynsms.simulator.providers.twilio.handlers import Twilio

PROVIDER = Twilio

__all__ = ["PROVIDER", "Twilio"]
