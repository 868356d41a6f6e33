"""The secrets a client holds, and how they are blanked out of anything it shows."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "Secrets"]

REDACTED = "***"


def _spellings(secret: str) -> set[str]:
    """The forms a server may echo a secret in: as sent, URL-encoded, HTML- or JSON-escaped."""
    encoded = {quote(secret, safe=""), quote_plus(secret)}
    lower_hex = {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), e) for e in encoded}
    return {secret, *encoded, *lower_hex, html.escape(secret), json.dumps(secret)[1:-1]}


class Secrets:
    """A set of secrets (API key, password, tokens) that may change as tokens are renewed."""

    def __init__(self) -> None:
        self._forms: dict[str, set[str]] = {}

    def add(self, secret: str | None) -> None:
        if secret and secret not in self._forms:
            self._forms[secret] = _spellings(secret)

    def redact(self, text: str) -> str:
        """``text`` with every secret, in every spelling, replaced by ``***``; a secret cut off
        at the end of ``text`` is blanked out too."""
        forms = sorted({f for spellings in self._forms.values() for f in spellings}, key=len)
        for form in reversed(forms):  # longest first: one spelling may contain another
            text = text.replace(form, REDACTED)
        for form in forms:
            for length in range(len(form) - 1, 3, -1):
                if text.endswith(form[:length]):
                    return text[:-length] + REDACTED
        return text

    def __repr__(self) -> str:
        return f"Secrets({len(self._forms)} held)"
