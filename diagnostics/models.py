import functools
import hashlib
import operator

from django.conf import settings
from django.db import models

from ecg.constants import AAMI_CLASSES
from ecg.io.readers import lead_display, lead_phrase


class ECGRecording(models.Model):
    class Kind(models.TextChoices):
        BEATS = "beats", "Beat rows (187 values each)"
        SIGNAL = "signal", "Continuous signal"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="recordings")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="recordings")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    file = models.FileField(upload_to="recordings/", max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    input_format = models.CharField(max_length=16)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    sampling_rate = models.FloatField(null=True, blank=True)
    lead = models.CharField(max_length=32, blank=True)
    leads = models.JSONField(default=list, blank=True, help_text="Names of every lead of a signal, in file order")
    sample_count = models.PositiveIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the recording started, as its file states it (a wall-clock time read in TIME_ZONE, or "
        "at the UTC offset the file states); null when the file does not say",
    )
    input_beat_count = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error_message = models.TextField(blank=True)
    claim_token = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    beats_file = models.FileField(upload_to="recordings/", max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(
        auto_now=True,
        help_text="When anything the recording shows last changed: its status, progress or results, its patient, its "
        "interpretation, a doctor's decision on its MI flag or on one of its rhythm events, its diary",
    )
    replayed: bool  # not stored: set by recording_submit, True when an idempotent retry returned this recording

    class Meta:
        # newest first; of one instant (a batch uploaded at once), the later made first, so pages never overlap
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["clinic", "status"]),
            models.Index(fields=["patient", "-created_at"]),
            # A clinic's list, newest first: its page without sorting every recording of every clinic.
            models.Index(fields=["clinic", "-created_at"]),
            # A clinic's recordings changed since a time, in the order changed: a sync job's page.
            models.Index(fields=["clinic", "updated_at", "id"]),
            # A doctor's worklist, the clinic's done recordings oldest first: its page read from the index in order,
            # and its count from the index alone, not every done recording's row (diagnostics/0031).
            models.Index(fields=["clinic", "status", "created_at", "id"], name="recording_worklist_idx"),
        ]

    def __str__(self) -> str:
        return f"Recording {self.pk} of {self.patient}"

    def save(self, *args, **kwargs):
        # Every save changes what the recording shows, a save of some fields too (auto_now stamps only the fields
        # written). The services' QuerySet.update() calls stamp updated_at themselves.
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)

    @property
    def lead_phrase(self) -> str:
        """The analysed lead as a sentence names it ("lead II"; "lead 1" as it is)."""
        return lead_phrase(self.lead)

    @property
    def leads_display(self) -> list[str]:
        """Every lead's label as pages write it (a file's "avr" is aVR)."""
        return [lead_display(name) for name in self.leads]

    @property
    def lead_choices(self) -> list[tuple[str, str]]:
        """Each lead's label in the file (what the viewer asks for) and as pages write it."""
        return list(zip(self.leads, self.leads_display, strict=True))

    @property
    def is_pending(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.PROCESSING}


