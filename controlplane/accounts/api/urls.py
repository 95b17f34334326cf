from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    ApiTokenViewSet,
    AuditEntryViewSet,
    CsrfView,
    LoginView,
    LogoutView,
    MembershipViewSet,
    MeView,
    TeamViewSet,
)

router = SimpleRouter()
router.register("teams", TeamViewSet, basename="team")
router.register(r"teams/(?P<team_slug>[a-z0-9-]+)/members", MembershipViewSet, basename="membership")
router.register("tokens", ApiTokenViewSet, basename="apitoken")
router.register("audit", AuditEntryViewSet, basename="auditentry")

urlpatterns = [
    path("auth/csrf/", CsrfView.as_view(), name="csrf"),
    path("auth/login/", LoginView.as_view(), name="login"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("auth/me/", MeView.as_view(), name="me"),
    *router.urls,
]
