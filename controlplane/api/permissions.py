"""Role checks on team-owned objects. Reads need membership (enforced by scoping the queryset, so foreign objects
are 404, not 403); writes need the role the view names for the action."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from rest_framework import permissions
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.request import Request

from controlplane.accounts.choices import Role
from controlplane.accounts.models import Team
from controlplane.accounts.selectors import user_has_role


def acting_user(request: Request) -> User:
    """The signed-in user (settings.AUTH_USER_MODEL) a service records as the actor. Views require a login
    (IsAuthenticated, the default permission), so this only narrows the type; a view without that check still
    refuses an anonymous caller."""
    user = request.user
    if isinstance(user, AnonymousUser):
        raise NotAuthenticated()
    return user


def required_role(view: Any, method: str | None) -> Role | None:
    """The role an action needs: the view's `action_roles` by action name, else deployer for writes."""
    action_roles: dict[str, Role] = getattr(view, "action_roles", {})
    action = getattr(view, "action", None)
    if action in action_roles:
        return action_roles[action]
    if method in permissions.SAFE_METHODS:
        return None
    return getattr(view, "write_role", Role.DEPLOYER)


def require_role(user: Any, team: Team | int, role: Role) -> None:
    if not user_has_role(user, team, role):
        slug = team.slug if isinstance(team, Team) else team
        raise PermissionDenied(f"You need the '{role.value}' role in team '{slug}' to do this.")


class TeamRolePermission(permissions.IsAuthenticated):
    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:  # view: any with team_of()
        role = required_role(view, request.method)
        if role is None:
            return True
        require_role(request.user, view.team_of(obj), role)
        return True
