from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("patients/<int:patient_id>/recordings/new/", views.recording_upload, name="recording-upload"),
    path("recordings/<int:recording_id>/", views.recording_detail, name="recording-detail"),
    path("recordings/<int:recording_id>/status/", views.recording_status, name="recording-status"),
    path("recordings/<int:recording_id>/beats/", views.recording_beats, name="recording-beats"),
    path("recordings/<int:recording_id>/beats/corrections/", views.beats_correct, name="recording-beats-correct"),
    path("recordings/<int:recording_id>/beats/<int:index>/plot/", views.beat_plot, name="beat-plot"),
    path("recordings/<int:recording_id>/signal/", views.recording_signal, name="recording-signal"),
    path("recordings/<int:recording_id>/beats/<int:index>/data/", views.beat_data, name="beat-data"),
    path("recordings/<int:recording_id>/review/", views.recording_review, name="recording-review"),
    path("recordings/<int:recording_id>/report/", views.recording_report, name="recording-report"),
    path("recordings/<int:recording_id>/rhythm/", views.recording_rhythm, name="recording-rhythm"),
    path("recordings/<int:recording_id>/interpretation/", views.recording_interpret, name="recording-interpret"),
    path("recordings/<int:recording_id>/diary/", views.recording_diary, name="recording-diary"),
    path(
        "recordings/<int:recording_id>/diary/<int:entry_id>/remove/", views.diary_remove, name="recording-diary-remove"
    ),
    path("recordings/<int:recording_id>/activities/", views.recording_activity, name="recording-activity"),
    path(
        "recordings/<int:recording_id>/activities/<int:activity_id>/remove/",
        views.activity_remove,
        name="recording-activity-remove",
    ),
    path("recordings/<int:recording_id>/shapes/", views.recording_shapes, name="recording-shapes"),
    path("recordings/<int:recording_id>/shapes/corrections/", views.beat_correct, name="recording-beat-correct"),
    path(
        "recordings/<int:recording_id>/shapes/corrections/<int:correction_id>/undo/",
        views.beat_correction_undo,
        name="recording-beat-correction-undo",
    ),
    path("recordings/<int:recording_id>/move/", views.recording_move, name="recording-move"),
    path("recordings/<int:recording_id>/move/confirm/", views.recording_move_confirm, name="recording-move-confirm"),
    path("events/<int:event_id>/reviews/", views.event_review, name="event-review"),
    path("reviews/", views.review_queue, name="review-queue"),
    path("diagnoses/<int:diagnosis_id>/reviews/", views.review_create, name="review-create"),
]
