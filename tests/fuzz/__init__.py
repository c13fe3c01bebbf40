"""Fuzzers shared by the test suite (bounded) and ``bench/`` (longer runs)."""
