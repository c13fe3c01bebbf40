"""Knowledge base: parse → chunk → embed → index → hybrid search, per agent.

Documents and their status live in the control-plane database; chunks live in a
knowledge index (SQLite + sqlite-vec + FTS5, or PostgreSQL + pgvector + full-text).
"""
