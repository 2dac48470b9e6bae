"""The authorization server's pages and endpoints, thin over django-oauth-toolkit and services.

/oauth2/authorize  consent + patient picker (SMART checks: aud, S256, launch)   SmartAuthorizationView
/oauth2/token      DOT's token endpoint (invalid_client is 400 unless Basic auth was tried)
/oauth2/introspect RFC 7662 with the SMART context (patient, fhirUser)
/oauth2/launch     mints an EHR launch for the signed-in user (POST needs the session's CSRF token)
/oauth2/login      sign-in, failed attempts throttled per username and address
/fhir/.well-known/smart-configuration
"""
from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.forms import AllowForm
from oauth2_provider.views import AuthorizationView, IntrospectTokenView, TokenView

from fhirserver.api.http import base_url
from fhirserver.security import discovery, ratelimit, services
from fhirserver.security.scopes import ScopeError, parse_scopes


def smart_configuration(request: HttpRequest) -> HttpResponse:
    response = JsonResponse(discovery.smart_configuration(base_url(request)))
    response["Cache-Control"] = "public, max-age=3600"
    return response


# --- authorize: consent, patient picker, SMART checks --------------------------------------------
class SmartAllowForm(AllowForm):
    aud = forms.CharField(required=False, widget=forms.HiddenInput())
    launch = forms.CharField(required=False, widget=forms.HiddenInput())
    patient = forms.CharField(required=False)


class SmartAuthorizationView(AuthorizationView):
    template_name = "security/authorize.html"
    form_class = SmartAllowForm

    def dispatch(self, request, *args, **kwargs):
        """RFC 6749 4.1.2.1: the request is checked before anyone is asked to sign in, so a bad client or
        redirect_uri gets an error page (never a redirect) and the app's other mistakes go back to it."""
        self.oauth2_data = {}
        if request.method == "GET":
            try:
                _, credentials = self.validate_authorization_request(request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=None)
            problem = smart_problem(request, request.GET.get("aud"), credentials, request.GET.get("launch"))
            if problem:
                return refuse(credentials, problem)
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        initial = super().get_initial()
        initial.update(aud=self.request.GET.get("aud", ""), launch=self.request.GET.get("launch", ""))
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        scopes = self.oauth2_data.get("scopes") or self.request.POST.get("scope", "").split()
        launch = self.request.GET.get("launch") or self.request.POST.get("launch")
        context["needs_patient"] = "launch/patient" in scopes and not launch
        context["problem"] = self.request.GET.get("problem", "")
        if context["needs_patient"]:
            context["patients"] = services.patient_choices(self.request.GET.get("q", ""))
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        credentials = {
            "redirect_uri": data["redirect_uri"],
            "state": data.get("state"),
            "code_challenge_method": data.get("code_challenge_method"),
            "code_challenge": data.get("code_challenge"),
            "scope": data.get("scope", ""),
        }
        problem = smart_problem(self.request, data.get("aud"), credentials, data.get("launch"))
        if problem:
            return refuse(credentials, problem)
        try:
            self.smart_context = services.launch_context_for(
                user=self.request.user, scopes=parse_scopes(data["scope"]), launch=data.get("launch") or None,
                patient=data.get("patient") or None, approved=bool(data.get("allow")))
        except services.LaunchError as error:
            form.add_error("patient", str(error))
            return self.form_invalid(form)
        return super().form_valid(form)

    def form_invalid(self, form):
        """Back to the same authorization request, with the reason shown above the picker."""
        fields = ("client_id", "redirect_uri", "scope", "state", "response_type", "code_challenge",
                  "code_challenge_method", "nonce", "aud", "launch")
        query = {k: form.data[k] for k in fields if form.data.get(k)}
        query["problem"] = "; ".join(e for errors in form.errors.values() for e in errors)
        return HttpResponseRedirect(f"{self.request.path}?{urlencode(query)}")

    def create_authorization_response(self, request, scopes, credentials, allow):
        credentials["smart_context"] = getattr(self, "smart_context", None)
        return super().create_authorization_response(request, scopes, credentials, allow)


