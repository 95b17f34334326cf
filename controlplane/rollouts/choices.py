from django.db import models


class Strategy(models.TextChoices):
    DIRECT = "direct", "Direct"
    CANARY = "canary", "Canary"
    BLUE_GREEN = "blue_green", "Blue/green"
    SHADOW = "shadow", "Shadow"


class OnFailure(models.TextChoices):
    ROLLBACK = "rollback", "Roll back"
    PAUSE = "pause", "Pause"
