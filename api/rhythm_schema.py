"""The Holter summary's shape (``diagnosis.rhythm``, ecg.rhythm.analysis), for the OpenAPI schema only: the
API serves the stored summary as it is (without its per-minute trend), and tests/api/test_rhythm_schema.py holds
a real recording's summary to this schema, no key more or fewer. Keys added after the first summaries were
stored are not required: a recording analysed before them lacks them."""

from rest_framework import serializers

from diagnostics.models import Event

SAMPLE = "Sample of the original signal"


class RhythmSpanSerializer(serializers.Serializer):
    start = serializers.IntegerField(help_text=SAMPLE)
    end = serializers.IntegerField(help_text=f"{SAMPLE}, inclusive")


class RhythmEpisodeSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Event.Type.choices)
    start = serializers.IntegerField(help_text=SAMPLE)
    end = serializers.IntegerField(help_text=f"{SAMPLE}, inclusive")
    beats = serializers.IntegerField(
        allow_null=True, help_text="null for VF/VFL: what is detected inside it are waves, not beats (asystole: 0)"
    )
    rate_bpm = serializers.FloatField(allow_null=True, help_text="null where the episode has no rate (VF/VFL)")


class HeartRateExtremeSerializer(serializers.Serializer):
    bpm = serializers.FloatField()
    start = serializers.IntegerField(help_text=f"{SAMPLE}: the first of the 8 beats' R-peak")
    end = serializers.IntegerField(help_text=f"{SAMPLE}: the last of the 8 beats' R-peak")


class HeartRateSummarySerializer(serializers.Serializer):
    mean_bpm = serializers.FloatField(allow_null=True, help_text="Over the R-R intervals outside VF, noise and gaps")
    hr_min = HeartRateExtremeSerializer(
        allow_null=True,
        help_text="The slowest 8 beats; null under 30 s of R-R intervals (a 10-s ECG: its rate is the mean)",
    )
    hr_max = HeartRateExtremeSerializer(
        allow_null=True,
        help_text="The fastest 8 beats; null under 30 s of R-R intervals (a 10-s ECG: its rate is the mean)",
    )


class HrvSerializer(serializers.Serializer):
    sdnn_ms = serializers.FloatField(allow_null=True)
    sdann_ms = serializers.FloatField(allow_null=True, help_text="null under an hour of 5-minute segments")
    rmssd_ms = serializers.FloatField(allow_null=True)
    pnn50_pct = serializers.FloatField(allow_null=True)
    nn_count = serializers.IntegerField(help_text="Normal-to-normal intervals the figures are over")
    reason = serializers.CharField(allow_null=True, help_text="Why the figures are null, where they are")


class EctopySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    isolated = serializers.IntegerField()
    couplets = serializers.IntegerField()
    runs = serializers.IntegerField(help_text="Runs of 3 beats or more")
    fast_runs = serializers.IntegerField(
        required=False,
        help_text="Of the runs, those at 100 /min or faster: VT or SVT events (absent from reports stored before it)",
    )
    longest_run = RhythmEpisodeSerializer(allow_null=True)
    fastest_run = RhythmEpisodeSerializer(allow_null=True)
    burden_pct = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="The ectopic beats (`total`) as a share of the beats analysed (`beats_analysed`), % "
        "(null where no beat was analysed; absent from reports stored before it)",
    )


class VentricularEctopySerializer(EctopySerializer):
    bigeminy_episodes = serializers.IntegerField()
    trigeminy_episodes = serializers.IntegerField()


class SupraventricularEctopySerializer(EctopySerializer):
    in_af = serializers.IntegerField(
        required=False, help_text="Beats called S inside or running into AF or flutter, not counted as ectopy"
    )


class AfSummarySerializer(serializers.Serializer):
    episodes = serializers.IntegerField(help_text="AF and flutter episodes")
    flutter_episodes = serializers.IntegerField()
    duration_s = serializers.FloatField()
    burden_pct = serializers.FloatField(
        allow_null=True,
        help_text="AF time over the time whose rhythm could be read (`burden_of`), %; null where under 20 s of rhythm "
        "(or 34 beats) could be read, the least AF is called over (a strip in VF/VFL, a 10-s ECG)",
    )
    burden_of = serializers.CharField(required=False, help_text="What the burden is a share of, in words")


class PauseSummarySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Pauses of 2 s or more, asystole among them")
    longest = RhythmEpisodeSerializer(allow_null=True)


class HourlyRowSerializer(serializers.Serializer):
    hour = serializers.IntegerField(help_text="From the start of the recording, from 0")
    beats = serializers.IntegerField()
    hr_min = serializers.FloatField(
        allow_null=True, help_text="Over 8 beats; null where the hour's R-R intervals cover under 30 s"
    )
    hr_mean = serializers.FloatField(allow_null=True)
    hr_max = serializers.FloatField(
        allow_null=True, help_text="Over 8 beats; null where the hour's R-R intervals cover under 30 s"
    )
    v = serializers.IntegerField()
    s = serializers.IntegerField()


