"""A small OpenID Connect issuer on 127.0.0.1 for the tests: a real HTTP server that serves a
discovery document and a JWKS of keys the test makes (RSA and EC), and signs tokens with them.

It can rotate its keys, go down (its port then refuses connections) and come back, and counts
the key-set requests it answered, so tests can see when dpr fetched the keys.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "dpr"


class SigningKey:
    """A key pair the issuer signs with, published under ``kid``."""

    def __init__(self, kid: str, alg: str = "RS256", private: Any = None) -> None:
        self.kid, self.alg = kid, alg
        if alg.startswith("ES"):
            self.private: Any = private or ec.generate_private_key(ec.SECP256R1())
            self.jwk = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = private or rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        self.jwk.update(kid=kid, alg=alg, use="sig")

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class OidcIssuer:
    """The issuer: ``url``, ``publish`` (the keys of the JWKS), ``token``, ``down``/``up``."""

    def __init__(self) -> None:
        self.published: list[SigningKey] = []
        self.jwks_requests = 0
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/realms/dpr"

    def publish(self, *keys: SigningKey) -> None:
        self.published = list(keys)

    def up(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/realms/dpr/.well-known/openid-configuration":
                    body: dict[str, Any] = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/certs"}
                elif self.path == "/realms/dpr/certs":
                    issuer.jwks_requests += 1
                    body = {"keys": [k.jwk for k in issuer.published]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "0b8c6a4e-user-alice",
            "preferred_username": "alice",
            "iat": now,
            "exp": now + 300,
            "realm_access": {"roles": ["offline_access", "processing"]},
        }
        return {k: v for k, v in {**base, **overrides}.items() if v is not None}

    def token(self, key: SigningKey, **overrides: Any) -> str:
        """A token signed by ``key`` with the usual claims, ``overrides`` replacing (None: dropping) some."""
        return jwt.encode(self.claims(**overrides), key.private, algorithm=key.alg, headers={"kid": key.kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token put together by hand, as an attacker would: HMAC-SHA256 with ``secret`` (such as
    the issuer's public key), or no signature at all (``alg: none``) when ``secret`` is None."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{_b64(signature)}"


@contextmanager
def running_issuer(*keys: SigningKey) -> Iterator[OidcIssuer]:
    issuer = OidcIssuer()
    issuer.publish(*keys)
    issuer.up()
    try:
        yield issuer
    finally:
        issuer.down()
