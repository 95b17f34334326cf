"""Reads for accounts: which teams a user may see and with which role (the one place every app's reads are scoped
by team: `scope_to_teams`), their members, tokens and the audit log."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from .choices import ROLE_RANK, Role
from .models import ApiToken, AuditEntry, Membership, Team

# Who reads: request.user's type, the signed-in user (settings.AUTH_USER_MODEL) or an anonymous caller.
Viewer = User | AnonymousUser


def team_ids_for(user: Viewer, *, min_role: Role = Role.VIEWER) -> list[int] | None:
    """Ids of the teams where `user` holds at least `min_role`; None means every team (site admins)."""
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return None
    roles = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[min_role]]
    return list(Membership.objects.filter(user=user, role__in=roles).values_list("team_id", flat=True))


def scope_to_teams(queryset: QuerySet, user: Viewer, *, team_field: str = "team") -> QuerySet:
    """`queryset` narrowed to rows of `user`'s teams (`team_field` leads from a row to its team). Every selector
    that lists team-owned rows goes through here."""
    ids = team_ids_for(user)
    return queryset if ids is None else queryset.filter(**{f"{team_field}__in": ids})


def teams_visible(*, user: Viewer) -> QuerySet[Team]:
    """The teams `user` belongs to (every team for site admins), with their memberships for `my_role`."""
    return scope_to_teams(Team.objects.prefetch_related("memberships"), user, team_field="pk")


def memberships_of(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user", "team")


def tokens_of(*, user: Viewer) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user_id=user.pk) if user.is_authenticated else ApiToken.objects.none()


def audit_entries_visible(*, user: Viewer) -> QuerySet[AuditEntry]:
    """Entries of `user`'s teams and their own actions; everything for site admins."""
    ids = team_ids_for(user)
    if ids is None:
        return AuditEntry.objects.all()
    return AuditEntry.objects.filter(Q(team_id__in=ids) | Q(actor_id=user.pk))


def user_has_role(user: Viewer, team: Team | int, role: Role) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    team_id = team if isinstance(team, int) else team.pk
    membership = Membership.objects.filter(user=user, team_id=team_id).first()
    return membership is not None and membership.allows(role)


def users_known_to(user: Viewer) -> QuerySet:
    """Active users `user` may name (to add them to a team): the members of their own teams; every active user for
    site admins. Anyone else is answered as if they did not exist, so usernames cannot be probed through the API."""
    users = get_user_model().objects.filter(is_active=True)
    ids = team_ids_for(user)
    if ids is None:
        return users
    return users.filter(memberships__team_id__in=ids).distinct()