class RhythmSummarySerializer(serializers.Serializer):
    duration_s = serializers.FloatField()
    beats_analysed = serializers.IntegerField(
        required=False, help_text="Beats the rhythm figures are over (outside VF/VFL, noise and gaps)"
    )
    beats_left_out = serializers.IntegerField(
        required=False,
        help_text="Detections inside VF/VFL, noise or a gap, or faint marks inside a pause: in the class counts only",
    )
    vf = RhythmEpisodeSerializer(
        many=True, help_text="VF/VFL episodes no doctor rejected on review (those rejected: see the events)"
    )
    asystole = RhythmEpisodeSerializer(many=True, required=False)
    no_signal = RhythmSpanSerializer(
        many=True, required=False, help_text="Stretches without signal (lost samples, a lead off)"
    )
    no_signal_s = serializers.FloatField(required=False)
    noise = RhythmSpanSerializer(many=True, required=False, help_text="Stretches too noisy to read")
    noise_s = serializers.FloatField(required=False)
    heart_rate = HeartRateSummarySerializer()
    hrv = HrvSerializer()
    ventricular = VentricularEctopySerializer()
    supraventricular = SupraventricularEctopySerializer()
    af = AfSummarySerializer()
    pauses = PauseSummarySerializer()
    event_counts = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Events by type, those a doctor rejected on review left out (the events' own list pages them all)",
    )
    rejected = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Events a doctor rejected on review, by type: left out of every figure made of events here (the "
        "episode lists and counts, runs, couplets, bigeminy and trigeminy, pauses, AF episodes, duration and burden) "
        "as FHIR leaves them out; the figures made of beats (ectopic totals and burden, the hourly table, heart rate) "
        "are the beats' classes, which a doctor changes by correcting them",
    )
    hourly = HourlyRowSerializer(many=True)
    hourly_extreme_beats = serializers.IntegerField(
        required=False, help_text="Beats the hourly minimum and maximum are over"
    )


# --- the heart rate awake and asleep (diagnostics.diary.awake_asleep, ecg.rhythm.sleep): computed when read, from the
# stored per-minute trend and the diary's sleep periods, not stored with the summary ---------------------------------


class TrendExtremeSerializer(serializers.Serializer):
    bpm = serializers.FloatField(help_text="Over 4 beats: the trend's per-minute extreme, not the summary's 8-beat one")
    minute = serializers.IntegerField(help_text="The minute it lies in, from the start of the recording, from 0")
    at_s = serializers.FloatField(help_text="The start of that minute, in seconds from the start of the recording")
    at = serializers.DateTimeField(
        allow_null=True,
        help_text="The start of that minute as a date-time, where the recording's start is known; else null",
    )


class RateOverMinutesSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(
        help_text="Minutes of the trend counted: those with a rate (not in VF/VFL, without signal or in noise)"
    )
    mean_bpm = serializers.FloatField(
        allow_null=True, help_text="Over the minutes' R-R intervals (beats over time); null where no minute has a rate"
    )
    lowest = TrendExtremeSerializer(allow_null=True, help_text="The lowest of the minutes' 4-beat minima")
    highest = TrendExtremeSerializer(allow_null=True, help_text="The highest of the minutes' 4-beat maxima")


class RateAwakeOrAsleepSerializer(RateOverMinutesSerializer):
    af_burden_pct = serializers.FloatField(
        allow_null=True,
        help_text="The share (%) of the minutes counted that atrial fibrillation or flutter covers (the `af` and "
        "`afl` events a doctor has not rejected); null where no minute has a rate",
    )


class SleepEventCountSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Event.Type.choices)
    asleep = serializers.IntegerField(help_text="Events of the type that began in a sleep period")
    total = serializers.IntegerField(help_text="Events of the type in the recording")


class AwakeAsleepSerializer(serializers.Serializer):
    sleep_periods = serializers.IntegerField(help_text="The diary's sleep periods (not those removed)")
    awake = RateAwakeOrAsleepSerializer(
        allow_null=True, help_text="Over the minutes outside sleep; null without a sleep period"
    )
    asleep = RateAwakeOrAsleepSerializer(
        allow_null=True,
        help_text="Over the minutes whose middle lies in a sleep period; null without a sleep period",
    )
    events = SleepEventCountSerializer(
        many=True, help_text="Rhythm events by type, the most serious first, by where they began"
    )
    events_rejected = serializers.IntegerField(help_text="Events a doctor rejected, left out of `events`")
    extreme_beats = serializers.IntegerField(help_text="Beats the lowest and highest are over (the trend's window)")
