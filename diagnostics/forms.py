import re
import uuid

from django import forms

from ecg.constants import AAMI_CLASSES, AAMI_NAMES
from ecg.io.readers import MAX_FS, MIN_FS
from ecgsite.errors import UploadRefused

from . import ingestion, upload_start
from .models import BeatCorrection, DiaryActivity, DiaryEntry, EventReview, Interpretation, Review


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return super().clean(data, initial)


class SubmittedOnce(forms.Form):
    """A page's form sent once: a second click (or a resent form) of the same submission is answered with what the
    first made. One key per page shown; a value not of this form is ignored (the submission is then simply new);
    autocomplete off, so a browser does not restore an earlier page's key into a page shown again."""

    submission = forms.CharField(required=False, widget=forms.HiddenInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["submission"].initial = uuid.uuid4().hex

    def submission_key(self) -> str | None:
        """This page's submission key, if the form sent a well-formed one."""
        value = self.cleaned_data.get("submission") or ""
        return value if re.fullmatch(r"[0-9a-f]{32}", value) else None


class UploadForm(SubmittedOnce):
    KIND_CHOICES = [
        ("beats", "Beat file: rows of 187 values (CSV, XLSX) or pasted values"),
        ("signal", "Continuous signal: WFDB (.hea + .dat or .mat, or a zip), DICOM ECG, HL7 aECG, EDF, CSV or JSON"),
    ]
    kind = forms.ChoiceField(choices=KIND_CHOICES, initial="beats", widget=forms.RadioSelect)
    files = MultipleFileField(  # type: ignore[assignment]  # the form metaclass moves fields off the class
        required=False,
        label="File(s)",
        help_text="For WFDB choose the .hea and its data files (.dat, .mat; PTB: .xyz too), or one .zip holding them.",
    )
    text = forms.CharField(
        required=False,
        label="Or paste beat values",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "187 comma-separated values per line"}),
    )
    FS_RANGE = f"{MIN_FS:g}–{MAX_FS:g} Hz"
    fs = forms.FloatField(
        required=False,
        label="Sampling rate (Hz)",
        help_text=f"Needed for CSV and JSON signals: {FS_RANGE}; a file that states its own must agree with it. "
        "Leave it empty for a beat file.",
        validators=[ingestion.sampling_rate_valid],
    )
    lead = forms.CharField(
        required=False,
        max_length=32,
        label="Lead",
        help_text="Default: MLII, else II, else the first. Leave it empty for a beat file.",
    )
    recorded_at = forms.CharField(
        required=False,
        max_length=64,
        label="Recorded at",
        help_text="When the recording began, for a file that does not say (a beat file, a CSV or JSON signal): the "
        "clinic's local time. A file that states its start keeps it. Leave it empty if not known.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
    )
    # (its submission key: a second click of the same upload returns the first's recording)

    def clean_recorded_at(self):
        """The start given, as a moment (diagnostics.upload_start: a time in TIME_ZONE, or with its offset)."""
        try:
            return upload_start.given_start(self.cleaned_data.get("recorded_at"))
        except UploadRefused as exc:
            raise forms.ValidationError(exc.message) from None

    def submission_fingerprint(self, patient_id: int) -> str:
        """A digest of what was sent for patient ``patient_id`` (the fields and every file's name and bytes)."""
        fields = {k: str(self.cleaned_data.get(k) or "") for k in ("kind", "text", "fs", "lead", "recorded_at")}
        return ingestion.submission_fingerprint(
            fields | {"patient": str(patient_id)}, self.cleaned_data.get("files") or []
        )

    def parse(self) -> tuple[ingestion.ParsedUpload, bytes, str]:
        """Validate the upload's content; raises UploadRefused naming the defect. Files that can only be a
        signal (a .zip, a WFDB record's .hea and .dat, EDF, DICOM, aECG) are read as one whatever kind was
        chosen: sent as a beat file they had been refused, and the file had to be chosen again."""
        uploads = self.files.getlist("files") if self.files else []  # type: ignore[attr-defined]
        kind = self.cleaned_data["kind"]
        if (
            kind == "beats"
            and uploads
            and all(ingestion.file_extension(u.name) in ingestion.SIGNAL_ONLY_EXTENSIONS for u in uploads)
        ):
            kind = "signal"
        parsed, data, filename = ingestion.upload_parse(
            kind=kind,
            uploads=uploads,
            text=self.cleaned_data.get("text", ""),
            fs=self.cleaned_data.get("fs"),
            lead=self.cleaned_data.get("lead", ""),
        )
        upload_start.with_given_start(parsed, self.cleaned_data.get("recorded_at"))
        return parsed, data, filename


