"""Labeler pages: accounts, home, the workspace shells, CSRF, escaping, and
that no qualification truth ever reaches a labeler's browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client

from audiences import services as audience_services
from audiences.models import Membership
from audiences.selectors import global_audience
from core.csp import CONTENT_SECURITY_POLICY
from jobs import services as job_services
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "plum-tangerine-quartz-81"
SCRIPT = "<script>alert('x')</script>"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def csrf_client_for(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


# --- accounts ------------------------------------------------------------------------


def test_signup_creates_a_labeler_in_the_global_audience_and_signs_them_in():
    client = Client()
    assert client.get("/signup/").status_code == 200
    response = client.post("/signup/", {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="newbie")
    assert not user.is_staff
    membership = Membership.objects.get(labeler=user)
    assert membership.audience == global_audience() and membership.state == Membership.State.GRADUATED
    home = client.get("/")
    assert home.status_code == 200 and "Hello, newbie" in text(home)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "newbie", "password1": PASSWORD, "password2": PASSWORD + "x"}, "The two passwords differ."),
        ({"username": "newbie", "password1": "123", "password2": "123"}, "This password is too short."),
        ({"username": "taken", "password1": PASSWORD, "password2": PASSWORD}, "is taken."),
        ({"username": "no spaces!", "password1": PASSWORD, "password2": PASSWORD}, "Enter a valid username."),
    ],
)
def test_signup_shows_what_is_wrong_and_creates_nobody(make_labeler, form, message):
    make_labeler("taken")
    response = Client().post("/signup/", form)
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert get_user_model().objects.count() == 1


def test_login_and_logout(labeler):
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and 'name="password"' in text(page)
    wrong = client.post("/accounts/login/", {"username": "lara", "password": "nope"})
    assert wrong.status_code == 200 and "errors" in text(wrong)
    response = client.post("/accounts/login/", {"username": "lara", "password": labeler.raw_password})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # logging out takes a POST
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_login_redirects_to_next(labeler):
    client = Client()
    response = client.post(
        "/accounts/login/?next=/signup/", {"username": "lara", "password": labeler.raw_password, "next": "/signup/"}
    )
    assert response["Location"] == "/signup/"


def test_signed_in_user_visiting_signup_goes_home(labeler):
    assert logged_in(labeler).get("/signup/")["Location"] == "/"


# --- pages require login; 404s --------------------------------------------------------


def test_pages_require_login(requester):
    audience = factories.draw_audience(requester)
    job = factories.draw_job(requester, audience)
    for url in [
        "/",
        f"/audiences/{audience.public_id}/qualify/",
        f"/jobs/{job.public_id}/work/",
        f"/preview/{job.definition.public_id}/",
    ]:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/accounts/login/?next={url}"


def test_unknown_objects_are_404(labeler):
    client = logged_in(labeler)
    for url in [
        "/audiences/aud_nope/qualify/",
        "/jobs/job_nope/work/",
        "/preview/jdf_nope/",
        f"/audiences/{global_audience().public_id}/qualify/",
    ]:
        assert client.get(url).status_code == 404, url


def test_preview_is_for_the_definition_owner_only(requester, other_requester, labeler):
    job = factories.draw_job(requester, global_audience())
    definition = job.definition.public_id
    own = logged_in(requester).get(f"/preview/{definition}/")
    assert own.status_code == 200 and "Preview — nothing is stored" in text(own)
    assert f'data-definition-id="{definition}"' in text(own)
    for user in (other_requester, labeler):
        client = logged_in(user)
        assert client.get(f"/preview/{definition}/").status_code == 404
        assert client.get(f"/api/preview/{definition}/tasks/0/").status_code == 404


# --- home ----------------------------------------------------------------------------------


def test_home_lists_memberships_audiences_to_qualify_and_jobs(requester, labeler):
    graduated = factories.draw_audience(requester, name="Book spotters", examples=3, min_tasks=3, max_tasks=3)
    membership = audience_services.qualification_next(labeler=labeler, audience=graduated)
    for _ in range(3):
        audience_services.qualification_answer(
            labeler=labeler, audience=graduated, task_id=membership.current_task_id, response=factories.stroke_inside()
        )
        membership = audience_services.qualification_next(labeler=labeler, audience=graduated)
    assert membership.state == Membership.State.GRADUATED
    open_audience = factories.compare_audience(requester, name="Prompt judges")
    factories.draw_audience(requester, name="Not open yet", examples=2)
    global_job = factories.compare_job(requester, global_audience(), datapoints=4)
    custom_job = factories.draw_job(requester, graduated, datapoints=3)
    closed_job = factories.draw_job(requester, open_audience, datapoints=5)

    page = text(logged_in(labeler).get("/"))
    # memberships with state and user score
    assert re.search(
        rf'<th scope="row">Book spotters</th>\s*<td>custom</td>\s*'
        rf'<td><span class="state">graduated</span></td>\s*<td>{membership.user_score:.2f}</td>',
        page,
    )
    assert re.search(r'<th scope="row">Global</th>\s*<td>global</td>\s*<td><span class="state">member</span>', page)
    # audiences to qualify for
    assert f'href="/audiences/{open_audience.public_id}/qualify/">Qualify</a>' in page
    assert "Not open yet" not in page
    assert f"/audiences/{graduated.public_id}/qualify/" not in page
    # jobs with work, without a count (it would tell gold tasks apart)
    assert f'<a class="button primary" href="/jobs/{global_job.public_id}/work/">Start</a>' in page
    assert f'<a class="button primary" href="/jobs/{custom_job.public_id}/work/">Start</a>' in page
    assert "left</p>" not in page
    assert closed_job.public_id not in page  # not graduated there


def test_home_links_back_to_qualifying(requester, labeler):
    audience = factories.draw_audience(requester, name="Halfway")
    audience_services.qualification_next(labeler=labeler, audience=audience)
    page = text(logged_in(labeler).get("/"))
    assert f'href="/audiences/{audience.public_id}/qualify/">Continue qualifying</a>' in page


# --- workspace pages ------------------------------------------------------------------------


def test_workspace_pages_carry_ids_limits_and_a_strict_csp(requester, labeler):
    audience = factories.draw_audience(requester)
    job = factories.draw_job(requester, global_audience())
    client = logged_in(labeler)
    qualify = client.get(f"/audiences/{audience.public_id}/qualify/")
    work = client.get(f"/jobs/{job.public_id}/work/")
    assert f'data-audience-id="{audience.public_id}"' in text(qualify)
    assert f'data-job-id="{job.public_id}"' in text(work)
    assert 'data-max-lines="200"' in text(work) and 'data-min-brush="0.002"' in text(work)
    assert 'data-max-brush="0.25"' in text(work)
    for response in (qualify, work, client.get("/"), Client().get("/signup/")):
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in response["Content-Security-Policy"]
        # no inline script: every <script> has a src
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text(response))
    assert "csrftoken" in work.cookies


# --- CSRF ------------------------------------------------------------------------------------


def test_signup_and_login_forms_enforce_csrf(labeler):
    client = Client(enforce_csrf_checks=True)
    form = {"username": "newbie", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post("/signup/", form).status_code == 403
    assert client.post("/accounts/login/", {"username": "lara", "password": labeler.raw_password}).status_code == 403
    assert not get_user_model().objects.filter(username="newbie").exists()

    client.get("/signup/")
    token = client.cookies["csrftoken"].value
    assert client.post("/signup/", {**form, "csrfmiddlewaretoken": token}).status_code == 302
    other = Client(enforce_csrf_checks=True)
    other.get("/accounts/login/")
    token = other.cookies["csrftoken"].value
    response = other.post(
        "/accounts/login/", {"username": "lara", "password": labeler.raw_password, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_logout_enforces_csrf(labeler):
    client = csrf_client_for(labeler)
    assert client.post("/accounts/logout/").status_code == 403
    assert client.get("/").status_code == 200  # still signed in


def test_api_posts_from_a_session_need_the_csrf_token(requester, labeler):
    audience = factories.draw_audience(requester)
    job = factories.draw_job(requester, global_audience())
    client = csrf_client_for(labeler)
    client.get(f"/jobs/{job.public_id}/work/")  # the page sets the cookie its script reads
    token = client.cookies["csrftoken"].value
    urls = [
        f"/api/labeler/audiences/{audience.public_id}/qualification/next/",
        f"/api/labeler/jobs/{job.public_id}/tasks/next/",
    ]
    for url in urls:
        refused = client.post(url)
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Membership.objects.filter(audience=audience).exists()
    for url in urls:
        assert client.post(url, HTTP_X_CSRFTOKEN=token).status_code == 200
    task = client.post(urls[1], HTTP_X_CSRFTOKEN=token).json()["task"]
    body = json.dumps({"response": {"lines": []}})
    submit = f"/api/labeler/tasks/{task['id']}/submit/"
    assert client.post(submit, body, content_type="application/json").status_code == 403
    assert client.post(submit, body, content_type="application/json", HTTP_X_CSRFTOKEN=token).status_code == 200
    assert client.get("/api/labeler/home/").status_code == 200  # reads need no token


def test_preview_check_needs_the_csrf_token(requester):
    job = factories.draw_job(requester, global_audience())
    client = csrf_client_for(requester)
    client.get(f"/preview/{job.definition.public_id}/")
    url = f"/api/preview/{job.definition.public_id}/tasks/0/check/"
    body = json.dumps({"response": {"lines": []}})
    assert client.post(url, body, content_type="application/json").status_code == 403
    response = client.post(
        url, body, content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )
    assert response.json() == {"valid": True, "stored": False}


# --- escaping --------------------------------------------------------------------------------


def test_user_content_is_escaped_in_pages(requester, labeler):
    audience = audience_services.audience_create(owner=requester, name=f"Aud {SCRIPT}", description=f"Desc {SCRIPT}")
    for index in range(3):
        audience_services.example_add_compare(
            audience=audience,
            owner=requester,
            instruction=f"Pick {SCRIPT}",
            datapoint=[f"left {SCRIPT} {index}", f"right {index}"],
            truth=f"right {index}",
            context=SCRIPT,
        )
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name=f"Job {SCRIPT}",
        instruction=f"Instr {SCRIPT}",
        datapoints=[[f"text {SCRIPT}", "plain"]],
        contexts=[f"ctx {SCRIPT}"],
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    audience_services.qualification_next(
        labeler=labeler, audience=factories.draw_audience(requester, name=f"Joined {SCRIPT}")
    )
    labeler_client = logged_in(labeler)
    pages = [
        labeler_client.get("/"),
        labeler_client.get(f"/audiences/{audience.public_id}/qualify/"),
        labeler_client.get(f"/jobs/{job.public_id}/work/"),
        logged_in(requester).get(f"/preview/{definition.public_id}/"),
    ]
    for page in pages:
        assert page.status_code == 200
        body = text(page)
        assert SCRIPT not in body and "<script>alert" not in body
    home, qualify, work, preview = (text(p) for p in pages)
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert f"Aud {escaped}" in home and f"Instr {escaped}" in home and f"Joined {escaped}" in home
    assert f"Aud {escaped}" in qualify and f"Desc {escaped}" in qualify
    assert f"Job {escaped}" in work and f"Job {escaped}" in preview
    # The API hands the text to the page's scripts as JSON data (shown with textContent).
    api = labeler_client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")
    assert api["Content-Type"] == "application/json"
    assert {item["text"] for item in api.json()["task"]["items"]} == {f"text {SCRIPT}", "plain"}


# --- the draw page's weight --------------------------------------------------------------------

IMPORT = re.compile(r"""(?:^|;|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\s*["']([^"']+)["']""")


def static_file(url: str) -> Path:
    assert url.startswith("/static/"), url
    found = finders.find(url.removeprefix("/static/"))
    assert found, url
    return Path(found)


def test_draw_page_js_and_css_stay_under_50_kb(labeler, requester):
    job = factories.draw_job(requester, global_audience())
    page = text(logged_in(labeler).get(f"/jobs/{job.public_id}/work/"))
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    styles = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', page)
    assert scripts and styles
    seen: set[Path] = set()
    queue = [static_file(url) for url in scripts + styles]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.suffix == ".js":
            for match in IMPORT.finditer(path.read_text()):
                target = match.group(1) or match.group(2)
                assert target.startswith("./"), f"{path.name} imports {target}: only local modules"
                queue.append((path.parent / target).resolve())
    names = {p.name for p in seen}
    assert {"work.js", "draw.js", "strokes.js", "pointer-input.js", "api.js", "app.css", "workspace.css"} <= names
    total = sum(p.stat().st_size for p in seen)
    assert total < 50 * 1024, f"{total} bytes in {sorted(names)}"


# --- no truth reaches the labeler -----------------------------------------------------------

DRAW_TRUTHS = [
    {"x_min": 0.13579, "y_min": 0.24681, "x_max": 0.57913, "y_max": 0.86421},
    {"x_min": 0.31415, "y_min": 0.17320, "x_max": 0.92653, "y_max": 0.58979},
]
EXPLANATION = "Look closer at the zebra-striped mug"


def truth_spellings(value: float) -> set[str]:
    """How a box coordinate could appear in a page or a payload."""
    spellings = {
        repr(value),
        f"{value:.4f}",
        f"{value:.5f}",
        f"{value:.6f}",
        f"{value:.3f}",
        f"{value * 100:.2f}",
        f"{value * 100:.1f}",
        f"{value:.4f}".lstrip("0"),
    }
    return {s for s in spellings if len(s.strip("0.")) >= 3}


def assert_no_draw_truth(body: str, where: str) -> None:
    for key in ("x_min", "y_min", "x_max", "y_max", "truth", "Truth", "required_precision", "qex_"):
        assert key not in body, f"{key!r} in {where}"
    for box in DRAW_TRUTHS:
        for value in box.values():
            for spelling in truth_spellings(value):
                assert spelling not in body, f"{spelling!r} (truth) in {where}"


def test_no_draw_truth_reaches_the_labeler_and_explanations_only_follow_wrong_answers(requester, labeler):
    audience = audience_services.audience_create(owner=requester, name="Mug finders", min_tasks=4, max_tasks=6)
    boxes = {}
    for index in range(6):
        truth = DRAW_TRUTHS[index % 2]
        example = audience_services.example_add_draw(
            audience=audience,
            owner=requester,
            instruction="Color in the striped mug",
            datapoint=factories.url(f"mug-{index}"),
            truths=[truth],
            explanation=f"{EXPLANATION} #{index}",
        )
        boxes[example.asset.labeler_value] = truth
    job = factories.draw_job(requester, audience)
    client = logged_in(labeler)
    bodies: list[tuple[str, str, str]] = []  # (where, body, kind)

    def fetch(where: str, response, kind: str = "page") -> dict | None:
        assert response.status_code in (200, 403), (where, response.content)
        bodies.append((where, text(response), kind))
        return response.json() if response["Content-Type"] == "application/json" else None

    fetch("home", client.get("/"))
    fetch("qualify page", client.get(f"/audiences/{audience.public_id}/qualify/"))
    fetch("work page", client.get(f"/jobs/{job.public_id}/work/"))
    fetch("job next (not eligible)", client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/"), "next")
    fetch("api home", client.get("/api/labeler/home/"), "next")
    base = f"/api/labeler/audiences/{audience.public_id}/qualification"
    state = fetch("next", client.post(f"{base}/next/"), "next")
    fetch("next again", client.post(f"{base}/next/"), "next")
    wrong_answers = 0
    while state["task"]:
        task = state["task"]
        assert set(task) == {"id", "kind", "instruction", "context", "media_context", "items", "expires_at", "job"}
        assert [set(item) for item in task["items"]] == [{"type", "src", "value", "width", "height"}]
        response = (
            factories.stroke_outside()
            if wrong_answers == 0
            else factories.stroke_inside(boxes[task["items"][0]["value"]], size=0.03)
        )
        state = fetch(
            "answer",
            client.post(
                f"{base}/answer/", {"task_id": task["id"], "response": response}, content_type="application/json"
            ),
            "wrong answer" if wrong_answers == 0 else "answer",
        )
        if wrong_answers == 0:
            assert state["correct"] is False and state["explanation"].startswith(EXPLANATION)
            wrong_answers += 1
        else:
            assert state["correct"] is True and state["explanation"] == ""
        fetch("qualify page (during)", client.get(f"/audiences/{audience.public_id}/qualify/"))
        fetch("home (during)", client.get("/"))
    assert state["status"] == "graduated"
    fetch("home (after)", client.get("/"))
    fetch("work page (after)", client.get(f"/jobs/{job.public_id}/work/"))
    fetch("job next (after)", client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/"), "next")

    for where, body, kind in bodies:
        assert_no_draw_truth(body, where)
        if kind != "wrong answer":
            assert EXPLANATION not in body, f"explanation in {where} before a wrong answer"
        if kind in ("page", "next"):
            assert '"correct"' not in body and "correct" not in body.lower(), where


def test_nothing_tells_the_compare_truth_apart(requester, labeler):
    count = 16
    audience = audience_services.audience_create(
        owner=requester, name="Duck judges", min_tasks=count, max_tasks=count, target_accuracy=0.5
    )
    truth_of = {}
    for index in range(count):
        good, bad = factories.url(f"duck-{index}"), factories.url(f"goose-{index}")
        audience_services.example_add_compare(
            audience=audience,
            owner=requester,
            instruction="Which one is a duck?",
            datapoint=[good, bad],
            truth=good,
            context=f"Pond {index}",
            explanation=EXPLANATION,
        )
        truth_of[frozenset((good, bad))] = good
    client = logged_in(labeler)
    base = f"/api/labeler/audiences/{audience.public_id}/qualification"
    pages = [client.get("/"), client.get(f"/audiences/{audience.public_id}/qualify/")]
    state = client.post(f"{base}/next/").json()
    payloads = [json.dumps(state)]
    positions = []
    while state["task"]:
        items = state["task"]["items"]
        assert len(items) == 2 and set(items[0]) == set(items[1])
        assert items[0]["type"] == items[1]["type"] == "image"
        truth = truth_of[frozenset(item["value"] for item in items)]
        positions.append([item["value"] for item in items].index(truth))
        raw = client.post(
            f"{base}/answer/",
            {"task_id": state["task"]["id"], "response": {"choice": truth}},
            content_type="application/json",
        )
        state = raw.json()
        assert state["correct"] is True and state["explanation"] == ""
        payloads.append(json.dumps({k: v for k, v in state.items() if k != "correct"}))
        pages.append(client.get(f"/audiences/{audience.public_id}/qualify/"))
    assert state["status"] == "graduated" and len(positions) == count
    # The server shuffles: the truth is first sometimes and second sometimes (p of a fluke: 2 / 2**16).
    assert set(positions) == {0, 1}, positions
    for body in payloads + [text(page) for page in pages]:
        assert "truth" not in body.lower() and "correct" not in body.lower() and EXPLANATION not in body
        assert "qex_" not in body