class Beat(models.Model):
    recording = models.ForeignKey(ECGRecording, on_delete=models.CASCADE, related_name="beats")
    index = models.PositiveIntegerField()
    position = models.BigIntegerField(null=True, blank=True, help_text="R-peak sample index in the original signal")
    aami_class = models.CharField(max_length=1)
    p_n = models.FloatField()
    p_s = models.FloatField()
    p_v = models.FloatField()
    p_f = models.FloatField()
    p_q = models.FloatField()
    mi_probability = models.FloatField(null=True)
    # Its shape's family among the recording's beats of the class it was classified (BeatFamily.number); none for
    # recordings analysed before families were found, and for beat-row uploads.
    family = models.PositiveSmallIntegerField(null=True, blank=True)
    # The class the analysis gave it, where a doctor changed its class (BeatCorrection); empty otherwise.
    classified_as = models.CharField(max_length=1, blank=True)

    class Meta:
        # by the key itself: "recording" sorts by the recording's own ordering (its created_at), a join and a sort of
        # every beat of the recording for each page, where the index (recording, index) gives them in order
        ordering = ["recording_id", "index"]
        constraints = [models.UniqueConstraint(fields=["recording", "index"], name="beat_index_unique_per_recording")]
        indexes = [
            # The beat table narrowed to one class: its pages, count and time jump read that class's beats alone,
            # not every beat of a 24-hour recording.
            models.Index(fields=["recording", "aami_class", "index"]),
            # a family's beats, in order (its correction, its next beat in the viewer)
            models.Index(fields=["recording", "family", "index"], name="beat_family_idx"),
            # the beats within a stretch of the signal (the viewer's marks as it pans, a strip's, a diary moment's):
            # without it PostgreSQL read every beat of the recording (109,000 of a 24-hour one) to find a few
            models.Index(fields=["recording", "position"], name="beat_position_idx"),
        ]

    @property
    def probabilities(self) -> dict[str, float]:
        return {"N": self.p_n, "S": self.p_s, "V": self.p_v, "F": self.p_f, "Q": self.p_q}

    @property
    def by_rule(self) -> bool:
        """Whether the class is not the classifier's most probable one: the decision's rules set it from the
        beat's context (its rhythm, its neighbours' classes and shapes; ecg.models.decision). Pages say so
        beside the class, which had read as a contradiction of the probabilities shown with it."""
        probabilities = self.probabilities
        if self.classified_as:
            return False  # a doctor set it: corrected_from says what the analysis had
        return self.aami_class in probabilities and probabilities[self.aami_class] < max(probabilities.values())

    @property
    def corrected_from(self) -> str:
        """The class the analysis gave, where a doctor changed it ("" otherwise)."""
        return self.classified_as


class RhythmInputs(models.Model):
    """What the rhythm analysis read of a signal recording's waveform when it was classified (ecg.rhythm's
    signal-level inputs: VF/VFL episodes, stretches without signal or too noisy to read, each beat's waveform
    measures), kept so the rhythm is recomputed after a beat correction over exactly those inputs, without the signal:
    read again, a day's signal and its context took the worker 600 MB over its memory bound beside the models it
    holds by then (bench/README.md)."""

    recording = models.OneToOneField(
        ECGRecording, on_delete=models.CASCADE, primary_key=True, related_name="rhythm_inputs"
    )
    fs = models.FloatField()
    n_samples = models.BigIntegerField()
    # {"vf_found": [event dicts], "no_signal": [[start, end], ...], "noisy": [[start, end], ...]}
    spans = models.JSONField()
    measures = models.BinaryField(help_text="The per-beat measures, one array each, as a compressed .npz")

    def __str__(self) -> str:
        return f"Rhythm inputs of recording {self.recording_id}"


class BeatFamily(models.Model):
    """One shape among a recording's beats of one class, as classified (ecg.processing.families): a Holter
    system's template. Its mean beat (both leads) is drawn for the doctor, who can correct its beats' class at once."""

    recording = models.ForeignKey(ECGRecording, on_delete=models.CASCADE, related_name="beat_families")
    number = models.PositiveSmallIntegerField()
    aami_class = models.CharField(max_length=1, help_text="The class its beats were classified")
    beats = models.PositiveIntegerField()
    rare = models.BooleanField(default=False, help_text="The class's rarer shapes, gathered")
    example = models.PositiveIntegerField(help_text="Index of the member beat most like the family's mean")
    # {"fs": 128.0, "r_s": seconds from the window's start to the R-peak, "leads": [[...], [...]]} in units of the
    # recording's dominant beat
    template = models.JSONField()

    class Meta:
        ordering = ["recording_id", "number"]  # by the key itself, as Beat's
        constraints = [
            models.UniqueConstraint(fields=["recording", "number"], name="beat_family_number_unique_per_recording")
        ]

    def __str__(self) -> str:
        return f"Beat family {self.number} of recording {self.recording_id}"


