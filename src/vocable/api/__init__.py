"""The HTTP API: the enterprise session endpoint, dashboard routes and the worker channel."""
