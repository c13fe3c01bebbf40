# The two commands in the README. Each installs what it needs (cached after the first run).
.PHONY: up test

up:
	./scripts/up.sh

test:
	./scripts/test.sh
