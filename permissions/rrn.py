"""National register numbers: validate, then keep only a keyed hash.

The clear value lives only in the request body and in this module's function arguments.
`Rrn` wraps it so that `repr()`/`str()` and therefore logs and tracebacks never show it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from stdnum import exceptions as stdnum_exceptions
from stdnum.be import bis, nn

from loket.settings import settings


class InvalidRrn(ValueError):
    """The value is not a valid Belgian national register or BIS number."""

    def __init__(self) -> None:
        super().__init__("not a valid national register number")


@dataclass(frozen=True, slots=True)
class Rrn:
    """A validated national register (or BIS) number, in compact form."""

    _value: str

    def __repr__(self) -> str:
        return "Rrn(***)"

    __str__ = __repr__

    @classmethod
    def parse(cls, raw: str) -> Rrn:
        value = nn.compact(raw) if isinstance(raw, str) else ""
        # Both kinds have 11 digits; stdnum converts a number of any length to int first,
        # which Python refuses (ValueError) beyond 4300 digits.
        if len(value) != 11:
            raise InvalidRrn()
        for module in (nn, bis):
            try:
                return cls(module.validate(value))
            except stdnum_exceptions.ValidationError:
                continue
        raise InvalidRrn()

    def hashes(self) -> dict[str, bytes]:
        """The HMAC-SHA256 of this number under every configured key, by key id."""
        return {
            key_id: hmac.new(key, self._value.encode(), hashlib.sha256).digest()
            for key_id, key in settings.rrn_keys.items()
        }