class ReviewForm(SubmittedOnce):
    decision = forms.ChoiceField(choices=Review.Decision.choices, widget=forms.RadioSelect)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    # The latest decision on the flag the page showed (empty: none): a colleague's made since is not decided over
    # unseen. A form from before the field was added is not checked.
    after = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput(attrs={"autocomplete": "off"}))
    # ... and the MI screen it showed (Diagnosis.mi_screen_stamp): one a beat correction changed since is not decided on
    # unseen
    screen = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput(attrs={"autocomplete": "off"}))

    def clean_note(self) -> str:
        note = self.cleaned_data["note"]
        from .services import note_control_character, note_refusal

        bad = note_control_character(note)
        if bad is not None:  # as the service refuses it (services._decision_note_check), beside the note here
            raise forms.ValidationError(f"The note {note_refusal(bad)}: remove it.")
        return note

    # an MI flag's rejection says why (services.review_reason_missing); a rhythm event's form leaves it to its service,
    # which asks it of VF/VFL and asystole alone
    reject_needs_reason = True

    def clean(self):
        cleaned = super().clean()
        from .services import MI_REJECT_NEEDS_REASON, review_reason_missing

        # as the service refuses it (services._review_create), beside the note here
        if (
            self.reject_needs_reason
            and "note" in cleaned
            and review_reason_missing(cleaned.get("decision", ""), cleaned["note"])
        ):
            self.add_error("note", MI_REJECT_NEEDS_REASON)
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if "note" in self.errors:  # the note's error (templates/diagnostics/review.html) read with it
            self.fields["note"].widget.attrs["aria-describedby"] = "note-error"

    def review(self) -> dict:
        """The review's fields, as the service takes them."""
        fields = {"decision": self.cleaned_data["decision"], "note": self.cleaned_data["note"]}
        if self.fields.get("after") is not None and "after" in self.data:
            fields["seen"] = self.cleaned_data["after"]
        if self.fields.get("screen") is not None and self.data.get("screen"):
            fields["screen_read"] = self.cleaned_data["screen"]
        return fields


class EventReviewForm(ReviewForm):
    decision = forms.ChoiceField(choices=EventReview.Decision.choices)
    note = forms.CharField(required=False, max_length=4000)
    after = None  # type: ignore[assignment]  # an event's decisions are not checked against a colleague's
    screen = None  # type: ignore[assignment]
    reject_needs_reason = False


class InterpretationForm(forms.Form):
    # Not stripped or limited here: the service cleans the text and says what is wrong with it, naming its length.
    # No maxlength either: the browser cut a longer paste mid-word without a word; a script counts the characters
    # as the service does (static/js/app.js, data-char-limit) and says so past the limit.
    text = forms.CharField(
        required=False,
        strip=False,
        label="Interpretation",
        widget=forms.Textarea(
            attrs={"rows": 6, "data-char-limit": Interpretation.MAX_LENGTH, "data-char-count": "interpretation-count"}
        ),
    )
    # The version the doctor read (none: empty): a colleague's newer one is not signed over unseen.
    amends = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    reason = forms.CharField(required=False, strip=False, label="Reason for the amendment")
    acknowledge_undecided = forms.BooleanField(required=False, label="Sign with the episodes undecided")


