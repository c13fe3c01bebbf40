"""Agents: what a business configures (prompt, greeting, voice, engines, limits)."""
