from django.db import models


class Role(models.TextChoices):
    """A user's role in a team. Each role includes the rights of the ones before it."""

    VIEWER = "viewer", "Viewer"
    DEPLOYER = "deployer", "Deployer"
    ADMIN = "admin", "Admin"


ROLE_RANK = {Role.VIEWER: 1, Role.DEPLOYER: 2, Role.ADMIN: 3}


class AuditAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    UPLOAD = "upload", "Upload"
    TRUST = "trust", "Mark trusted"
    UNTRUST = "untrust", "Unmark trusted"
    LOGIN = "login", "Log in"
    LOGIN_FAILED = "login_failed", "Failed log in"
    LOGOUT = "logout", "Log out"
    TOKEN_CREATE = "token_create", "Create API token"
    TOKEN_REVOKE = "token_revoke", "Revoke API token"