class BeatCorrection(models.Model):
    """A doctor's change of class of some of a recording's beats (a family, or beats chosen one by one): the
    classifier's call is not the last word on a patient it never saw. The beats take the new class; the counts, the
    rhythm analysis and the report follow (recomputed by the worker). Undone, it is kept, marked undone."""

    NOTE_MAX_LENGTH = 500
    MAX_BEATS_CHOSEN = 1000  # beats named one by one in one correction (a family's are not counted against it)

    recording = models.ForeignKey(ECGRecording, on_delete=models.CASCADE, related_name="beat_corrections")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    family = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="The family whose beats were corrected (BeatFamily.number); none for beats chosen",
    )
    to_class = models.CharField(max_length=1)
    beat_indices = models.JSONField(help_text="The beats whose class changed, by index, ascending")
    previous = models.JSONField(help_text="The class each had before: {class: [indices]}")
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # rhythm events a recomputation after it no longer found, which carried doctors' decisions: kept here as they were
    withdrawn_events = models.JSONField(default=list, blank=True)
    replayed: bool  # not stored: set by beat_correction_make, True when an idempotent retry returned this correction

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Beat correction {self.pk} of recording {self.recording_id}"

    @property
    def beats_changed(self) -> int:
        return len(self.beat_indices)


class RhythmRecomputation(models.Model):
    """An operator's recomputation of a recording's rhythm analysis by a newer version of it (`manage.py
    recompute_rhythm`), over the beats and classes stored: asked for as a beat correction asks (the diagnosis's
    ``rhythm_outdated_at`` is ``requested_at``) and written by the same recomputation, which keeps doctors' decisions
    on events found again. Events it no longer found that carried doctors' decisions are kept here, as a correction
    keeps those its recomputation withdrew. Append-only but for the outcome, written once it ran."""

    class Outcome(models.TextChoices):
        PENDING = "", "Not run yet"
        CHANGED = "changed", "Recomputed: figures or events changed"
        UNCHANGED = "unchanged", "Recomputed: nothing changed"
        FAILED = "failed", "Could not be recomputed"
        SUPERSEDED = "superseded", "A beat correction's recomputation came after it"

    recording = models.ForeignKey(ECGRecording, on_delete=models.CASCADE, related_name="rhythm_recomputations")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    from_version = models.PositiveSmallIntegerField(null=True, blank=True, help_text="null: before versions were kept")
    to_version = models.PositiveSmallIntegerField()
    requested_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    reason = models.TextField(blank=True, help_text="Why it could not be recomputed")
    signed = models.BooleanField(default=False, help_text="Recomputed although a doctor had signed an interpretation")
    withdrawn_events = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["recording", "requested_at"])]

    def __str__(self) -> str:
        return f"rhythm of recording {self.recording_id} to version {self.to_version}"


