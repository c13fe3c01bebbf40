"""Call records: an organisation's sessions, their transcripts, and ending one now."""
