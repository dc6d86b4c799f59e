"""``manage.py seed_demo``: demo accounts, audiences and jobs over generated images.

Creates, through the services:

- accounts: an operator (superuser), a requester (with an API token) and two
  labelers, each with a random password, printed when the account is made;
- the curated audience "Prompt alignment (curated)", made by the operator,
  with compare examples: which generated image follows a prompt about books;
- the requester's custom audience "Blue book spotters", with draw examples
  ("Color in all the blue books"; truths: the blue books' boxes) and compare
  examples ("Which image shows more blue books?"), each with an explanation;
- the draw definition "Blue Books Example" over generated images, each
  image's blue-book boxes recorded as ``Asset.known_regions`` (for simulated
  labelers; never sent to labelers), running on the custom audience and on
  the global audience (so labelers can start at once); and the compare
  definition "Prompt Alignment Job" over generated pairs with their prompts
  as contexts, running on the curated audience.

Images come from ``demo.images`` with fixed seeds: the same bytes on
every run. Running the command again creates only what is missing (accounts
by username, audiences by name, examples by their images, definitions by
name, jobs by definition and audience) and reports the rest as existing.
Everything is written in one transaction.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from PIL import Image

from assets.models import Asset, TaskKind
from assets.services import asset_create_image
from audiences.models import Audience
from audiences.selectors import audience_list, global_audience
from audiences.services import audience_create, example_add_compare, example_add_draw
from demo import images as demo_images
from jobs.models import Job, JobDefinition
from jobs.services import (
    job_create,
    job_definition_create_compare,
    job_definition_create_draw,
)
from labeling.services import labeler_create, requester_create
from labeling.tokens import token_create, token_list

OPERATOR = "operator"
REQUESTER = "requester"
LABELERS = ("labeler1", "labeler2")

CURATED_NAME = "Prompt alignment (curated)"
CURATED_DESCRIPTION = "Labelers trained to judge which image follows a text prompt more accurately."
CUSTOM_NAME = "Blue book spotters"
CUSTOM_DESCRIPTION = "Labelers who find every blue book in an image, and only the blue ones."

DRAW_JOB_NAME = "Blue Books Example"
DRAW_INSTRUCTION = "Color in all the blue books"
COMPARE_JOB_NAME = "Prompt Alignment Job"
COMPARE_INSTRUCTION = "Which image follows the prompt more accurately?"
COUNT_INSTRUCTION = "Which image shows more blue books?"
RESPONSES_PER_DATAPOINT = 10

# Blue books in each image of the draw job; each image also has 1-3 red
# books. At least one blue book each: asset_create_image takes known_regions
# as a non-empty list of boxes, so "known to hold none" cannot be recorded.
DRAW_JOB_BLUE = (2, 1, 3, 1, 2, 1, 3, 2, 1, 2, 3, 1)
# Blue books in each draw qualification example (at least one: it needs a truth).
DRAW_EXAMPLE_BLUE = (1, 2, 1, 3, 2, 1, 2, 3)
# "Which image shows more blue books?": (blue, red) of the right image, then of the wrong one.
COUNT_EXAMPLES = (((3, 1), (1, 2)), ((2, 2), (0, 3)), ((1, 1), (0, 2)))
# Prompts (keys of demo_images.PROMPTS) of the curated examples and of the compare job.
CURATED_EXAMPLE_PROMPTS = ("blue-left-of-red", "two-blue-stacked", "single-red", "alternating-stack")
COMPARE_JOB_PROMPTS = (
    "small-blue-on-large-red",
    "large-blue-under-small-red",
    "three-blue-standing",
    "two-red-no-blue",
    "red-red-blue-stack",
    "large-red-beside-small-blue",
    "blue-between-red",
    "blue-lying-red-standing",
)

BASE_URL = "http://127.0.0.1:8000"
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight")


# --- What the demo holds (pure, reusable by tests and benchmarks) ------------------------


def image_size(index: int) -> tuple[int, int]:
    return demo_images.SIZES[index % len(demo_images.SIZES)]


def draw_job_scene(index: int) -> demo_images.Scene:
    """The scene of the draw job's datapoint ``index``."""
    return demo_images.scatter_scene(f"draw-job-{index}", *image_size(index), blue=DRAW_JOB_BLUE[index])


