from django.contrib.auth import views as auth_views
from django.urls import path

from . import two_factor, views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChange.as_view(), name="password-change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password-change-done"),
    path("two-factor/", two_factor.verify, name="two-factor"),
    path("two-factor/setup/", two_factor.setup, name="two-factor-setup"),
]
