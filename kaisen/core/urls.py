from django.urls import path

from kaisen.core import views

#: Core's own pages. kaisen/urls.py serves them in the ``core`` namespace together with the home page
#: (``core:home``, ``kaisen.lines.home``), which shows lines and so cannot live in core.
urlpatterns = [
    path("dev/mail/", views.dev_mail, name="dev_mail"),
    path("dev/mail/<str:name>/", views.dev_mail_detail, name="dev_mail_detail"),
]
