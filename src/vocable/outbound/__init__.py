"""One gate for every fetch of a customer-supplied URL: refuses server-side request forgery.

Reference-voice audio, knowledge-base documents, MCP servers and webhooks all go through
here. The rules (``OutboundPolicy``):

- only ``http``/``https``, no user name or password in the URL, optional port list;
- the host must be a public name or address: local names (``localhost``, ``*.internal``,
  dotless names, a trailing dot) are refused, numeric hosts are read as browsers read
  them (``2130706433``, ``0x7f.1``, ``127.1``), and every DNS answer must be public
  unicast (no private, loopback, link-local/metadata, CGNAT, multicast, reserved or
  documentation ranges, nor IPv6 forms embedding such an IPv4 address);
- the operator's allow-list (``VOCABLE_OUTBOUND_ALLOW_HOSTS``) exempts named hosts,
  addresses or CIDRs, optionally on one port only;
- the connection goes to the exact address that was checked (no second lookup, so DNS
  rebinding cannot redirect it), with the original Host header, TLS name and certificate
  check; every redirect hop is checked again; size and total time are bounded.

Entry points: ``fetch``/``afetch`` to download, ``check_url``/``acheck_url`` for the
check alone, ``outbound_client``/``async_outbound_client`` (or the transports) for
libraries that need an httpx client. Every refusal is an ``OutboundRefused`` whose
``reason`` is a ``RefusalReason``.
"""

from vocable.outbound.addresses import is_public_address, non_public_category
from vocable.outbound.check import CheckedUrl, Resolver, acheck_url, check_url, system_resolver
from vocable.outbound.errors import OutboundRefused, RefusalReason
from vocable.outbound.fetch import FetchResult, afetch, fetch
from vocable.outbound.policy import AllowEntry, OutboundPolicy
from vocable.outbound.transport import (
    AsyncPinnedTransport,
    PinnedTransport,
    async_outbound_client,
    outbound_client,
)

__all__ = [
    "AllowEntry",
    "AsyncPinnedTransport",
    "CheckedUrl",
    "FetchResult",
    "OutboundPolicy",
    "OutboundRefused",
    "PinnedTransport",
    "RefusalReason",
    "Resolver",
    "acheck_url",
    "afetch",
    "async_outbound_client",
    "check_url",
    "fetch",
    "is_public_address",
    "non_public_category",
    "outbound_client",
    "system_resolver",
]
