from django.urls import path

from kaisen.mfa import views

app_name = "mfa"
urlpatterns = [
    path("login/two-step/", views.login_verify_view, name="login_verify"),
    path("login/two-step/resend/", views.login_resend_view, name="login_resend"),
    path("account/two-step/", views.settings_view, name="settings"),
    path("account/two-step/withdraw/", views.withdraw_view, name="withdraw"),
    path("account/two-step/app/", views.totp_setup_view, name="totp_setup"),
    path("account/two-step/off/", views.disable_view, name="disable"),
    path("account/two-step/confirm/<str:token>/", views.confirm_view, name="confirm"),
]
