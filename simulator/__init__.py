"""LynSMS Local simulator: Twilio, Sinch, Infobip and ClickSend on their real wire."""

from simulator.app import Simulator, create_app

__all__ = ["Simulator", "create_app"]
