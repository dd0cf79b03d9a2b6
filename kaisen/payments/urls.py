from django.urls import path

from kaisen.payments import views

app_name = "payments"
urlpatterns = [
    path("", views.settings_view, name="settings"),
    path("history/", views.history_view, name="history"),
    path("invoices/<int:invoice_id>/", views.invoice_view, name="invoice"),
    path("invoices/<int:invoice_id>/retry/", views.retry_view, name="retry"),
    path("contacts/", views.contacts_view, name="contacts"),
    path("contacts/add/", views.contact_add_view, name="contact_add"),
    path("contacts/recovery/", views.recovery_view, name="recovery"),
    path("contacts/<int:email_id>/remove/", views.contact_remove_view, name="contact_remove"),
    path("<str:coverage>/", views.method_view, name="method"),
    path("<str:coverage>/card/", views.card_view, name="card"),
    path("<str:coverage>/method/", views.method_set_view, name="method_set"),
    path("<str:coverage>/apply/", views.apply_view, name="apply"),
]
