from django.urls import path

from kaisen.core import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("dev/mail/", views.dev_mail, name="dev_mail"),
    path("dev/mail/<str:name>/", views.dev_mail_detail, name="dev_mail_detail"),
]
