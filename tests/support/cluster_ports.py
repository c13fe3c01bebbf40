"""Free loopback ports for a cluster under test or bench (``vocable.cli.cluster``)."""

from __future__ import annotations

import secrets

from tests.support.net import free_ports
from vocable.cli.cluster import ClusterPorts


def free_cluster_ports(*, extra: int = 0) -> tuple[ClusterPorts, list[int]]:
    """Every port of a two-node, two-API cluster free right now, a UDP range (split
    between the nodes) picked at random so that parallel runs rarely meet, and ``extra``
    more free ports distinct from them (a webhook receiver's)."""
    api, livekit, redis, api1, api2, lk1, lk2, *more = free_ports(7 + extra)
    udp = 41000 + secrets.randbelow(40) * 200
    ports = ClusterPorts(
        api=api,
        livekit=livekit,
        redis=redis,
        api_nodes=(api1, api2),
        livekit_nodes=(lk1, lk2),
        udp_ranges=((udp, udp + 99), (udp + 100, udp + 199)),
    )
    return ports, more
