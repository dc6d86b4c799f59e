from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        # The task feed listens for labelers dropped from an audience.
        from .feed import membership  # noqa: F401
