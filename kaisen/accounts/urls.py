from django.urls import path

from kaisen.accounts import views
from kaisen.security import views as security_views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/api-keys/", views.api_keys, name="api_keys"),
    path("account/api-keys/<str:key_id>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    path("account/security/", security_views.account_security, name="security"),
    path("account/password/", security_views.password_change_view, name="password_change"),
    path("account/sessions/", security_views.sessions_view, name="sessions"),
    path("password-reset/", security_views.password_reset_request_view, name="password_reset"),
    path("password-reset/confirm/", security_views.password_reset_confirm_view, name="password_reset_confirm"),
]
