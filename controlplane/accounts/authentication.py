"""Bearer tokens for the API and CLI: `Authorization: Bearer rl_…`."""

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import TOKEN_PREFIX, ApiToken, hash_token
from .services import token_used


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request: Request | HttpRequest) -> tuple[User, ApiToken] | None:
        """(user, token) for a valid bearer token; also called outside DRF, with a plain request (/metrics)."""
        # DRF's stubs want a DRF Request; the function reads only .headers, which a plain HttpRequest has too
        header = authentication.get_authorization_header(request).split()  # type: ignore[arg-type]  # see above
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Token contains invalid characters.") from exc
        if not key.startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Not a Raylane API token (they start with 'rl_').")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token was revoked.")
        now = timezone.now()
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(f"This token expired at {token.expires_at.isoformat()}.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        token_used(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
