from django.urls import path

from kaisen.controls import views

app_name = "controls"
urlpatterns = [
    path("", views.notice_list_view, name="notices"),
    path("<int:notice_id>/", views.notice_detail_view, name="notice_detail"),
    path("service/", views.service_hours_view, name="service"),
]
