"""The robustness family: one client's bytes must never crash the broker, stall other
clients, or get a malformed message forwarded."""
