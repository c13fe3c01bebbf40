"""The ``vocable`` command line."""
