"""The mqttsec reference broker: a small, spec-exact MQTT 3.1.1 and 5.0 broker."""
