"""What can go wrong in a sign-in: the provider's answer is refused, or the provider cannot be reached."""

from assist.errors import AssistError


class SignInError(AssistError):
    """The provider's answer did not check out (state, nonce, signature, issuer, audience, expiry): no session."""

    status_code = 400


class ProviderUnavailableError(AssistError):
    """The identity provider could not be reached or answered something that is not OpenID Connect."""

    status_code = 503
