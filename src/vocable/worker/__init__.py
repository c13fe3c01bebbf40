"""The voice worker: one livekit-agents job per session, configured over the worker channel."""
