"""The mqttsec reference broker: a small, spec-exact MQTT 3.1.1 and 5.0 broker.

``Broker`` is the asyncio server, ``run_broker`` runs one in the foreground, and
``BackgroundBroker`` runs one in a thread for synchronous tests and tools.
"""

from .background import BackgroundBroker, BrokerThreadError
from .config import BrokerConfig, load_config
from .server import Broker, run_broker

__all__ = [
    "BackgroundBroker",
    "Broker",
    "BrokerConfig",
    "BrokerThreadError",
    "load_config",
    "run_broker",
]
