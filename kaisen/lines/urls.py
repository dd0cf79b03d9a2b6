from django.urls import path

app_name = "lines"
urlpatterns: list = []
