"""The rule every settings module that can serve people applies: no built-in secret outside a loopback dev machine.

Plain functions over values, so local.py and production.py can call them at the end of their own module, once DEBUG
and ALLOWED_HOSTS have their final values; test.py sets fixed test keys instead.
"""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ImproperlyConfigured

# Built-in values that exist only so `manage.py runserver` works on a fresh checkout; never good outside loopback.
INSECURE_SECRET_KEY = "insecure-local-development-key-change-me-in-production-0123456789"
INSECURE_ARTIFACT_SIGNING_KEY = "insecure-local-artifact-signing-key-change-me-0123456789"
HOW_TO_SET = (
    "`make up` writes random ones to var/secrets.env on first run; elsewhere set them in the environment, e.g. "
    "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
)


def is_loopback_host(host: str) -> bool:
    """`localhost`, `*.localhost` and loopback addresses (`127.0.0.1`, `[::1]`); never `*` or a real name."""
    host = host.strip().lower()
    if host in ("localhost", ".localhost") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_default_secrets(
    *, secret_key: str, artifact_signing_key: str, debug: bool, allowed_hosts: list[str]
) -> None:
    """Raise ImproperlyConfigured when a built-in secret would serve anything but a loopback debug server."""
    loopback_debug = debug and bool(allowed_hosts) and all(is_loopback_host(host) for host in allowed_hosts)
    if loopback_debug:
        return
    where = "DEBUG is off" if not debug else f"ALLOWED_HOSTS {allowed_hosts} is not loopback only"
    if secret_key == INSECURE_SECRET_KEY:
        raise ImproperlyConfigured(f"SECRET_KEY is the built-in development key and {where}. {HOW_TO_SET}")
    if not artifact_signing_key or artifact_signing_key == INSECURE_ARTIFACT_SIGNING_KEY:
        raise ImproperlyConfigured(
            f"RAYLANE_ARTIFACT_SIGNING_KEY is unset or the built-in development key and {where}. {HOW_TO_SET} "
            "(and RAYLANE_ARTIFACT_SIGNING_KEY the same way)."
        )
    if artifact_signing_key == secret_key:
        raise ImproperlyConfigured(
            "RAYLANE_ARTIFACT_SIGNING_KEY must be its own random secret, not a copy of SECRET_KEY: replicas' "
            "download links are signed with it."
        )


def parse_networks(entries: list[str], setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """CIDRs (or single addresses) from a setting, refusing a typo at startup rather than at the first request."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{setting}: {entry!r} is not a network such as 10.0.0.0/8 ({exc})") from exc
    return tuple(networks)
