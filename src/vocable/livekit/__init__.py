"""LiveKit: server installation and supervision, and room-scoped join tokens."""
