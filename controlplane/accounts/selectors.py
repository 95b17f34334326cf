"""Reads for accounts: which teams a user may see, and with which role."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .choices import ROLE_RANK, Role
from .models import Membership, Team


def team_ids_for(user: AbstractBaseUser | AnonymousUser, *, min_role: Role = Role.VIEWER) -> list[int] | None:
    """Ids of the teams where `user` holds at least `min_role`; None means every team (site admins)."""
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return None
    roles = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[min_role]]
    return list(Membership.objects.filter(user=user, role__in=roles).values_list("team_id", flat=True))


def scope_to_teams(queryset: QuerySet, user: AbstractBaseUser | AnonymousUser, *, team_field: str = "team") -> QuerySet:
    ids = team_ids_for(user)
    return queryset if ids is None else queryset.filter(**{f"{team_field}__in": ids})


def user_has_role(user: AbstractBaseUser | AnonymousUser, team: Team | int, role: Role) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    team_id = team if isinstance(team, int) else team.pk
    membership = Membership.objects.filter(user=user, team_id=team_id).first()
    return membership is not None and membership.allows(role)


def users_known_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet:
    """Active users `user` may name (to add them to a team): the members of their own teams; every active user for
    site admins. Anyone else is answered as if they did not exist, so usernames cannot be probed through the API."""
    users = get_user_model().objects.filter(is_active=True)
    ids = team_ids_for(user)
    if ids is None:
        return users
    return users.filter(memberships__team_id__in=ids).distinct()
