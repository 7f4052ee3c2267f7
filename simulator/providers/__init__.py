"""The emulated providers. Each module has the same shape (see ``base.Provider``); only the wire differs."""

from lynsms.simulator.providers.base import Provider
from lynsms.simulator.providers.clicksend import ClickSend
from lynsms.simulator.providers.infobip import Infobip
from lynsms.simulator.providers.sinch import Sinch
from lynsms.simulator.providers.twilio import Twilio

PROVIDER_CLASSES: tuple[type[Provider], ...] = (Twilio, Sinch, Infobip, ClickSend)

__all__ = ["PROVIDER_CLASSES", "Provider"]
