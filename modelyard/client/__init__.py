"""The SDK: ``Client`` (local or HTTP) and the fluent API."""

from .client import Client as Client
