from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "fhirserver.subscriptions"
    label = "subscriptions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from fhirserver import jobs
        from fhirserver.storage import repository
        from fhirserver.subscriptions import delivery, matching, observer, topics

        repository.observe_writes(observer.record_writes)  # events in the write's own transaction
        jobs.register(matching.KIND, matching.run, threads=1)  # one matcher: event numbers in sequence
        jobs.register(delivery.KIND, delivery.run, threads=int(self.settings()["DELIVERY_THREADS"]))
        post_migrate.connect(topics.store_topics, sender=self)  # the shipped topics as Basic resources

    @staticmethod
    def settings() -> dict:
        from django.conf import settings

        return settings.SUBSCRIPTIONS
