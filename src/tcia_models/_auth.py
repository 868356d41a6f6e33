"""Credentials: the API key (original API) and the OAuth token (NBIA v2), sans-I/O.

A secret is only ever sent to the origin it was given for: ``headers_for(url)`` is empty for
any other host, scheme or port, so a redirect elsewhere carries nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import httpx

from ._constants import (
    API_KEY_ENV,
    API_KEY_HEADER,
    PASSWORD_ENV,
    TOKEN_REFRESH_MARGIN,
    USERNAME_ENV,
)
from ._exceptions import AuthenticationError, InvalidParameterError
from ._request import Origin, PreparedRequest, origin_of
from ._secrets import Secrets
from ._specs import ApiGeneration

__all__ = ["Credentials", "TokenState"]


def _header_safe(name: str, value: str) -> str:
    """HTTP header values are ASCII here: refuse anything else before it reaches the socket."""
    if not value.isascii() or not value.isprintable():
        raise InvalidParameterError(
            f"{name} holds characters that cannot travel in an HTTP header (non-ASCII or "
            "control characters); check it for a stray character"
        )
    return value


class TokenState:
    """An OAuth token (NBIA v2), refreshed before it expires.

    Sans-I/O: ``request()`` says what to post, ``accept()`` reads the answer; the clients send
    it, one at a time under their own lock.
    """

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        username: str,
        password: str,
        secrets: Secrets,
    ) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._username = username
        self._password = password
        self._secrets = secrets
        secrets.add(password)
        self.access_token: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = 0.0

    @property
    def username(self) -> str:
        return self._username

    def fresh(self, now: float) -> bool:
        return self.access_token is not None and now < self._expires_at - TOKEN_REFRESH_MARGIN

    def invalidate(self) -> None:
        self.access_token = None

    def request(self) -> PreparedRequest:
        """The token POST: a refresh when a refresh token is held, else a login. It never
        follows a redirect: its form holds the password."""
        form = {"client_id": self._client_id}
        if self._refresh_token:
            form |= {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        else:
            form |= {
                "grant_type": "password",
                "username": self._username,
                "password": self._password,
            }
        return PreparedRequest("oauth/token", "POST", self._token_url, form, follow_redirects=False)

    def accept(self, status: int, body: bytes, now: float) -> bool:
        """Take the token endpoint's answer. True when a token is held; False when a refresh was
        refused and a full login should follow. A refused login is an ``AuthenticationError``."""
        if status != 200:
            refreshing = self._refresh_token is not None
            self._refresh_token = None
            if refreshing:
                return False
            raise AuthenticationError(
                f"oauth/token: HTTP {status}: the NBIA login as {self._username!r} was refused. "
                f"Check username and password ({USERNAME_ENV}, {PASSWORD_ENV}).",
                query="oauth/token",
                status=status,
            )
        try:
            data = json.loads(body)
            access = _header_safe("the access token", str(data["access_token"]))
            lifetime = float(data.get("expires_in") or 0)
            refresh = data.get("refresh_token")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AuthenticationError(
                "oauth/token: the token endpoint answered without a usable access_token. "
                "Check base_url (it should be NBIA's).",
                query="oauth/token",
                status=status,
            ) from None
        self.access_token = access
        self._expires_at = now + lifetime
        self._refresh_token = str(refresh) if refresh else None
        self._secrets.add(self.access_token)
        self._secrets.add(self._refresh_token)
        return True

    def __repr__(self) -> str:
        return f"TokenState(username={self._username!r})"


class Credentials:
    """What authenticates this client's requests, for one origin only."""

    def __init__(
        self,
        generation: ApiGeneration,
        base_url: httpx.URL,
        *,
        api_key: str | None,
        username: str | None,
        password: str | None,
    ) -> None:
        self.secrets = Secrets()
        self.origin: Origin = origin_of(base_url)
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self.api_key = (
            _header_safe("api_key", key) if key and generation.auth == "api_key" else None
        )
        self.secrets.add(key)
        self.token: TokenState | None = None
        if generation.auth == "oauth":
            given_password = password if password is not None else os.environ.get(PASSWORD_ENV)
            self.token = TokenState(
                str(base_url.join(generation.token_path or "oauth/token")),
                client_id=generation.client_id or "",
                username=username
                or os.environ.get(USERNAME_ENV)
                or generation.guest_username
                or "",
                password=given_password
                if given_password is not None
                else generation.guest_password or "",
                secrets=self.secrets,
            )

    def headers_for(self, url: str) -> Mapping[str, str]:
        """The key or token, for a request to ``url``: nothing unless it is our origin, or the
        same host upgraded from http to https."""
        target = origin_of(httpx.URL(url))
        upgraded = self.origin[::2] == ("http", 80) and target[::2] == ("https", 443)
        same = target == self.origin or (upgraded and target[1] == self.origin[1])
        if not same:
            return {}
        if self.api_key:
            return {API_KEY_HEADER: self.api_key}
        if self.token is not None and self.token.access_token:
            return {"Authorization": f"Bearer {self.token.access_token}"}
        return {}

    def redact(self, text: str) -> str:
        return self.secrets.redact(text)