def draw_example_scene(index: int) -> demo_images.Scene:
    """The scene of the custom audience's draw example ``index``."""
    return demo_images.scatter_scene(f"draw-example-{index}", *image_size(index + 1), blue=DRAW_EXAMPLE_BLUE[index])


def right_first(seed: str) -> bool:
    """Whether a pair lists its right image first: varies from pair to pair,
    fixed for each, so the position never gives the answer away."""
    return random.Random(f"order/{seed}").random() < 0.5


def compare_job_seed(index: int) -> str:
    return f"compare-job-{index}"


def draw_explanation(blue: int) -> str:
    if blue == 1:
        return "There is one blue book here: color it in, and nothing else. Red books and everything else stay empty."
    return (
        f"There are {NUMBER_WORDS[blue]} blue books here: color in all of them, and nothing else. "
        "Red books and everything else stay empty."
    )


def count_explanation(right: int, wrong: int) -> str:
    books = "book" if right == 1 else "books"
    return (
        f"The correct image shows {NUMBER_WORDS[right]} blue {books}, the other {NUMBER_WORDS[wrong]}. "
        "Count only the blue books; red ones do not count."
    )


# --- Seeding ------------------------------------------------------------------------------


@dataclass
class Login:
    username: str
    role: str
    password: str | None = None  # known only when this run made (or reset) it
    token: str | None = None


