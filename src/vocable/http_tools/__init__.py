"""HTTP tools: a business's own HTTP endpoints that an agent's calls may call.

``schemas`` (what the API takes and shows), ``params`` (the JSON schema subset a tool's
parameters use, and checking the LLM's arguments against it), ``service`` (storage,
headers sealed and write-only, the worker's view with ``{{variables}}`` filled) and
``executor`` (one call through the outbound guard; no livekit).
"""
