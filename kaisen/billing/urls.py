from django.urls import path

from kaisen.billing import views

app_name = "billing"
urlpatterns = [
    path("", views.charges_view, name="charges"),
    path("current/", views.current_view, name="current"),
    path("<int:invoice_id>/", views.bill_detail_view, name="bill_detail"),
    path("<int:invoice_id>/pdf/", views.bill_pdf_view, name="bill_pdf"),
    path("<int:invoice_id>/numbers/<str:msisdn>/calls/", views.number_calls_view, name="number_calls"),
]
