from django.urls import path

from kaisen.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.index_view, name="index"),
    path("webhooks/", views.webhooks_view, name="webhooks"),
    path("webhooks/<int:endpoint_id>/", views.webhook_view, name="webhook"),
]
