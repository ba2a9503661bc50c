"""Security mechanisms of the reference broker (passwords, ACL, TLS, plugins)."""
