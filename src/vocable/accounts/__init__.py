"""Accounts: organisations, dashboard users, sign-in, and API keys."""
