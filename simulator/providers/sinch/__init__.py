"""Sinch SMS REST API ("XMS", ``/xms/v1/{plan or project}/batches``) and its OAuth2 token endpoint."""

from lynsms.simulator.providers.sinch.handlers import Sinch

PROVIDER = Sinch

__all__ = ["PROVIDER", "Sinch"]