class MoveForm(forms.Form):
    """Filed under the wrong patient: the right patient's MRN and why (checked by the service's rules, then
    confirmed on a page naming both patients)."""

    mrn = forms.CharField(label="MRN of the patient it belongs to", max_length=64)
    # Not stripped or limited here: the service cleans the reason and says what is wrong with it.
    reason = forms.CharField(
        required=False,
        strip=False,
        label="Why it is moved",
        help_text="Kept with the move, and shown on the recording's page: at most 500 characters.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class MoveConfirmForm(SubmittedOnce):
    """The move as confirmed: the patient chosen, the reason given, and the patient the recording was shown under
    (a colleague's move since is not moved on from unseen). Its submission key: a second click moves once."""

    patient = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    reason = forms.CharField(strip=False, widget=forms.HiddenInput)
    seen_patient = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class DiaryForm(SubmittedOnce):
    """A symptom from the patient's Holter diary: when (the time of day or into the recording, read by
    diagnostics.diary.sample_of), what, and a note (the service checks both; a second click enters it once)."""

    # Not limited here: diagnostics.diary says what is wrong with a time and what to write instead.
    time = forms.CharField(required=False, label="Time", max_length=40)
    symptom = forms.ChoiceField(choices=[("", "Choose…"), *DiaryEntry.Symptom.choices], required=False)
    note = forms.CharField(
        required=False,
        strip=False,
        label="Note",
        help_text="As the diary says it, if it says more (“after climbing stairs”): at most 500 characters.",
    )


class ActivityForm(SubmittedOnce):
    """An activity from the patient's Holter diary: what (sleep, exercise, a medicine, other), from and to (read as
    the symptom's time is, by diagnostics.diary.span_of) and a note (the service checks them)."""

    kind = forms.ChoiceField(label="Activity", choices=[("", "Choose…"), *DiaryActivity.Kind.choices], required=False)
    start = forms.CharField(required=False, label="From", max_length=40)
    end = forms.CharField(required=False, label="To", max_length=40)
    note = forms.CharField(
        required=False,
        strip=False,
        label="Note",
        help_text="As the diary says it (“bisoprolol 5 mg”, “walked up the hill”): at most 500 characters.",
    )


class _BeatClassForm(SubmittedOnce):
    """The class beats are to be called, and a note (diagnostics.corrections checks them; a second click corrects
    once)."""

    to_class = forms.ChoiceField(
        label="Class",
        choices=[("", "Choose…"), *[(c, f"{c} · {AAMI_NAMES[c]}") for c in AAMI_CLASSES]],
        required=False,
    )
    note = forms.CharField(
        required=False,
        strip=False,
        label="Note",
        help_text=f"Why, if you wish (“wide QRS, no P wave”): at most {BeatCorrection.NOTE_MAX_LENGTH} characters.",
    )
    # The version of the recording's corrections the page showed (selectors.beat_corrections_version): a colleague's
    # correction or undo since is not corrected over unseen. A form without it (a page from before) is not checked.
    seen = forms.RegexField(regex=r"^\d{1,18}\.\d{1,18}$", required=False, widget=forms.HiddenInput)


class BeatCorrectionForm(_BeatClassForm):
    """A doctor calls a beat family's beats another class, with a note."""

    family = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class BeatPickForm(_BeatClassForm):
    """A doctor calls beats chosen one by one another class: those ticked in the beat table (``back``: the table's
    page they were ticked on) or the one selected in the ECG viewer (``then=viewer``).

    ``beats``: one index per field (the table's checkboxes without scripts), or many in one field, comma-separated
    (the page's script sends the ticks so): Django refuses a form of more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields
    (400) before any view reads it, so a thousand beats, the service's limit, travel in one."""

    beats = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    then = forms.ChoiceField(choices=[("table", "table"), ("viewer", "viewer")], required=False)
    back = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_beats(self) -> list[int]:
        """The indices sent, read no further than one past the service's limit (a field as long as the route takes,
        1 MiB, had been read whole, half a million indices, and fingerprinted before the service counted them)."""
        limit = BeatCorrection.MAX_BEATS_CHOSEN
        indices: list[int] = []
        for field in self.cleaned_data.get("beats") or []:
            if len(str(field)) > 11 * (limit + 1):  # each index at most 10 digits and its comma
                raise forms.ValidationError(f"At most {limit:,} beats can be named in one correction.")
            for value in str(field).split(","):
                value = value.strip()
                if not (value.isascii() and value.isdigit() and len(value) < 10):
                    raise forms.ValidationError(f"A beat is named by its index, a whole number, not “{value[:20]}”.")
                indices.append(int(value))
                if len(indices) > limit:
                    raise forms.ValidationError(f"At most {limit:,} beats can be named in one correction.")
        return indices
