"""Routes of the authorization server (/oauth2/...) and the SMART route under /fhir (the audit log's is
fhirserver/api/urls.py).

The app namespace is DOT's ("oauth2_provider") because DOT reverses its own OIDC routes by name.
"""
from django.contrib.auth import views as auth_views
from django.urls import path
from oauth2_provider import views as dot

from fhirserver.security import views

app_name = "oauth2_provider"

oauth2_patterns = [
    path("authorize", views.SmartAuthorizationView.as_view(), name="authorize"),
    path("token", views.SmartTokenView.as_view(), name="token"),
    path("revoke", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect", views.SmartIntrospectView.as_view(), name="introspect"),
    path("launch", views.launch, name="launch"),
    path("login", views.ThrottledLoginView.as_view(), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path(
        ".well-known/openid-configuration", dot.ConnectDiscoveryInfoView.as_view(), name="oidc-connect-discovery-info"
    ),
    path(".well-known/jwks.json", dot.JwksInfoView.as_view(), name="jwks-info"),
    path("userinfo", dot.UserInfoView.as_view(), name="user-info"),
]

# Matched before the FHIR catch-all in fhirserver/urls.py.
fhir_patterns = [
    path("fhir/.well-known/smart-configuration", views.smart_configuration, name="smart-configuration"),
]
