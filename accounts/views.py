"""A signed-in user changes their own password (staff and doctors had no page for it; administrators
had only the admin site's)."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from . import audit
from .models import AuditEvent


class PasswordChange(auth_views.PasswordChangeView):
    """Django's view (old password, the new one twice, the project's password validators; the session
    kept), with the change audited."""

    success_url = reverse_lazy("password-change-done")

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400  # as every form of the project answers a refused submission
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(self.request, AuditEvent.Action.UPDATE, user=self.request.user, object_type="password")
        return response
