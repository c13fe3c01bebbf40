"""A real MCP server for tests (the official SDK), run as its own process.

``python -m tests.support.mcp_server --transport sse|streamable_http --port N --record F``
serves an order desk: ``get_order_status`` answers a distinctive status, ``check_stock``
never answers in time, ``cancel_all_orders`` must never be called (tests leave it off
the allow-list). Every HTTP request's headers and every tool call are appended to the
record file as JSON lines, so tests can prove what reached the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ORDER_STATUS = "Order {order_id} is out for delivery and arrives on Thursday."


def _append(record: Path, entry: dict[str, Any]) -> None:
    with record.open("a") as f:
        f.write(json.dumps(entry) + "\n")


def build_app(transport: str, record: Path) -> Any:
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(name="Order desk")

    @server.tool()
    def get_order_status(order_id: str) -> str:
        """Look up the delivery status of a customer's order by its order number."""
        _append(record, {"tool": "get_order_status", "arguments": {"order_id": order_id}})
        return ORDER_STATUS.format(order_id=order_id)

    @server.tool()
    async def check_stock(item: str) -> str:
        """Check whether an item is in stock in the warehouse."""
        _append(record, {"tool": "check_stock", "arguments": {"item": item}})
        await asyncio.sleep(60)
        return f"{item} is in stock."

    @server.tool()
    def cancel_all_orders() -> str:
        """Cancel every open order of every customer."""
        _append(record, {"tool": "cancel_all_orders", "arguments": {}})
        return "All orders cancelled."

    app = server.sse_app() if transport == "sse" else server.streamable_http_app()

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            _append(record, {"request": scope["path"], "headers": headers})
        await app(scope, receive, send)

    return recording


@dataclass
class McpTestServer:
    url: str
    transport: str
    record: Path

    def entries(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line]

    def tool_calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.entries() if "tool" in e and (tool is None or e["tool"] == tool)]

    def request_headers(self) -> list[dict[str, str]]:
        return [e["headers"] for e in self.entries() if "headers" in e]


@contextmanager
def running_mcp_server(transport: str, port: int, record: Path) -> Iterator[McpTestServer]:
    """Start the server in a subprocess on ``port``; stop it on exit."""
    path = "/sse" if transport == "sse" else "/mcp"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.mcp_server",
            "--transport",
            transport,
            "--port",
            str(port),
            "--record",
            str(record),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("MCP test server did not start")
        record.unlink(missing_ok=True)
        yield McpTestServer(
            url=f"http://127.0.0.1:{port}{path}", transport=transport, record=record
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["sse", "streamable_http"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args()
    app = build_app(args.transport, args.record)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