def smart_problem(request: HttpRequest, aud: str | None, credentials: dict, launch: str | None) -> str | None:
    """What SMART forbids in an authorization request that OAuth alone would let through."""
    expected = base_url(request)
    if (aud or "").rstrip("/") != expected:
        return f"aud must be this FHIR server's base URL ({expected})"
    # A public client must use PKCE (the validator's is_pkce_required); whoever sends it uses S256.
    if credentials.get("code_challenge") and credentials.get("code_challenge_method") != "S256":
        return "PKCE with code_challenge_method=S256 is required (plain is not accepted)"
    try:
        scopes = parse_scopes(
            " ".join(credentials["scope"])
            if isinstance(credentials.get("scope"), list)
            else credentials.get("scope") or ""
        )
    except ScopeError as error:
        return str(error)  # oauthlib's validate_scopes refused it already (invalid_scope); kept for the POST
    if launch and not services.launch_exists(launch):
        return "the launch value is unknown or has expired"
    if "launch" in scopes.others and not launch:
        return "scope 'launch' needs the launch parameter the EHR sent"
    return None


def refuse(credentials: dict, description: str) -> HttpResponse:
    """RFC 6749 4.1.2.1: the client and redirect_uri are valid, so the error goes back to the app."""
    query = {"error": "invalid_request", "error_description": description}
    if credentials.get("state"):
        query["state"] = credentials["state"]
    target = credentials["redirect_uri"]
    return HttpResponseRedirect(f"{target}{'&' if '?' in target else '?'}{urlencode(query)}")


# --- token and introspection -----------------------------------------------------------------------
@method_decorator(csrf_exempt, name="dispatch")
class SmartTokenView(TokenView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 401 and not request.META.get("HTTP_AUTHORIZATION"):
            response.status_code = 400  # RFC 6749 5.2: 401 only when the client tried HTTP authentication
            if "WWW-Authenticate" in response:
                del response["WWW-Authenticate"]
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response


@method_decorator(csrf_exempt, name="dispatch")
class SmartIntrospectView(IntrospectTokenView):
    def get(self, request, *args, **kwargs):
        return JsonResponse(services.introspect(request.GET.get("token")), status=200)

    def post(self, request, *args, **kwargs):
        return JsonResponse(services.introspect(request.POST.get("token")), status=200)


# --- sign-in ---------------------------------------------------------------------------------------
class ThrottledLoginView(LoginView):
    """Django's sign-in page, with failed attempts counted per username and per address in the shared
    counters (LOGIN_PER_USER, LOGIN_PER_IP): past the limit even the right password waits (429)."""

    template_name = "security/login.html"

    def post(self, request, *args, **kwargs):
        wait = _login_over_limit(request, peek=True)
        if wait:
            response = self.render_to_response(self.get_context_data(form=self.get_form_class()(request),
                                                                     throttled=wait))
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        _login_over_limit(self.request, peek=False)
        return super().form_invalid(form)


def _login_over_limit(request: HttpRequest, *, peek: bool) -> int | None:
    username = request.POST.get("username", "").strip().lower()[:150]
    by_user = ratelimit.hit("LOGIN_PER_USER", username, peek=peek)
    by_address = ratelimit.hit("LOGIN_PER_IP", ratelimit.client_address(request), peek=peek)
    return by_user or by_address


# --- EHR launch ------------------------------------------------------------------------------------
@login_required
def launch(request: HttpRequest) -> HttpResponse:
    """POST patient[, encounter] -> {"launch", "iss"}; GET with client_id opens the app's launch URL."""
    params = request.POST if request.method == "POST" else request.GET
    try:
        context = services.launch_create(
            user=request.user, patient=params.get("patient", ""), encounter=params.get("encounter", "")
        )
    except services.LaunchError as error:
        return JsonResponse({"error": "invalid_request", "error_description": str(error)}, status=400)
    iss = base_url(request)
    if request.method == "GET" and params.get("client_id"):
        target = services.launch_uri(params["client_id"])
        if not target:
            return JsonResponse(
                {"error": "invalid_request", "error_description": "the client registered no launch URI"}, status=400
            )
        return HttpResponseRedirect(
            f"{target}{'&' if '?' in target else '?'}{urlencode({'iss': iss, 'launch': context.launch})}"
        )
    return JsonResponse({"launch": context.launch, "iss": iss, "expires_in": services.LAUNCH_SECONDS})
