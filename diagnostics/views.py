from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from mlmodels.models import ModelVersion
from mlmodels.selectors import active_model_versions
from patients.selectors import patient_get

from . import ingestion, plots, selectors, services
from .forms import ReviewForm, UploadForm
from .models import ECGRecording

BEATS_PER_PAGE = 50


def dashboard(request):
    recordings = selectors.recording_list(user=request.user)
    today = timezone.localdate()
    context = {
        "today": recordings.filter(created_at__date=today)[:20],
        "pending": recordings.filter(status__in=[ECGRecording.Status.QUEUED, ECGRecording.Status.PROCESSING])[:20],
        "failed": recordings.filter(status=ECGRecording.Status.FAILED)[:20],
        "awaiting_review": selectors.review_queue(user=request.user).filter(reviewed=False)[:20],
        "models_missing": _missing_models(),
    }
    return render(request, "diagnostics/dashboard.html", context)


def _missing_models() -> list[str]:
    active = active_model_versions()
    return [label for task, label in ModelVersion.Task.choices if task not in active]


@require_http_methods(["GET", "POST"])
def recording_upload(request, patient_id: int):
    patient = patient_get(user=request.user, patient_id=patient_id)
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                parsed, data, filename = form.parse()
            except ingestion.UploadError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status
            else:
                recording = services.recording_submit(
                    user=request.user, patient=patient, parsed=parsed, data=data, filename=filename
                )
                messages.success(request, "Upload accepted; classification is queued.")
                return redirect("recording-detail", recording_id=recording.pk)
        else:
            status = 400
    return render(
        request,
        "diagnostics/upload.html",
        {"form": form, "patient": patient, "models_missing": _missing_models()},
        status=status,
    )


def recording_detail(request, recording_id: int):
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    diagnosis = getattr(recording, "diagnosis", None) if recording.status == ECGRecording.Status.DONE else None
    context = {
        "recording": recording,
        "diagnosis": diagnosis,
        "reviews": diagnosis.reviews.select_related("reviewer") if diagnosis else [],
        "review_form": ReviewForm() if diagnosis and diagnosis.mi_flag and request.user.can_review else None,
        "models_missing": _missing_models() if recording.is_pending else [],
    }
    if diagnosis:
        context["beat_page"] = _beat_page(request, recording)
    return render(request, "diagnostics/recording_detail.html", context)


def recording_status(request, recording_id: int):
    """The live status fragment; once processing ends the page reloads to show results."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    response = render(
        request,
        "diagnostics/_status.html",
        {"recording": recording, "models_missing": _missing_models() if recording.is_pending else []},
    )
    if not recording.is_pending and request.GET.get("was") in {"queued", "processing"}:
        response["HX-Refresh"] = "true"
    return response


def _beat_page(request, recording):
    return Paginator(selectors.beat_list(recording=recording), BEATS_PER_PAGE).get_page(request.GET.get("page"))


def recording_beats(request, recording_id: int):
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    return render(
        request, "diagnostics/_beats.html", {"recording": recording, "beat_page": _beat_page(request, recording)}
    )


def beat_plot(request, recording_id: int, index: int):
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    beat = selectors.beat_list(recording=recording).filter(index=index).first()
    if beat is None:
        return HttpResponse("No such beat.", status=404)
    values = plots.beat_values(recording, index)
    return render(
        request,
        "diagnostics/_beat_plot.html",
        {"recording": recording, "beat": beat, "svg": plots.beat_svg(values, title=f"Beat {index + 1}")},
    )


def review_queue(request):
    if not request.user.can_review:
        raise PermissionDenied("Only doctors and administrators review MI cases.")
    page = Paginator(selectors.review_queue(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "diagnostics/review_queue.html", {"page": page})


@require_POST
def review_create(request, diagnosis_id: int):
    if not request.user.can_review:
        raise PermissionDenied("Only doctors and administrators review MI cases.")
    diagnosis = selectors.diagnosis_get(user=request.user, diagnosis_id=diagnosis_id)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose confirm or reject; " + " ".join(m for ms in form.errors.values() for m in ms))
        return redirect("recording-detail", recording_id=diagnosis.recording_id)
    services.review_create(user=request.user, diagnosis=diagnosis, **form.cleaned_data)
    messages.success(request, "Review recorded.")
    if request.POST.get("next") == "queue":
        return redirect("review-queue")
    return redirect("recording-detail", recording_id=diagnosis.recording_id)
