"""Login pages with a limit on failed attempts (``core.throttles.LoginThrottle``).

Both ways in by password are limited: the site's login page
(``/accounts/login/``, routed before ``django.contrib.auth.urls``) and the
admin's (``/admin/login/``, routed before the admin). Past the limit the
form is shown again with a "too many failed attempts" message, status 429
and a ``Retry-After`` header, and the password is not even checked. Each
attempt is counted before its password is checked, so concurrent guesses
cannot slip past the limit.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from core.throttles import LoginThrottle

TOO_MANY_ATTEMPTS = "Too many failed login attempts. Try again in %(minutes)s minute(s)."


class ThrottledLoginFormMixin:
    """Counts the attempt before the password is checked (refusing it past
    the limit) and clears the count on success."""

    throttled_for = 0  # seconds until attempts are taken again, when refused

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        throttle = LoginThrottle(self.request, username)
        # Only an attempt whose password will be checked is counted; one
        # that checks nothing is still refused while the limit holds.
        checks_password = bool(username and self.cleaned_data.get("password"))
        self.throttled_for = throttle.attempt() if checks_password else throttle.blocked_for()
        if self.throttled_for:
            raise ValidationError(TOO_MANY_ATTEMPTS, code="throttled", params={"minutes": -(-self.throttled_for // 60)})
        cleaned = super().clean()
        throttle.succeeded()
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginFormMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginFormMixin, AdminAuthenticationForm):
    pass


def _mark_throttled(response, form):
    if form is not None and getattr(form, "throttled_for", 0):
        response.status_code = 429
        response["Retry-After"] = str(form.throttled_for)
    return response


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        return _mark_throttled(super().form_invalid(form), form)


# The admin's own login view builds its form from this hook.
admin.site.login_form = ThrottledAdminAuthenticationForm


def admin_login(request, extra_context=None):
    """The admin's login view, with a 429 when the limit refused the attempt."""
    response = admin.site.login(request, extra_context)
    context = getattr(response, "context_data", None) or {}
    return _mark_throttled(response, context.get("form"))
