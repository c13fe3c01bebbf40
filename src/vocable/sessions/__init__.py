"""Sessions: one call each, from the session endpoint to its call record and end."""
