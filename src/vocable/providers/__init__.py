"""Speech, language and voice engines, named ``kind/name`` (see ``catalog``)."""
