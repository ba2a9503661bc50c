"""mqttsec security scenarios, one folder per family."""
