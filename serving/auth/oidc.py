"""The OpenID Connect client side: authorization code flow with PKCE, state and nonce, ID tokens checked against
the provider's published keys. Authlib does the protocol and the cryptography; this module adds the checks a city's
deployment needs (the discovered issuer is the configured one, no symmetric or unsigned ID tokens).
"""

import logging
from dataclasses import dataclass
from typing import Any

import httpx2  # Authlib's HTTP client (httpx only without it, deprecated): its errors are httpx2's
from authlib.common.errors import AuthlibBaseError
from authlib.common.urls import add_params_to_uri
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError

from serving.auth.errors import ProviderUnavailableError, SignInError
from serving.auth.sessions import Login
from serving.config import OIDCSettings

logger = logging.getLogger(__name__)

#: ID-token signatures accepted: public-key ones only. "none" and HMAC (keyed with the client secret, which the
#: service also holds) would let anyone with the secret, or no one at all, vouch for a person.
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519")
#: Seconds of clock difference tolerated on the ID token's times.
LEEWAY_S = 60


@dataclass(frozen=True)
class SignedIn:
    """What a successful sign-in proved: the checked ID-token claims (plus userinfo's, where asked)."""

    issuer: str
    subject: str
    claims: dict[str, Any]
    #: The provider's token response (for the userinfo call); never stored.
    token: dict[str, Any]


class OIDCClient:
    """One provider, discovered from its issuer URL on first use (then kept).

    Usage:
        client = OIDCClient(settings=serving.oidc)
        start = await client.start(redirect_uri)          # {"url", "state", "nonce", "code_verifier"}
        signed_in = await client.finish(code=..., login=..., redirect_uri=redirect_uri)
    """

    def __init__(self, *, settings: OIDCSettings):
        if not settings.issuer:
            msg = "OIDCClient needs ASSIST_OIDC__ISSUER"
            raise ValueError(msg)
        self.settings = settings
        self.issuer: str = settings.issuer
        secret = settings.client_secret.get_secret_value() if settings.client_secret else None
        self._app = OAuth().register(
            name="city",
            client_id=settings.client_id,
            client_secret=secret,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": " ".join(settings.scopes),
                "code_challenge_method": "S256",
                "timeout": settings.http_timeout_s,
            },
        )

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, checked; fetched once per process."""
        try:
            metadata: dict[str, Any] = await self._app.load_server_metadata()
        except (httpx2.HTTPError, ValueError) as exc:
            self._app.server_metadata = {}
            logger.warning("OpenID provider %s: discovery failed: %s", self.issuer, exc)
            raise ProviderUnavailableError(
                f"The city's sign-in service ({self.issuer}) cannot be reached: try again in a while."
            ) from None
        if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
            found = metadata.get("issuer")
            self._app.server_metadata = {}
            logger.error("OpenID provider at %s names itself %r: check ASSIST_OIDC__ISSUER", self.issuer, found)
            raise ProviderUnavailableError(
                "The sign-in service's discovery document names another issuer than ASSIST_OIDC__ISSUER: "
                "an administrator must fix the setting."
            )
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [a for a in offered if a in ASYMMETRIC_ALGS]
        return metadata

    async def start(self, redirect_uri: str) -> dict[str, str]:
        """A new authorization request: its URL (S256 code challenge, state, nonce) and the secrets to keep."""
        await self.metadata()
        try:
            started: dict[str, str] = await self._app.create_authorization_url(redirect_uri)
        except RuntimeError as exc:  # the discovery document lacks an authorization endpoint
            raise ProviderUnavailableError(f"The sign-in service's discovery document is incomplete: {exc}.") from None
        return started

    async def finish(self, *, code: str, login: Login, redirect_uri: str) -> SignedIn:
        """Trade the code (with the PKCE verifier) for tokens and check the ID token: signature with the provider's
        keys, issuer, audience, expiry and the nonce this sign-in sent.
        """
        await self.metadata()
        try:
            token = await self._app.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=login.code_verifier
            )
        except httpx2.HTTPError as exc:
            logger.warning("OpenID provider %s: token request failed: %s", self.issuer, exc)
            raise ProviderUnavailableError(
                "The city's sign-in service did not answer: try again in a while."
            ) from None
        except AuthlibBaseError as exc:
            logger.warning("OpenID provider %s refused the code: %s", self.issuer, exc)
            raise SignInError("The sign-in service refused this sign-in: start again.") from None
        try:
            claims = await self._app.parse_id_token(
                token, nonce=login.nonce, leeway=LEEWAY_S,
                claims_options={"iss": {"essential": True, "values": [self.issuer]}, "sub": {"essential": True}},
            )
        except (JoseError, AuthlibBaseError, ValueError) as exc:
            logger.warning("OpenID provider %s: ID token refused: %s", self.issuer, exc)
            raise SignInError("The sign-in could not be verified: start again.") from None
        except httpx2.HTTPError as exc:
            logger.warning("OpenID provider %s: keys could not be fetched: %s", self.issuer, exc)
            raise ProviderUnavailableError("The city's sign-in service did not answer: try again in a while.") from None
        if claims is None:
            raise SignInError("The sign-in service sent no ID token: an administrator must check the client's setup.")
        found = dict(claims)
        return SignedIn(issuer=self.issuer, subject=str(found["sub"]), claims=found, token=dict(token))

    async def userinfo(self, signed_in: SignedIn) -> dict[str, Any]:
        """The userinfo endpoint's claims for this sign-in (only when the provider keeps groups out of ID tokens);
        {} when it has none. A reply about another subject is refused.
        """
        metadata = await self.metadata()
        if not metadata.get("userinfo_endpoint"):
            return {}
        try:
            info = dict(await self._app.userinfo(token=signed_in.token))
        except (httpx2.HTTPError, AuthlibBaseError, ValueError) as exc:
            logger.warning("OpenID provider %s: userinfo failed: %s", self.issuer, exc)
            raise ProviderUnavailableError("The city's sign-in service did not answer: try again in a while.") from None
        if info.get("sub") != signed_in.subject:
            raise SignInError("The sign-in service's user information is about someone else: start again.")
        return info

    async def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """The provider's RP-initiated logout URL, or None when it advertises no end_session_endpoint."""
        try:
            metadata = await self.metadata()
        except ProviderUnavailableError:
            return None
        endpoint = metadata.get("end_session_endpoint")
        if not endpoint:
            return None
        params = {"client_id": self.settings.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        url: str = add_params_to_uri(endpoint, params)
        return url
