from django.urls import path

from kaisen.procedures import views
from kaisen.procedures.models import OrderKind

app_name = "procedures"
urlpatterns = [
    path("", views.index_view, name="index"),
    path("line/<int:line_id>/card/", views.line_card_view, name="line_card"),
    # One input → confirm → complete flow per procedure, named after the kind (services.URL_NAMES).
    *(path(f"line/<int:line_id>/{kind}/", views.procedure_view, {"kind": kind}, name=kind)
      for kind in OrderKind.values),
    path("orders/", views.order_list_view, name="order_list"),
    path("orders/<int:order_id>/", views.order_detail_view, name="order_detail"),
    path("orders/<int:order_id>/complete/", views.complete_view, name="complete"),
    path("orders/<int:order_id>/cancel/", views.order_cancel_view, name="order_cancel"),
    path("orders/<int:order_id>/cancelled/", views.order_cancelled_view, name="cancelled"),
    path("mnp/", views.mnp_waiting_view, name="mnp_waiting"),
    path("bulk/", views.bulk_view, name="bulk"),
    path("bulk/selected/", views.bulk_selected_view, name="bulk_selected"),
    path("bulk/template.csv", views.bulk_template_view, name="bulk_template"),
    path("bulk/<int:job_id>/", views.bulk_job_view, name="bulk_job"),
    path("bulk/<int:job_id>/submit/", views.bulk_submit_view, name="bulk_submit"),
    path("bulk/<int:job_id>/result.csv", views.bulk_result_view, name="bulk_result"),
]