@dataclass
class Seeder:
    """Creates what is missing, through the services, and reports each object
    as created or existing."""

    write: Callable[[str], None]
    reset_passwords: bool = False
    logins: list[Login] = field(default_factory=list)

    def report(self, created: bool, what: str) -> None:
        self.write(f"  {'created' if created else 'exists '}  {what}")

    # --- accounts --------------------------------------------------------------------------

    @staticmethod
    def _existing_user(username: str) -> AbstractBaseUser | None:
        return get_user_model().objects.filter(username__iexact=username).first()

    def _reset_password(self, user: AbstractBaseUser) -> str | None:
        if not self.reset_passwords:
            return None
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        return password

    def operator(self) -> AbstractBaseUser:
        user = self._existing_user(OPERATOR)
        created = user is None
        if created:
            password = secrets.token_urlsafe(12)
            user = get_user_model().objects.create_superuser(OPERATOR, "", password)
        elif not user.is_superuser:
            raise CommandError(f"user {OPERATOR!r} exists but is not a superuser; the demo needs it to be one.")
        else:
            password = self._reset_password(user)
        self.report(created, f"operator {OPERATOR!r} (superuser)")
        self.logins.append(Login(OPERATOR, "operator (superuser): admin, curated audiences, labelers", password))
        return user

    def requester(self) -> AbstractBaseUser:
        user = self._existing_user(REQUESTER)
        if user is None:
            password = secrets.token_urlsafe(12)
            user, key = requester_create(username=REQUESTER, password=password)
            self.report(True, f"requester {REQUESTER!r} (with an API token)")
        else:
            password = self._reset_password(user)
            # Tokens are stored hashed: an existing one cannot be shown again.
            # A new one is made when there is none, or with --reset-passwords.
            key = None
            if password is not None or not token_list(user=user).exists():
                key = token_create(user=user)[1]
            self.report(False, f"requester {REQUESTER!r}")
        self.logins.append(Login(REQUESTER, "requester: admin, dashboard, API", password, key))
        return user

    def labeler(self, username: str) -> AbstractBaseUser:
        user = self._existing_user(username)
        if user is None:
            password = secrets.token_urlsafe(12)
            user = labeler_create(username=username, password=password)
            self.report(True, f"labeler {username!r}")
        else:
            password = self._reset_password(user)
            self.report(False, f"labeler {username!r}")
        self.logins.append(Login(username, "labeler: the labeling app", password))
        return user

    # --- audiences and qualification examples ----------------------------------------------------

    def audience(
        self, *, by: AbstractBaseUser, kind: str, name: str, description: str, min_tasks: int, max_tasks: int
    ) -> Audience:
        """The custom audience ``name`` of ``by``, or the curated one ``by`` (an operator) runs."""
        owner = by if kind == Audience.Kind.CUSTOM else None
        audience = audience_list(user=by).filter(kind=kind, name=name, owner=owner).first()
        created = audience is None
        if created:
            audience = audience_create(
                owner=owner, kind=kind, name=name, description=description, min_tasks=min_tasks, max_tasks=max_tasks
            )
        self.report(created, f"{kind} audience {name!r} ({audience.public_id})")
        return audience

    @staticmethod
    def image(owner: AbstractBaseUser, image: Image.Image, name: str, known_regions: list[dict] | None = None) -> Asset:
        """Store a generated image (the same bytes every run: stored once)."""
        return asset_create_image(
            owner=owner, data=demo_images.png_bytes(image), name=name, known_regions=known_regions
        )

    def pair(
        self, owner: AbstractBaseUser, seed: str, right: Image.Image, wrong: Image.Image
    ) -> tuple[Asset, Asset, Asset]:
        """Store a compare pair: (first, second, the right one). Names say
        only the position (``<seed>-a``/``-b``), never which is right."""
        first_is_right = right_first(seed)
        right_asset = self.image(owner, right, f"{seed}-{'a' if first_is_right else 'b'}.png")
        wrong_asset = self.image(owner, wrong, f"{seed}-{'b' if first_is_right else 'a'}.png")
        if first_is_right:
            return right_asset, wrong_asset, right_asset
        return wrong_asset, right_asset, right_asset

    def draw_examples(self, audience: Audience, owner: AbstractBaseUser) -> None:
        added = 0
        for index, blue in enumerate(DRAW_EXAMPLE_BLUE):
            scene = draw_example_scene(index)
            boxes = scene.blue_boxes()
            asset = self.image(owner, scene.render(), f"blue-books-example-{index + 1:02d}.png", boxes)
            if audience.examples.filter(kind=TaskKind.DRAW, asset=asset).exists():
                continue
            example_add_draw(
                audience=audience,
                owner=owner,
                instruction=DRAW_INSTRUCTION,
                datapoint={"asset_id": asset.public_id},
                truths=boxes,
                explanation=draw_explanation(blue),
            )
            added += 1
        self._report_examples(audience, TaskKind.DRAW, added)

    def compare_example(
        self,
        audience: Audience,
        owner: AbstractBaseUser,
        *,
        seed: str,
        instruction: str,
        right: Image.Image,
        wrong: Image.Image,
        context: str,
        explanation: str,
    ) -> int:
        first, second, right_asset = self.pair(owner, seed, right, wrong)
        if audience.examples.filter(kind=TaskKind.COMPARE, asset=first, asset_b=second).exists():
            return 0
        example_add_compare(
            audience=audience,
            owner=owner,
            instruction=instruction,
            datapoint=[{"asset_id": first.public_id}, {"asset_id": second.public_id}],
            truth={"asset_id": right_asset.public_id},
            context=context,
            explanation=explanation,
        )
        return 1

    def count_examples(self, audience: Audience, owner: AbstractBaseUser) -> None:
        added = 0
        for index, ((right_blue, right_red), (wrong_blue, wrong_red)) in enumerate(COUNT_EXAMPLES):
            seed = f"count-example-{index}"
            right, wrong = demo_images.layout_pair(
                seed, *image_size(index + 2), ("scatter", right_blue, right_red), ("scatter", wrong_blue, wrong_red)
            )
            added += self.compare_example(
                audience,
                owner,
                seed=seed,
                instruction=COUNT_INSTRUCTION,
                right=right.render(),
                wrong=wrong.render(),
                context="",
                explanation=count_explanation(right_blue, wrong_blue),
            )
        self._report_examples(audience, TaskKind.COMPARE, added)

    def prompt_examples(self, audience: Audience, owner: AbstractBaseUser) -> None:
        added = 0
        for index, key in enumerate(CURATED_EXAMPLE_PROMPTS):
            seed = f"prompt-example-{index}"
            pair = demo_images.prompt_pair(key, seed, *image_size(index + 3))
            added += self.compare_example(
                audience,
                owner,
                seed=seed,
                instruction=COMPARE_INSTRUCTION,
                right=pair.right,
                wrong=pair.wrong,
                context=pair.prompt,
                explanation=pair.explanation,
            )
        self._report_examples(audience, TaskKind.COMPARE, added)

    def _report_examples(self, audience: Audience, kind: str, added: int) -> None:
        total = audience.examples.filter(kind=kind).count()
        self.write(f"           {total} {kind} examples in {audience.name!r} ({added} added now)")

    # --- job definitions and jobs ---------------------------------------------------------------

    @staticmethod
    def _existing_definition(owner: AbstractBaseUser, kind: str, name: str) -> JobDefinition | None:
        return JobDefinition.objects.filter(owner=owner, kind=kind, name=name).order_by("created_at", "id").first()

    def draw_definition(self, owner: AbstractBaseUser) -> JobDefinition:
        definition = self._existing_definition(owner, TaskKind.DRAW, DRAW_JOB_NAME)
        created = definition is None
        if created:
            assets = []
            for index in range(len(DRAW_JOB_BLUE)):
                scene = draw_job_scene(index)
                assets.append(self.image(owner, scene.render(), f"blue-books-{index + 1:02d}.png", scene.blue_boxes()))
            definition = job_definition_create_draw(
                owner=owner,
                name=DRAW_JOB_NAME,
                instruction=DRAW_INSTRUCTION,
                datapoints=[{"asset_id": asset.public_id} for asset in assets],
                responses_per_datapoint=RESPONSES_PER_DATAPOINT,
            )
        self.report(created, f"draw job definition {DRAW_JOB_NAME!r} ({definition.datapoints.count()} images)")
        return definition

    def compare_definition(self, owner: AbstractBaseUser) -> JobDefinition:
        definition = self._existing_definition(owner, TaskKind.COMPARE, COMPARE_JOB_NAME)
        created = definition is None
        if created:
            datapoints, contexts = [], []
            for index, key in enumerate(COMPARE_JOB_PROMPTS):
                seed = compare_job_seed(index)
                pair = demo_images.prompt_pair(key, seed, *image_size(index))
                first, second, _ = self.pair(owner, seed, pair.right, pair.wrong)
                datapoints.append([{"asset_id": first.public_id}, {"asset_id": second.public_id}])
                contexts.append(pair.prompt)
            definition = job_definition_create_compare(
                owner=owner,
                name=COMPARE_JOB_NAME,
                instruction=COMPARE_INSTRUCTION,
                datapoints=datapoints,
                contexts=contexts,
                responses_per_datapoint=RESPONSES_PER_DATAPOINT,
            )
        self.report(
            created, f"compare job definition {COMPARE_JOB_NAME!r} ({definition.datapoints.count()} pairs with prompts)"
        )
        return definition

    def job(self, owner: AbstractBaseUser, definition: JobDefinition, audience: Audience) -> Job:
        job = Job.objects.filter(owner=owner, definition=definition, audience=audience).first()
        created = job is None
        if created:
            job = job_create(owner=owner, definition=definition, audience=audience)
        self.report(created, f"job {definition.name!r} on {audience.name!r} ({job.public_id}, {job.state})")
        return job


