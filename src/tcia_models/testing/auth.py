"""Who may ask: the original API's ``api_key`` (query parameter first, then header), and the
OAuth bearer tokens the server's token endpoint issues, each generation as its ``auth`` says."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .http import Reply, Request

__all__ = ["Gatekeeper", "Tokens"]


class Tokens:
    """OAuth tokens the server issued, with their expiry."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}
        self._refresh: dict[str, str] = {}

    def issue(self, user: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._lock:
            self._access[access] = time.monotonic() + self.lifetime
            self._refresh[refresh] = user
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.lifetime,
            "refresh_token": refresh,
            "refresh_expires_in": self.lifetime * 12,
            "scope": "openid",
        }

    def refresh(self, refresh_token: str) -> dict[str, Any] | None:
        with self._lock:
            user = self._refresh.pop(refresh_token, None)
        return None if user is None else self.issue(user)

    def revoke(self, access_token: str) -> bool:
        with self._lock:
            return self._access.pop(access_token, None) is not None

    def valid(self, access_token: str) -> bool:
        with self._lock:
            expiry = self._access.get(access_token)
        return expiry is not None and time.monotonic() < expiry


class Gatekeeper:
    def __init__(
        self,
        generations: Mapping[str, Mapping[str, Any]],
        *,
        api_keys: Iterable[str],
        users: Mapping[str, str] | None,
        token_lifetime: float,
    ) -> None:
        self._generations = generations
        self.api_keys = frozenset(api_keys)
        self.users = users
        """NBIA accounts (user -> password) for the token endpoint; ``None`` accepts anyone."""
        self.tokens = Tokens(token_lifetime)

    def allows(self, api: str, request: Request) -> bool:
        auth = self._generations[api]["auth"]
        if auth == "api_key":
            key = request.params.get("api_key") or request.headers.get("api_key")
            return not self.api_keys or key in self.api_keys
        if auth == "oauth":
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            return scheme.lower() == "bearer" and self.tokens.valid(token)
        return True

    def token(self, request: Request) -> Reply:
        """The token endpoint: a password or refresh_token grant, answered as NBIA relays
        Keycloak's answers (status and body)."""
        params = request.params
        grant = params.get("grant_type")
        if grant == "password":
            user, password = params.get("username", ""), params.get("password", "")
            allowed = self.users is None or self.users.get(user) == password
            if not allowed:
                return _oauth_error(401, "invalid_grant", "Invalid user credentials")
            issued = self.tokens.issue(user)
        elif grant == "refresh_token":
            refreshed = self.tokens.refresh(params.get("refresh_token", ""))
            if refreshed is None:
                return _oauth_error(400, "invalid_grant", "Invalid refresh token")
            issued = refreshed
        else:
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        return Reply(200, json.dumps(issued).encode(), "application/json")

    def logout(self, request: Request) -> Reply:
        """NBIA's logout (KeycloakLogout): a POST with the bearer token, which ends it. NBIA
        fails without a token (500); a GET is not allowed (405)."""
        if request.method != "POST":
            return Reply(405, b"", None)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        # NBIA treats "Bearer undefined" (what its web UI sends logged out) as no token.
        if scheme.lower() != "bearer" or token in ("", "undefined"):
            return Reply(500, b"Server was not able to process your request", "text/plain")
        self.tokens.revoke(token)
        return Reply(204, b"", None)


def _oauth_error(status: int, error: str, description: str) -> Reply:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return Reply(status, body, "application/json")
