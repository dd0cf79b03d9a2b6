from django.urls import path

from kaisen.account import views

app_name = "account"
urlpatterns = [
    path("account/contract/", views.contract_view, name="contract"),
    path("account/numbers/", views.number_first_view, name="numbers"),
    path("account/numbers/<int:line_id>/", views.number_view, name="number"),
    path("account/profile/", views.profile_view, name="profile"),
    path("account/sign-in/", views.session_settings_view, name="session_settings"),
    path("account/login-email/", views.login_email_view, name="login_email"),
    path("account/login-email/withdraw/", views.login_email_withdraw_view, name="login_email_withdraw"),
    path("account/login-email/confirm/", views.login_email_confirm_view, name="login_email_confirm"),
    path("account/transfers/", views.transfer_list_view, name="transfers"),
    path("account/transfers/new/", views.transfer_create_view, name="transfer_create"),
    path("account/transfers/accept/", views.transfer_accept_view, name="transfer_accept"),
    path("account/transfers/<int:transfer_id>/", views.transfer_detail_view, name="transfer_detail"),
    path("account/transfers/<int:transfer_id>/cancel/", views.transfer_cancel_view, name="transfer_cancel"),
    path("account/delete/", views.delete_view, name="delete"),
]
