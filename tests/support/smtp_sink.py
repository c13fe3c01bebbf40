"""A minimal SMTP server process for tests: accepts every message and writes each one to
``OUTDIR/<n>.eml``. Real SMTP over TCP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), so
the API's own mail client is exercised unchanged.

    python -m tests.support.smtp_sink PORT OUTDIR
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

_numbers = itertools.count(1)


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, out: Path) -> None:
    def reply(line: str) -> None:
        writer.write(f"{line}\r\n".encode())

    reply("220 sink ready")
    await writer.drain()
    while line := await reader.readline():
        command = line.decode(errors="replace").strip().upper()
        if command.startswith(("EHLO", "HELO")):
            reply("250 sink")
        elif command.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
            reply("250 OK")
        elif command == "DATA":
            reply("354 end with <CRLF>.<CRLF>")
            await writer.drain()
            lines = []
            while (data := await reader.readline()) not in (b".\r\n", b".\n", b""):
                lines.append(data[1:] if data.startswith(b"..") else data)
            (out / f"{next(_numbers)}.eml").write_bytes(b"".join(lines))
            reply("250 queued")
        elif command == "QUIT":
            reply("221 bye")
            await writer.drain()
            break
        else:
            reply("502 not implemented")
        await writer.drain()
    writer.close()


async def _main(port: int, out: Path) -> None:
    server = await asyncio.start_server(
        lambda r, w: _session(r, w, out), host="127.0.0.1", port=port
    )
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), Path(sys.argv[2])))
