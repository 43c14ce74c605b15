"""Admin for applications, users, connections, tokens (masked) and webhook deliveries."""
