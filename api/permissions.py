from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsClinicMember(BasePermission):
    """Every API request acts within the user's clinic; a user without one has nothing to see."""

    message = "Your account belongs to no clinic."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.clinic_id)


class CanReviewOrReadOnly(BasePermission):
    message = "Only doctors and administrators review diagnoses."

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or request.user.can_review


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
