from django.urls import path

from kaisen.accounts import views, views_users
from kaisen.security import views as security_views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/api-keys/", views.api_keys, name="api_keys"),
    path("account/api-keys/<str:key_id>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    path("account/users/", views_users.user_list_view, name="users"),
    path("account/users/new/", views_users.user_create_view, name="user_create"),
    path("account/users/<int:user_id>/", views_users.user_detail_view, name="user_detail"),
    path("account/users/<int:user_id>/username/", views_users.user_username_view, name="user_username"),
    path("account/users/<int:user_id>/unlock/", views_users.user_unlock_view, name="user_unlock"),
    path("account/users/<int:user_id>/active/", views_users.user_active_view, name="user_active"),
    path("account/username/", views_users.my_username_view, name="my_username"),
    path("account/security/", security_views.account_security, name="security"),
    path("account/password/", security_views.password_change_view, name="password_change"),
    path("account/sessions/", security_views.sessions_view, name="sessions"),
    path("password-reset/", security_views.password_reset_request_view, name="password_reset"),
    path("password-reset/confirm/", security_views.password_reset_confirm_view, name="password_reset_confirm"),
]
