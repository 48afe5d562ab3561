"""Sign-in with the city's identity provider (OpenID Connect) and the browser sessions it opens."""