def seed_demo(*, write: Callable[[str], None], reset_passwords: bool = False) -> Seeder:
    """Create whatever of the demo is missing (one transaction); return the
    seeder, whose ``logins`` hold the accounts and any new passwords."""
    seeder = Seeder(write=write, reset_passwords=reset_passwords)
    with transaction.atomic():
        operator = seeder.operator()
        requester = seeder.requester()
        for username in LABELERS:
            seeder.labeler(username)

        curated = seeder.audience(
            by=operator,
            kind=Audience.Kind.CURATED,
            name=CURATED_NAME,
            description=CURATED_DESCRIPTION,
            min_tasks=3,
            max_tasks=4,
        )
        seeder.prompt_examples(curated, operator)
        custom = seeder.audience(
            by=requester,
            kind=Audience.Kind.CUSTOM,
            name=CUSTOM_NAME,
            description=CUSTOM_DESCRIPTION,
            min_tasks=5,
            max_tasks=8,
        )
        seeder.draw_examples(custom, requester)
        seeder.count_examples(custom, requester)

        draw = seeder.draw_definition(requester)
        compare = seeder.compare_definition(requester)
        seeder.job(requester, draw, custom)
        seeder.job(requester, draw, global_audience())
        seeder.job(requester, compare, curated)
    return seeder