class Diagnosis(models.Model):
    class MiStatus(models.TextChoices):
        SCREENED = "screened", "Screened"
        NOT_APPLICABLE = "not_applicable", "Not applicable"
        NOT_ASSESSABLE = "not_assessable", "Not assessable"

    recording = models.OneToOneField(ECGRecording, on_delete=models.CASCADE, related_name="diagnosis")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="diagnoses")
    beat_count = models.PositiveIntegerField()
    count_n = models.PositiveIntegerField()
    count_s = models.PositiveIntegerField()
    count_v = models.PositiveIntegerField()
    count_f = models.PositiveIntegerField()
    count_q = models.PositiveIntegerField()
    heart_rate_bpm = models.FloatField(null=True, blank=True)
    mi_status = models.CharField(max_length=16, choices=MiStatus.choices, default=MiStatus.SCREENED)
    mi_reason = models.TextField(blank=True, help_text="why the MI screen says what it says")
    mi_lead = models.CharField(max_length=40, blank=True, help_text="the lead the MI screen read")
    mi_beats_used = models.PositiveIntegerField(default=0)
    mi_scored_beats = models.JSONField(default=list, blank=True, help_text="indices of the beats scored")
    mi_score = models.FloatField(null=True, blank=True, help_text="null when the recording was not screened")
    mi_threshold = models.FloatField(null=True, blank=True)
    mi_flag = models.BooleanField(db_index=True)
    heartbeat_model = models.ForeignKey("mlmodels.ModelVersion", on_delete=models.PROTECT, related_name="+")
    mi_model = models.ForeignKey("mlmodels.ModelVersion", on_delete=models.PROTECT, related_name="+")
    rhythm = models.JSONField(null=True, blank=True, help_text="Holter summary of a signal recording (ecg.rhythm)")
    # Beat corrections (BeatCorrection) change classes at once; the rhythm analysis over them is the worker's:
    # when it was asked for and not yet done, when it was last done, and why it could not be.
    rhythm_outdated_at = models.DateTimeField(null=True, blank=True)
    rhythm_recomputed_at = models.DateTimeField(null=True, blank=True)
    rhythm_recompute_error = models.TextField(blank=True)
    # runs of the recomputation asked for at rhythm_outdated_at that began: one whose worker dies never ends, and its
    # message comes again; a few such and it is given up (corrections.recording_rhythm_recompute)
    rhythm_recompute_attempts = models.PositiveSmallIntegerField(default=0)
    # The version of the rhythm analysis (ecg.constants.RHYTHM_VERSION) the rhythm was last computed by; null where it
    # was computed before versions were kept. `manage.py recompute_rhythm` brings older ones to the current version.
    rhythm_version = models.PositiveSmallIntegerField(null=True, blank=True)
    # Beats whose class a doctor changed (Beat.classified_as set), kept with the counts each correction rewrites: a
    # list of recordings shows it without counting a 24-hour recording's beats for each row.
    beats_corrected = models.PositiveIntegerField(default=0)
    # The codes of the figures that can leave the results (``FIGURES_THAT_CAN_LEAVE``) which the results carried
    # before a doctor's correction or a recomputation changed them: the FHIR report sends one of them the results no
    # longer carry as "entered-in-error", so a receiver that stored it retracts it (api.fhir).
    figures_once = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a beat correction or its undoing (the counts), or the rhythm's recomputation after one or its failure, last
    # changed what the diagnosis shows; null if none ever did. Its Last-Modified is the latest of this, its making and
    # its reviews (api.views.reviews.diagnosis_changed_at).
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]  # rows of one instant in a fixed order, page to page
        verbose_name_plural = "diagnoses"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(mi_flag=False) | models.Q(mi_status="screened", mi_score__isnull=False),
                name="diagnosis_mi_flag_only_when_screened",
            )
        ]

    @property
    def mi_lead_display(self) -> str:
        """The lead the MI screen read as pages write it (a PTB file's "ii" is II), "" where none was."""
        return lead_display(self.mi_lead) if self.mi_lead else ""

    @property
    def mi_screened(self) -> bool:
        return self.mi_status == self.MiStatus.SCREENED

    @property
    def mi_screen(self) -> dict:
        """The MI screen as ``classify_record --format json`` gives it (``summary.mi_screen``)."""
        return {
            "status": self.mi_status,
            "reason": self.mi_reason,
            "lead": self.mi_lead or None,
            "beats_used": self.mi_beats_used,
            "score": self.mi_score,
            "threshold": self.mi_threshold,
            "flag": self.mi_flag,
        }

    @property
    def mi_screen_stamp(self) -> str:
        """A short digest of what the MI screen says (status, score, beats scored, flag): a page that showed it sends
        it back with the doctor's decision, which is not made over a screen changed since unseen."""
        said = f"{self.mi_status}|{self.mi_score!r}|{self.mi_beats_used}|{self.mi_flag}"
        return hashlib.sha256(said.encode()).hexdigest()[:16]

    @property
    def classified_in_context(self) -> bool:
        """Whether the beats were classified by the record-level model (rhythm and patient context)."""
        return self.heartbeat_model.task == "heartbeat_record"

    @property
    def rhythm_status(self) -> str | None:
        """Whether the rhythm analysis (the summary, the events) is over the beats' classes as they are: "current";
        "recomputing" after a beat correction, until the worker has done it; "failed" when it could not be (the
        reason in ``rhythm_recompute_error``: the figures are those from before the correction). None for a
        recording without one (a beat file)."""
        if self.rhythm is None:
            return None
        if self.rhythm_outdated_at is None:
            return "current"
        return "failed" if self.rhythm_recompute_error else "recomputing"

    # The figures that can leave the results as a doctor corrects beats, by the code of their FHIR Observation: the MI
    # score and flag (the screen then not assessable), the mean and the 8-beat minimum and maximum heart rate (a
    # rhythm recomputed without them).
    FIGURES_THAT_CAN_LEAVE = ("mi-score", "mi-flag", "8867-4", "heart-rate-min", "heart-rate-max")

    def figures_carried(self) -> set[str]:
        """Those of ``FIGURES_THAT_CAN_LEAVE`` the results carry now."""
        out = {"mi-score", "mi-flag"} if self.mi_screened and self.mi_score is not None else set()
        if self.heart_rate_bpm is not None:
            out.add("8867-4")
        rates = (self.rhythm or {}).get("heart_rate") or {}
        out |= {f"heart-rate-{key[3:]}" for key in ("hr_min", "hr_max") if rates.get(key)}
        return out

    def figures_once_with_now(self) -> list[str]:
        """``figures_once`` with the figures carried now: what to store before the results change."""
        return sorted(set(self.figures_once or ()) | self.figures_carried())

    def class_counts(self) -> list[tuple[str, int, float]]:
        """(class, count, percent) for each AAMI class."""
        total = self.beat_count or 1
        return [
            (c, getattr(self, f"count_{c.lower()}"), 100.0 * getattr(self, f"count_{c.lower()}") / total)
            for c in AAMI_CLASSES
        ]

    def latest_review(self):
        prefetched = getattr(self, "reviews_newest_first", None)  # set by the list selectors
        if prefetched is not None:
            return prefetched[0] if prefetched else None
        return self.reviews.select_related("reviewer").order_by("-created_at", "-id").first()


