"""The emulated providers. Each module has the same shape (see ``base.Provider``); only the wire differs."""

from simulator.providers.base import Provider
from simulator.providers.clicksend import ClickSend
from simulator.providers.infobip import Infobip
from simulator.providers.sinch import Sinch
from simulator.providers.twilio import Twilio

PROVIDER_CLASSES: tuple[type[Provider], ...] = (Twilio, Sinch, Infobip, ClickSend)

__all__ = ["PROVIDER_CLASSES", "Provider"]
