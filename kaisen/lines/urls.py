from django.urls import path

from kaisen.lines import views

app_name = "lines"
urlpatterns = [
    path("", views.line_list_view, name="list"),
    path("export.csv", views.line_export_view, name="export"),
    path("lookup/", views.line_lookup_view, name="lookup"),
    path("<int:pk>/", views.line_detail_view, name="detail"),
]
