"""The carrier networks an MVNO resells. Requests to them go through adapters (issue: line procedures)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Carrier(models.TextChoices):
    DOCOMO = "docomo", "docomo"
    SOFTBANK = "softbank", "SoftBank"
    AU = "au", "au"


class Coverage(models.TextChoices):
    JAPAN = "japan", _("Japan")
    GLOBAL = "global", _("Global")
