from django.db import models


class Strategy(models.TextChoices):
    DIRECT = "direct", "Direct"
    CANARY = "canary", "Canary"
    BLUE_GREEN = "blue_green", "Blue/green"
    SHADOW = "shadow", "Shadow"


class Pins(models.TextChoices):
    """Who may pin a version (X-Raylane-Version, /versions/<n>/) on the inference routes."""

    OPEN = "open", "Anyone"
    KEYED = "keyed", "Holders of a data-plane key"


class OnFailure(models.TextChoices):
    ROLLBACK = "rollback", "Roll back"
    PAUSE = "pause", "Pause"


class RolloutPhase(models.TextChoices):
    """Mirrors engine.Phase; the engine alone decides transitions."""

    PENDING = "pending", "Pending"
    PROGRESSING = "progressing", "Progressing"
    PAUSED = "paused", "Paused"
    WARM = "warm", "Switched, old version warm"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed, rolled back"
    ABORTED = "aborted", "Aborted"


ACTIVE_PHASES = [RolloutPhase.PENDING, RolloutPhase.PROGRESSING, RolloutPhase.PAUSED, RolloutPhase.WARM]
