from rest_framework.permissions import SAFE_METHODS, BasePermission

from .models import ApiToken


class IsClinicMember(BasePermission):
    """Every API request acts within the user's clinic; a user without one has nothing to see."""

    message = "Your account belongs to no clinic."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.clinic_id)


class CanReviewOrReadOnly(BasePermission):
    """A clinical decision (a review, a signature, a move, a beat correction) is a doctor's or an administrator's,
    and through a token only one its user or the installation's administrator made (``ApiToken.decides``)."""

    message = "Only doctors and administrators review diagnoses."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        if not request.user.can_review:
            return False
        token = request.auth
        if isinstance(token, ApiToken) and not token.decides:
            self.message = (
                f"This token was made by a clinic's administrator for {request.user.username}: it reads and uploads "
                "as them but does not make clinical decisions in their name. A token that does is made by its user "
                "or by the installation's administrator (a superuser, or manage.py create_api_token)."
            )
            return False
        return True


class CanSignOrReadOnly(CanReviewOrReadOnly):
    message = "Only doctors and administrators sign interpretations."


class CanMoveOrReadOnly(CanReviewOrReadOnly):
    message = "Only doctors and administrators move a recording to another patient."


class IsAdminOrReadOnly(BasePermission):
    message = (
        "Only the installation's administrators (superusers) create or activate model versions: "
        "they serve every clinic."
    )

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or request.user.manages_models


class CanCorrectBeatsOrReadOnly(CanReviewOrReadOnly):
    message = "Only doctors and administrators correct beat classes."
