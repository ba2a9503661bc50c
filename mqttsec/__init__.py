"""mqttsec: a security test and conformance suite for MQTT brokers."""

__version__ = "0.1.0"

__all__ = ["__version__"]
