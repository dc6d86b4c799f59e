"""Forms of the requester's web workflow: what the fields are and their
types. The rules (lengths, ranges, items, truths) are the services' own,
applied when the view calls them, so the dashboard and the API refuse the
same things with the same messages."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from assets import wire
from audiences.models import Audience
from jobs.models import TaskKind
from jobs.services import MAX_RESPONSES_PER_DATAPOINT


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (a selection or a folder); none is fine."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


def _text(label: str, max_length: int, *, required: bool = True, rows: int = 0, help_text: str = "") -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    return forms.CharField(
        label=label, max_length=max_length, required=required, strip=False, widget=widget, help_text=help_text
    )


class AudienceForm(forms.Form):
    name = _text("Name", wire.MAX_NAME_LENGTH)
    description = _text(
        "Description",
        wire.MAX_CONTEXT_LENGTH,
        required=False,
        rows=3,
        help_text="What labelers see before they qualify.",
    )
    target_accuracy = forms.FloatField(
        label="Accuracy to graduate",
        min_value=0.01,
        max_value=1,
        initial=Audience._meta.get_field("target_accuracy").default,
        help_text="The share of examples a labeler must get right (0 to 1).",
    )
    min_tasks = forms.IntegerField(
        label="Examples before a decision", min_value=1, initial=Audience._meta.get_field("min_tasks").default
    )
    max_tasks = forms.IntegerField(
        label="Examples at most",
        min_value=1,
        initial=Audience._meta.get_field("max_tasks").default,
        help_text="A labeler still below the bar after this many is dropped.",
    )


class _ExampleTexts(forms.Form):
    instruction = _text("Instruction", wire.MAX_INSTRUCTION_LENGTH)
    context = _text("Context", wire.MAX_CONTEXT_LENGTH, required=False, rows=2)
    explanation = _text(
        "Explanation",
        wire.MAX_EXPLANATION_LENGTH,
        required=False,
        rows=2,
        help_text="Shown to a labeler who answered wrongly.",
    )


class DrawExampleForm(_ExampleTexts):
    image = forms.FileField(label="Image")
    truths = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_truths(self):
        raw = self.cleaned_data.get("truths") or ""
        if not raw.strip():
            raise ValidationError("Draw at least one box around what a right answer colors in.")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValidationError("The boxes could not be read; draw them again.") from exc


class CompareExampleForm(_ExampleTexts):
    first_image = forms.FileField(label="First image", required=False)
    first_url = forms.URLField(
        label="or the first item's URL", required=False, max_length=wire.MAX_URL_LENGTH, assume_scheme="https"
    )
    second_image = forms.FileField(label="Second image", required=False)
    second_url = forms.URLField(
        label="or the second item's URL", required=False, max_length=wire.MAX_URL_LENGTH, assume_scheme="https"
    )
    truth = forms.ChoiceField(
        label="The right one", choices=[("first", "First"), ("second", "Second")], widget=forms.RadioSelect
    )

    def clean(self):
        cleaned = super().clean()
        for side in ("first", "second"):
            given = [bool(cleaned.get(f"{side}_image")), bool(cleaned.get(f"{side}_url"))]
            if given.count(True) != 1:
                self.add_error(f"{side}_image", f"Give the {side} item as an image file or as a URL (one of them).")
        return cleaned


class JobForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        choices=[(TaskKind.DRAW, "Draw: color in an image"), (TaskKind.COMPARE, "Compare: pick one of two images")],
        widget=forms.RadioSelect,
        initial=TaskKind.DRAW,
    )
    name = _text("Name", wire.MAX_NAME_LENGTH)
    instruction = _text("Instruction", wire.MAX_INSTRUCTION_LENGTH)
    # The service's bounds, checked before any image is stored.
    responses_per_datapoint = forms.IntegerField(
        label="Answers per datapoint", min_value=1, initial=5, max_value=MAX_RESPONSES_PER_DATAPOINT
    )
    files = MultipleFileField(
        label="Images",
        help_text="Several files, or a whole folder below. A compare job "
        "pairs them in name order: 1st with 2nd, 3rd with 4th…",
    )
    folder = MultipleFileField(label="A folder of images")
    archive = forms.FileField(label="A zip of images", required=False)
    urls = forms.CharField(
        label="Image URLs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One datapoint a line: a URL (draw) or two URLs separated by a space (compare).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].widget.attrs.update({"webkitdirectory": "", "directory": ""})

    def clean(self):
        cleaned = super().clean()
        sources = [
            bool(cleaned.get("files") or cleaned.get("folder")),
            bool(cleaned.get("archive")),
            bool((cleaned.get("urls") or "").strip()),
        ]
        if sources.count(True) != 1:
            raise ValidationError("Give the images one way: files (or a folder), a zip, or URLs.")
        return cleaned


class StartForm(forms.Form):
    audience = forms.ChoiceField(label="Audience")

    def __init__(self, *args, audiences, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["audience"].choices = [(a.public_id, f"{a.name} ({a.kind})") for a in audiences]


def errors_from(form: forms.Form, error: ValidationError) -> None:
    """A service's ``ValidationError({field: [message]})`` on the form's fields
    (on the form as a whole for fields it has not)."""
    for name, messages in error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]:
        for message in messages:
            form.add_error(
                name if name in form.fields else None,
                message if name in form.fields or name is None else f"{name}: {message}",
            )
