import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.base")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after the application set Django up

if settings.SUBSCRIPTIONS["BACKGROUND"]:  # the subscriptions sweep and websocket server of this web process
    from fhirserver.subscriptions import scheduler

    scheduler.start()
