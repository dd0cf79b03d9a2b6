from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _api_step(*, user: Any, channel: str) -> Any:
    from kaisen.accounts.second_step import ApiStep
    from kaisen.mfa.services import login_begin, methods_of

    step = login_begin(user=user, channel=channel)
    if step.challenge is not None:
        return ApiStep(challenge_id=step.challenge.challenge_id, methods=methods_of(step.challenge))
    return ApiStep(enrol=bool(step.enrol))


class MfaConfig(AppConfig):
    name = "kaisen.mfa"
    label = "mfa"
    verbose_name = _("Two-step login")

    def ready(self) -> None:
        # The login page and POST /auth (kaisen.accounts) start the second step, but accounts sits below mfa
        # and must not import it: hand it over here (issue 16 §3, docs/decisions/0006-layers.md).
        from kaisen.accounts.second_step import SecondStep, register
        from kaisen.mfa.views import login_second_step

        register(SecondStep(web=login_second_step, api=_api_step))