class Review(models.Model):
    class Decision(models.TextChoices):
        CONFIRM = "confirm", "Confirm MI"
        REJECT = "reject", "Reject (no MI)"

    diagnosis = models.ForeignKey(Diagnosis, on_delete=models.PROTECT, related_name="reviews")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed: bool  # not stored: set by review_create, True when an idempotent retry returned this review

    class Meta:
        ordering = ["-created_at", "-id"]  # rows of one instant in a fixed order, page to page

    # Append-only, as the interpretations and the recording moves are: a changed decision is another review (on
    # PostgreSQL a trigger refuses UPDATE and DELETE too: migration 0028).
    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("MI reviews are append-only: record another decision instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("MI reviews are append-only")

    # What was decided, for the pages and reports that tell it (the choices' labels are what a doctor chooses:
    # "Confirm MI by Dana Doctor" had read as an instruction).
    OUTCOMES: dict[str, str] = {Decision.CONFIRM: "MI confirmed", Decision.REJECT: "MI rejected (no MI)"}

    @property
    def outcome(self) -> str:
        return self.OUTCOMES.get(self.decision, self.decision)


# IdempotencyRecord's foreign keys
IDEMPOTENCY_TARGETS = (
    "recording",
    "review",
    "interpretation",
    "event_review",
    "recording_move",
    "diary_entry",
    "diary_activity",
    "beat_correction",
)


class IdempotencyRecord(models.Model):
    """A write seen with an idempotency key, so a retried request returns what the first one made: a recording
    (an upload), a review, an interpretation, an event's review, a recording's move, a diary entry, a diary activity or a beat correction,
    exactly one of them (diagnostics.services.idempotent_write)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    # A foreign key per kind of write, not a generic relation: each keeps the database's integrity and cascade.
    recording = models.ForeignKey(ECGRecording, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    interpretation = models.ForeignKey(
        "Interpretation", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    event_review = models.ForeignKey("EventReview", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    recording_move = models.ForeignKey(
        "RecordingMove", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    diary_entry = models.ForeignKey("DiaryEntry", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    diary_activity = models.ForeignKey(
        "DiaryActivity", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    beat_correction = models.ForeignKey(
        "BeatCorrection", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "api_idempotencyrecord"  # created by the API app, which held this model first
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
            models.CheckConstraint(  # exactly one target
                condition=functools.reduce(
                    operator.or_,
                    (
                        models.Q(**{f"{name}__isnull": name != target for name in IDEMPOTENCY_TARGETS})
                        for target in IDEMPOTENCY_TARGETS
                    ),
                ),
                name="idempotency_record_one_target",
            ),
        ]


class Event(models.Model):
    """A rhythm episode of a recording (ecg.rhythm), in samples of the original signal, end inclusive."""

    class Type(models.TextChoices):
        VF = "vf", "Ventricular flutter / fibrillation"
        ASYSTOLE = "asystole", "Asystole"
        VT = "vt", "Ventricular tachycardia"
        AF = "af", "Atrial fibrillation"
        AFL = "afl", "Atrial flutter"
        SVT = "svt", "Supraventricular tachycardia"
        PAUSE = "pause", "Pause"
        V_RUN = "v_run", "Ventricular run"
        S_RUN = "s_run", "Supraventricular run"
        BIGEMINY = "bigeminy", "Ventricular bigeminy"
        TRIGEMINY = "trigeminy", "Ventricular trigeminy"
        V_COUPLET = "v_couplet", "Ventricular couplet"
        S_COUPLET = "s_couplet", "Supraventricular couplet"
        TACHY = "tachy", "Tachycardia"
        BRADY = "brady", "Bradycardia"

    recording = models.ForeignKey(ECGRecording, on_delete=models.CASCADE, related_name="events")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    type = models.CharField(max_length=12, choices=Type.choices)
    start = models.BigIntegerField()
    end = models.BigIntegerField()
    beats = models.PositiveIntegerField(
        null=True, blank=True, help_text="None for VF/VFL: what is detected inside it are waves, not beats"
    )
    rate_bpm = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["recording_id", "start", "id"]  # by the key itself, as Beat's
        indexes = [models.Index(fields=["recording", "type", "start"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="event_end_not_before_start")
        ]

    def duration_s(self, fs: float | None) -> float | None:
        return (self.end - self.start) / fs if fs else None

    def latest_review(self):
        return self.reviews.order_by("-created_at", "-id").first()


class EventReview(models.Model):
    """A doctor's confirmation or rejection of an event; every decision is kept."""

    class Decision(models.TextChoices):
        CONFIRM = "confirm", "Confirm"
        REJECT = "reject", "Reject"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="reviews")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    OUTCOMES: dict[str, str] = {Decision.CONFIRM: "Confirmed", Decision.REJECT: "Rejected"}  # as pages tell it
    replayed: bool  # not stored: set by event_review_create, True when an idempotent retry returned this decision

    @property
    def outcome(self) -> str:
        return self.OUTCOMES.get(self.decision, self.decision)


