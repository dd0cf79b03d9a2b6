from django.urls import path

from kaisen.access import views

app_name = "access"
urlpatterns = [
    path("", views.index_view, name="index"),
    path("settings/", views.settings_view, name="settings"),
    path("roles/new/", views.role_create_view, name="role_create"),
    path("roles/<int:role_id>/", views.role_detail_view, name="role_detail"),
    path("roles/<int:role_id>/delete/", views.role_delete_view, name="role_delete"),
    path("users/<int:user_id>/", views.user_access_view, name="user_access"),
    path("tags/", views.tags_view, name="tags"),
    path("tags/<int:tag_id>/delete/", views.tag_delete_view, name="tag_delete"),
    path("lines/<int:line_id>/tags/", views.line_tags_view, name="line_tags"),
    path("approvals/", views.approvals_view, name="approvals"),
    path("approvals/<int:approval_id>/", views.approval_detail_view, name="approval_detail"),
    path("api-keys/<str:key_id>/", views.api_key_permissions_view, name="api_key_permissions"),
]
