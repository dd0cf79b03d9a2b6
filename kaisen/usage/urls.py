from django.urls import path

from kaisen.usage import views

app_name = "usage"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("lines/<int:line_id>/", views.line_usage, name="line"),
    path("imports/", views.imports, name="imports"),
    path("imports/rematch/", views.rematch, name="rematch"),
    path("imports/<int:file_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:file_id>/errors.csv", views.import_errors_csv, name="import_errors"),
]
