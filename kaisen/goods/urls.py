from django.urls import path

from kaisen.goods import views

app_name = "goods"
urlpatterns = [
    path("", views.order_list, name="orders"),
    path("calculator/", views.calculator, name="calculator"),
    path("quotes/", views.quote_list, name="quotes"),
    path("quotes/<int:quote_id>/", views.quote_detail, name="quote"),
    path("quotes/<int:quote_id>/pdf/", views.quote_pdf_view, name="quote_pdf"),
    path("quotes/<int:quote_id>/email/", views.quote_email, name="quote_email"),
    path("order/", views.order_new, name="order_new"),
    path("orders/<int:goods_order_id>/", views.order_detail, name="order"),
    path("orders/<int:goods_order_id>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<int:goods_order_id>/retry/", views.order_retry, name="order_retry"),
    path("orders/<int:goods_order_id>/delivery-note/", views.order_delivery_note, name="delivery_note"),
    path("statement/", views.statement, name="statement"),
]

public_urlpatterns = ([
    path("", views.public_calculator, name="calculator"),
    path("<str:token>/", views.public_quote, name="quote"),
    path("<str:token>/email/", views.public_quote_email, name="quote_email"),
], "goods_public")
