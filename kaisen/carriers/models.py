"""The carrier networks an MVNO resells, and the simulator's own records of the requests it received."""

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


class SimulatedCarrierRequest(models.Model):
    """What the simulated carrier received: one row per order reference, so a repeat is recognised.

    This table is the carrier's side of the simulator adapter, not Kaisen's own state: Kaisen's truth is
    the ``Order``. ``applied_count`` counts how many times the carrier carried the request out — the
    "exactly once" proof of the procedures tests reads it.
    """

    order_ref = models.CharField(max_length=64, unique=True)
    carrier = models.CharField(max_length=16, choices=Carrier.choices)
    kind = models.CharField(max_length=24)
    line_ref = models.CharField(max_length=20)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=16, default="pending")
    received_at = models.DateTimeField()
    complete_after = models.DateTimeField()
    submit_count = models.PositiveIntegerField(default=1)
    applied_count = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("simulated carrier request")
        verbose_name_plural = _("simulated carrier requests")

    def __str__(self) -> str:
        return f"{self.carrier} {self.kind} {self.order_ref} {self.state}"
