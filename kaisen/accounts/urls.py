from django.urls import path

from kaisen.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/api-keys/", views.api_keys, name="api_keys"),
    path("account/api-keys/<str:key_id>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
]
