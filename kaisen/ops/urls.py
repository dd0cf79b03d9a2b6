from django.urls import path

from kaisen.ops import views

app_name = "ops"
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("bench-minimal/<str:msisdn>", views.bench_minimal, name="bench_minimal"),
]