class Interpretation(models.Model):
    """A doctor's signed interpretation of a recording's report. Append-only: signing again adds an amendment,
    which names the version it replaces (``amends``); the newest is the current one."""

    MAX_LENGTH = 4000

    recording = models.ForeignKey(ECGRecording, on_delete=models.PROTECT, related_name="interpretations")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    reason = models.CharField(max_length=500, blank=True, help_text="Why an amendment was signed (none for the first)")
    undecided_at_signing = models.PositiveIntegerField(
        default=0, help_text="VF/VFL or asystole episodes awaiting a doctor's decision when it was signed"
    )
    # One amendment per version, and one first version per recording: two doctors signing at once cannot
    # both amend the same version (interpretation_sign also locks the recording while it signs).
    amends = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="amended_by", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    replayed: bool  # not stored: set by interpretation_sign, True when an idempotent retry returned this version

    class Meta:
        # newest first by id, which is assigned under the recording's lock (the amends chain's order): created_at
        # comes from the clock of the web host that signed, and two hosts' clocks may disagree
        ordering = ["-id"]
        indexes = [models.Index(fields=["recording", "-created_at", "-id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["recording"], condition=models.Q(amends__isnull=True), name="interpretation_one_first_version"
            )
        ]

    def __str__(self) -> str:
        return f"Interpretation {self.pk} of recording {self.recording_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("interpretations are append-only: sign an amendment instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("interpretations are append-only")


class RecordingMove(models.Model):
    """A recording filed under the wrong patient, moved to the right one (diagnostics.services.recording_move).
    Append-only: the rows are the history of whose record the recording was, and on PostgreSQL a trigger refuses
    to change or remove one."""

    REASON_MAX_LENGTH = 500

    recording = models.ForeignKey(ECGRecording, on_delete=models.PROTECT, related_name="moves")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    from_patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    to_patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    moved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=REASON_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed: bool  # not stored: set by recording_move, True when an idempotent retry returned this move

    class Meta:
        # in the order made: the id is assigned under the recording's lock, so one move's to_patient is the next
        # one's from_patient (created_at comes from the clock of the web host that moved it)
        ordering = ["id"]
        indexes = [models.Index(fields=["recording", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_patient=models.F("to_patient")), name="recording_move_to_another_patient"
            )
        ]

    def __str__(self) -> str:
        return f"Move {self.pk} of recording {self.recording_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("recording moves are append-only: move the recording again instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("recording moves are append-only")


class DiaryEntry(models.Model):
    """A symptom the patient wrote in the Holter diary while wearing the recorder ("palpitations at 14:32"),
    entered by the clinic: what the heart did at that moment is the question the recording was made to answer
    (diagnostics.diary gives the rhythm there). The moment is in samples of the original signal, as events'."""

    class Symptom(models.TextChoices):
        PALPITATIONS = "palpitations", "Palpitations"
        DIZZINESS = "dizziness", "Dizziness"
        SYNCOPE = "syncope", "Fainting (syncope)"
        CHEST_PAIN = "chest_pain", "Chest pain"
        BREATHLESSNESS = "breathlessness", "Shortness of breath"
        FATIGUE = "fatigue", "Fatigue"
        OTHER = "other", "Other"  # the note says what (diary.symptom_said)

    NOTE_MAX_LENGTH = 500
    MAX_PER_RECORDING = 60  # a diary is a page or two of notes; each entry's strip is drawn on the recording's page

    recording = models.ForeignKey(ECGRecording, on_delete=models.CASCADE, related_name="diary")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    sample = models.BigIntegerField(help_text="The moment noted, in samples of the original signal")
    symptom = models.CharField(max_length=16, choices=Symptom.choices)
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Removed as entered by mistake (diary_entry_remove): kept, out of the diary, so a system that copied it learns
    # of the removal and a retried request with the key that made it is answered with it, not made again.
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    replayed: (
        bool  # not stored: set by diary_entry_add (and _remove), True when an idempotent retry returned this entry
    )

    class Meta:
        ordering = ["recording_id", "sample", "id"]  # by the key itself, as Beat's
        indexes = [models.Index(fields=["recording", "sample"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(sample__gte=0), name="diary_entry_sample_not_negative")
        ]

    def __str__(self) -> str:
        return f"Diary entry {self.pk} of recording {self.recording_id}"


class DiaryActivity(models.Model):
    """What the patient wrote in the Holter diary beside the symptoms: when they went to sleep and woke, exercised,
    took a medicine. A slow rate or a pause at 03:00 asleep is read otherwise than one at 15:00 awake, and a Holter
    report gives the heart rate awake and asleep (diagnostics.diary.awake_asleep). ``start`` and ``end`` are samples of
    the original signal, ``end`` inclusive as events'; a period (sleep, exercise) has an end, a medicine taken is a
    moment, "other" either."""

    class Kind(models.TextChoices):
        SLEEP = "sleep", "Asleep"
        EXERCISE = "exercise", "Exercise or exertion"
        MEDICATION = "medication", "Medication taken"
        OTHER = "other", "Other"  # the note says what

    PERIODS = (Kind.SLEEP, Kind.EXERCISE)  # an end is required
    MOMENTS = (Kind.MEDICATION,)  # no end
    NOTE_MAX_LENGTH = DiaryEntry.NOTE_MAX_LENGTH
    MAX_PER_RECORDING = 30  # a day's diary names a few: sleep, a walk, the tablets

    recording = models.ForeignKey(ECGRecording, on_delete=models.CASCADE, related_name="activities")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    start = models.BigIntegerField(help_text="When it began (or the moment), in samples of the original signal")
    end = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="When it ended, in samples of the original signal, inclusive; none for a moment",
    )
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Removed as entered by mistake (diary_activity_remove), kept as a diary entry is.
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    replayed: bool  # not stored: set by diary_activity_add (and _remove), True when an idempotent retry returned it

    class Meta:
        ordering = ["recording_id", "start", "id"]  # by the key itself, as Beat's
        indexes = [models.Index(fields=["recording", "start"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(start__gte=0), name="diary_activity_start_not_negative"),
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="diary_activity_end_not_before_start",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["sleep", "exercise"], end__isnull=False)
                | models.Q(kind="medication", end__isnull=True)
                | models.Q(kind="other"),
                name="diary_activity_end_as_its_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"Diary activity {self.pk} of recording {self.recording_id}"
