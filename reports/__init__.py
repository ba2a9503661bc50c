"""mqttsec result model and report renderers."""
