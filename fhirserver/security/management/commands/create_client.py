"""python manage.py create_client --name NAME --scopes "system/*.read" [--grant ...] [--redirect-uri URI]
[--public] [--jwks FILE]"""

import json

from django.core.management.base import BaseCommand, CommandError

from fhirserver.security import services
from fhirserver.security.scopes import ScopeError


class Command(BaseCommand):
    help = "Register an OAuth client (SMART app or backend service); prints its id and secret as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", required=True, help="space-separated scopes the client may request")
        parser.add_argument("--grant", choices=sorted(services.GRANTS), default="client_credentials")
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        parser.add_argument("--public", action="store_true", help="a public client (no secret; PKCE only)")
        parser.add_argument("--jwks", help="file with the client's public JWKS (private_key_jwt)")
        parser.add_argument("--jwks-uri", default="", help="URL where the client publishes its JWKS")
        parser.add_argument("--launch-uri", default="", help="the app's EHR launch URL")

    def handle(self, *args, **options):
        try:
            jwks = services.read_jwks(options["jwks"]) if options["jwks"] else None
            client = services.client_create(
                name=options["name"],
                scopes=options["scopes"],
                grant=options["grant"],
                redirect_uris=options["redirect_uris"],
                public=options["public"],
                jwks=jwks,
                jwks_uri=options["jwks_uri"],
                launch_uri=options["launch_uri"],
            )
        except (ValueError, ScopeError, OSError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(json.dumps(client, indent=2))
