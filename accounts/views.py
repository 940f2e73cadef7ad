"""A signed-in user changes their own password (staff and doctors had no page for it; administrators
had only the admin site's)."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from . import audit
from .lockout import BUSY_RETRY_SECONDS, LoginBusy, login_wait_seconds, one_try_at_a_time, wait_phrase
from .models import AuditEvent


class PasswordChange(auth_views.PasswordChangeView):
    """Django's view (old password, the new one twice, the project's password validators; the session
    kept), with the change audited. A wrong old password is a failed login (audited, object type
    password) and counts toward the login lockout, so a borrowed session cannot guess it freely."""

    success_url = reverse_lazy("password-change-done")

    def post(self, request, *args, **kwargs):
        username, ip = request.user.username, audit.client_ip(request)
        try:
            # one check at a time, as the login's: sent at once, 8 tries had all passed the wait before any wrong one
            # was counted (7 guesses where 2 are let through, and the right one among them changed the password)
            with one_try_at_a_time(username, ip):
                wait = login_wait_seconds(username=username, ip=ip)
                if not wait:
                    return super().post(request, *args, **kwargs)
        except LoginBusy:
            wait = BUSY_RETRY_SECONDS
        form = self.get_form()
        message = f"Too many wrong passwords. Try again in {wait_phrase(wait)}."
        response = self.render_to_response(self.get_context_data(form=form, lockout_message=message))
        response.status_code = 429
        response["Retry-After"] = str(wait)
        return response

    def form_invalid(self, form):
        if "old_password" in form.errors:
            audit.record(
                self.request,
                AuditEvent.Action.LOGIN_FAILED,
                username=self.request.user.username,
                object_type="password",
            )
        response = super().form_invalid(form)
        response.status_code = 400  # as every form of the project answers a refused submission
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(self.request, AuditEvent.Action.UPDATE, user=self.request.user, object_type="password")
        return response
