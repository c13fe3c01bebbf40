"""Child process that parses one document: bytes on stdin, JSON sections on stdout.

Native parsers (PDFium, lxml) run here, under memory and CPU limits, so a hostile file
cannot crash, hang or exhaust the API process that asked for it.
"""

from __future__ import annotations

import json
import resource
import sys

from vocable.knowledge.parsing import Limits, parse
from vocable.knowledge.sniff import DocumentRejected

MEMORY_LIMIT_BYTES = 2 * 1024 * 1024 * 1024


def main() -> None:
    kind = sys.argv[1]
    limits = Limits(
        max_text_chars=int(sys.argv[2]),
        max_pages=int(sys.argv[3]),
        max_unzipped_bytes=int(sys.argv[4]),
    )
    cpu_seconds = int(float(sys.argv[5])) + 1
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    data = sys.stdin.buffer.read()
    try:
        sections = parse(kind, data, limits)
        result: dict[str, object] = {
            "sections": [{"text": s.text, "page": s.page} for s in sections]
        }
    except DocumentRejected as e:
        result = {"error": e.code, "reason": e.reason}
    except MemoryError:
        result = {"error": "too_large", "reason": "The document needs too much memory to read"}
    sys.stdout.write(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
