"""Roles, policy statements, line tags, approvals and API-key permissions (issue 5 §1, §6).

Everything here belongs to one tenant (T-2), except the four built-in roles (``tenant`` empty), whose
statements are defined in code (``kaisen.access.policies.BUILTIN_ROLES``) rather than stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kaisen.access.procedures import procedures


class Effect(models.TextChoices):
    ALLOW = "allow", _("Allow")
    DENY = "deny", _("Deny")


class TagKind(models.TextChoices):
    DEPARTMENT = "department", _("Department")
    COST_CENTRE = "cost_centre", _("Cost centre")
    GROUP = "group", _("Group")


class LineTag(models.Model):
    """A department, cost centre or group that lines can carry; users and roles can be limited to it."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="line_tags")
    kind = models.CharField(_("kind"), max_length=16, choices=TagKind.choices, default=TagKind.GROUP)
    name = models.CharField(_("name"), max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("line tag")
        verbose_name_plural = _("line tags")
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "name"], name="line_tag_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


class LineTagging(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey("lines.Line", on_delete=models.CASCADE, related_name="access_tags")
    tag = models.ForeignKey(LineTag, on_delete=models.CASCADE, related_name="taggings")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["line", "tag"], name="line_tagging_unique")]
        indexes = [models.Index(fields=["tag", "line"], name="line_tagging_tag_line")]

    def __str__(self) -> str:
        return f"{self.line_id} ← {self.tag_id}"



class Role(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="access_roles", help_text=_("Empty for a built-in role."))
    key = models.CharField(_("built-in key"), max_length=32, blank=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    requires_approval = models.BooleanField(
        _("requires approval"), default=False,
        help_text=_("Cancellation, port-out and plan change by users with this role wait for a second user's "
                    "approval."))
    line_tags = models.ManyToManyField(LineTag, blank=True, related_name="roles", verbose_name=_("line tags"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="role_name_unique_in_tenant"),
            models.UniqueConstraint(fields=["key"], condition=models.Q(tenant__isnull=True),
                                    name="builtin_role_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.tenant_id is None


class PolicyStatement(models.Model):
    """One allow or deny of an action pattern (``Line:cancel``, ``Line:*``, ``*``), on a role or a user."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.CASCADE, related_name="statements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="access_statements")
    effect = models.CharField(_("effect"), max_length=8, choices=Effect.choices)
    action = models.CharField(_("action"), max_length=64)

    class Meta:
        ordering = ["effect", "action"]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__isnull=True) ^ models.Q(user__isnull=True),
                                   name="statement_role_xor_user"),
        ]

    def __str__(self) -> str:
        return f"{self.effect} {self.action}"



class RoleAssignment(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="role_assignment_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.role_id}"



class UserLineLimit(models.Model):
    """The user sees only lines carrying one of their limit tags (or one of their roles' tags)."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="line_limits")
    tag = models.ForeignKey(LineTag, on_delete=models.CASCADE, related_name="user_limits")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tag"], name="user_line_limit_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} ⊂ {self.tag_id}"



class AccessSettings(models.Model):
    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.CASCADE, related_name="access_settings")
    approval_required = models.BooleanField(
        _("approval required"), default=False,
        help_text=_("Cancellation, port-out and plan change by any user but the root user wait for a second "
                    "user's approval."))

    def __str__(self) -> str:
        return f"access settings of {self.tenant_id}"



class ApiKeyPermission(models.Model):
    """A narrower action list for an API key: the key may do what its user may AND what this list allows."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    api_key = models.OneToOneField("accounts.ApiKey", on_delete=models.CASCADE, related_name="access_permission")
    actions = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"{self.api_key_id}: {self.actions}"



class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ApprovalRequest(models.Model):
    """A destructive procedure waiting for a second user's approval; approval submits it as an order."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="approval_requests")
    line = models.ForeignKey("lines.Line", on_delete=models.CASCADE, related_name="approval_requests")
    kind = models.CharField(_("procedure"), max_length=24)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ApprovalStatus.choices,
                              default=ApprovalStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=100)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=500, blank=True)
    order = models.OneToOneField("procedures.Order", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="approval")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "idempotency_key"],
                                               name="approval_idempotency_unique")]
        indexes = [models.Index(fields=["tenant", "status", "id"], name="approval_tenant_status")]

    def __str__(self) -> str:
        return f"approval {self.pk} ({self.kind})"

    @property
    def kind_label(self) -> str:
        return procedures().kind_label(self.kind)
