"""Credentials: password hashing, API keys, cookie sessions and encryption at rest."""