class Command(BaseCommand):
    help = (
        "Create the demo: operator, requester and labeler accounts, a curated and a custom audience with "
        "qualification examples, and draw and compare jobs over generated images. Safe to run again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="give the demo accounts that exist already new passwords, and the requester a new "
            "API token (and print them)",
        )
        parser.add_argument("--base-url", default=BASE_URL, help=f"where the server runs (default {BASE_URL})")
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (it creates a superuser: not for production)"
        )

    def handle(
        self, *args, reset_passwords: bool = False, base_url: str = BASE_URL, force: bool = False, **options
    ) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates demo accounts, among them a superuser: run it with DEBUG=1 "
                "(as `make demo` does), or pass --force."
            )
        started = time.monotonic()
        self.stdout.write("Seeding the CrowdCanvas demo:")
        seeder = seed_demo(write=self.stdout.write, reset_passwords=reset_passwords)
        self.stdout.write(f"Done in {time.monotonic() - started:.1f} s.")
        self._print_summary(seeder.logins, base_url.rstrip("/"))

    def _print_summary(self, logins: list[Login], base_url: str) -> None:
        rule = "=" * 72
        lines = [
            "",
            rule,
            "CrowdCanvas demo",
            "",
            f"  Labeling app   {base_url}/",
            f"  Admin          {base_url}/admin/",
            f"  Dashboard      {base_url}/dashboard/   (requesters: live progress and results)",
            f"  API docs       {base_url}/api/docs/",
            "",
            "  Logins (username / password):",
        ]
        width = max(len(login.username) for login in logins)
        secret_width = max(len(login.password or "(unchanged)") for login in logins)
        for login in logins:
            password = login.password or "(unchanged)"
            lines.append(f"    {login.username:<{width}} / {password:<{secret_width}}   {login.role}")
            if login.token:
                lines.append(f"    {'':<{width}}   API token: {login.token}")
                lines.append(
                    f"    {'':<{width}}   (send it as the header 'Authorization: Token <token>'; it is shown only now)"
                )
            elif "requester" in login.role:
                lines.append(
                    f"    {'':<{width}}   API token: (unchanged: shown when it was made; "
                    "--reset-passwords adds a new one)"
                )
        if any(login.password is None for login in logins):
            lines += [
                "",
                "  Passwords are printed when an account is made; `manage.py seed_demo "
                "--reset-passwords` sets and prints new ones.",
            ]
        lines += [rule, ""]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
