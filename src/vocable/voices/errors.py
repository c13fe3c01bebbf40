"""The one error every refused reference clip raises, with a machine-readable reason."""

from __future__ import annotations

from enum import StrEnum

from vocable.outbound import OutboundRefused


class ClipRefusal(StrEnum):
    """Why a clip was refused after it was received (fetch refusals keep their own codes)."""

    NOT_AUDIO = "not_audio"
    """Not one of the accepted formats, or it does not decode."""
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_LARGE = "too_large"
    SILENT = "silent"
    """Decodes, but holds no audible sound to imitate."""
    DECODE_TIMEOUT = "decode_timeout"


class VoiceRefused(Exception):
    """A reference clip was refused; ``reason`` is a ``ClipRefusal`` or outbound reason code.

    ``message`` is written for the customer and never holds any part of a URL. The API
    maps this to a 422 naming the field that carried the clip or its URL.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = str(reason)
        self.message = message

    @classmethod
    def from_outbound(cls, refused: OutboundRefused) -> VoiceRefused:
        """The fetch refusal under its own reason (``private_address``, ``timeout``, ...)."""
        return cls(refused.reason.value, refused.message)
