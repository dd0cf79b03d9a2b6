from django.urls import path

from kaisen.statements import views

app_name = "statements"
urlpatterns = [
    path("", views.index_view, name="index"),
    path("<int:statement_id>/", views.detail_view, name="detail"),
    path("<int:statement_id>/download/", views.download_view, name="download"),
]
