from django.urls import path

from . import views

urlpatterns = [
    path("", views.patient_list, name="patient-list"),
    path("new/", views.patient_create, name="patient-create"),
    path("<int:patient_id>/", views.patient_detail, name="patient-detail"),
    path("<int:patient_id>/edit/", views.patient_edit, name="patient-edit"),
    path("<int:patient_id>/compare/", views.patient_compare, name="patient-compare"),
]
