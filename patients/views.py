from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from diagnostics import comparison, holter, rhythm_reviewed
from diagnostics.selectors import recording_list_with_alarms, with_interpretation_state
from ecg.clock import clock
from ecgsite.errors import MrnTaken, PatientChanged

from . import selectors, services
from .forms import PatientForm

PAGE_SIZE = 25


def patient_list(request):
    search = request.GET.get("q", "").strip()
    page = Paginator(selectors.patient_list(user=request.user, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "patients/list.html", {"page": page, "search": search})


@require_http_methods(["GET", "POST"])
def patient_create(request):
    if request.user.clinic_id is None:  # the installation's administrator made by createsuperuser: no clinic's
        raise PermissionDenied("Your account belongs to no clinic: a clinic's members create its patients.")
    form = PatientForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(user=request.user, **form.patient_fields())
        except MrnTaken as exc:
            form.add_error("mrn", exc.message)
        else:
            messages.success(request, f"Patient {patient.display_name} created.")
            return redirect("patient-detail", patient_id=patient.pk)
    return render(request, "patients/form.html", {"form": form, "creating": True}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def patient_edit(request, patient_id: int):
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)
    form = PatientForm(request.POST if request.method == "POST" else None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(
                patient=selectors.patient_get(user=request.user, patient_id=patient_id),
                seen_version=form.cleaned_data["version"] or None,
                **form.patient_fields(),
            )
        except MrnTaken as exc:
            form.add_error("mrn", exc.message)
        except PatientChanged as exc:
            form = _changed_meanwhile(request, exc.current)
            # the page's heading names the patient as saved (the form holds what was typed)
            saved = selectors.patient_get(user=request.user, patient_id=patient_id)
            return render(request, "patients/form.html", {"form": form, "patient": saved}, status=409)
        else:
            messages.success(request, "Patient updated.")
            return redirect("patient-detail", patient_id=patient.pk)
    return render(request, "patients/form.html", {"form": form, "patient": patient}, status=400 if form.errors else 200)


def _changed_meanwhile(request, current) -> PatientForm:
    """The form again with what was typed, told what someone else saved since it was opened, and now holding the
    patient as it is, so that saving again keeps the values shown."""
    stored = PatientForm(instance=current)  # its initial values: what is saved (before the form below sets its own)
    data = request.POST.copy()
    data["version"] = services.version_of(current)
    form = PatientForm(data, instance=current)
    form.is_valid()
    differ = [
        f"{str(form.fields[name].label).lower()} (saved: “{_shown(stored, name) or 'none'}”)"
        for name in PatientForm.Meta.fields
        if str(form.data.get(name, "")).strip() != _shown(stored, name)
    ]
    form.add_error(
        None,
        "Someone else saved this patient since you opened the form"
        + (f"; what is saved now differs from yours in {', '.join(differ)}" if differ else "")
        + ". Your values are below: save again to keep them, or cancel to keep what is saved.",
    )
    return form


def _shown(form: PatientForm, name: str) -> str:
    value = form.initial.get(name)
    return "" if value is None else str(value)


def patient_detail(request, patient_id: int):
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)
    rows = []
    # each with its report's state (signed, by whom, or preliminary): one subquery in the rows' query
    recordings = list(with_interpretation_state(recording_list_with_alarms(user=request.user, patient=patient)))
    rhythm_reviewed.rhythms_standing_attach([r for r in recordings if r.status == "done"])
    for r in recordings:
        # the rhythm column, so serial recordings compare at a glance, and how long each is (the events a doctor
        # rejected left out, as the VF/VFL and asystole episodes standing are)
        diagnosis = getattr(r, "diagnosis", None) if r.status == "done" else None
        brief = holter.brief(
            getattr(r, "rhythm_standing", None) if diagnosis else None,
            getattr(r, "alarms_standing", 0),
            rhythm_status=diagnosis.rhythm_status if diagnosis else None,
        )
        length = clock(r.sample_count / r.sampling_rate) if r.sample_count and r.sampling_rate else ""
        rows.append((r, brief, length))
    comparable = sum(1 for r, _brief, _length in rows if comparison.comparable(r))
    return render(request, "patients/detail.html", {"patient": patient, "rows": rows, "comparable": comparable})


@require_safe
def patient_compare(request, patient_id: int):
    """Two of the patient's Holter recordings side by side (``?recordings=<id>&recordings=<id>``; without them the
    two latest), the earlier first, with the change of each figure; the recordings to compare chosen on the page."""
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)
    candidates = [r for r in recording_list_with_alarms(user=request.user, patient=patient) if comparison.comparable(r)]
    rhythm_reviewed.rhythms_standing_attach(candidates)  # the events a doctor rejected left out
    wanted, error, chosen = request.GET.getlist("recordings"), "", []
    if wanted:
        by_id = {str(r.pk): r for r in candidates}
        unknown = [w for w in wanted if w not in by_id]
        if unknown:
            error = (
                f"“{unknown[0][:20]}” is not one of {patient.display_name}’s recordings with a Holter summary: "
                "choose from the list below."
            )
        elif len(set(wanted)) != 2:
            error = f"Choose two recordings to compare ({len(set(wanted))} chosen)."
        else:
            chosen = comparison.in_time_order([by_id[w] for w in dict.fromkeys(wanted)])
    elif len(candidates) >= 2:
        chosen = comparison.in_time_order(candidates[:2])  # the list is newest first
    context = {
        "patient": patient,
        "candidates": [
            (
                r,
                holter.brief(
                    getattr(r, "rhythm_standing", None), getattr(r, "alarms_standing", 0), r.diagnosis.rhythm_status
                ),
            )
            for r in candidates
        ],
        "chosen": chosen,
        "chosen_ids": {r.pk for r in chosen},
        "rows": comparison.rows(*chosen) if chosen else [],
        "lengths_differ": comparison.lengths_differ(*chosen) if chosen else "",
        "af_differs": comparison.af_differs(*chosen) if chosen else "",
        # a doctor corrected beat classes and the rhythm figures do not yet follow (being recomputed, or could not be)
        "rhythm_not_current": [r for r in chosen if r.diagnosis.rhythm_status in holter.RHYTHM_NOT_CURRENT],
        "error": error,
    }
    return render(request, "patients/compare.html", context, status=400 if error else 200)
