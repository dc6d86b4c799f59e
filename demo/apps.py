from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo: generated images, seeded data and simulated labelers
    (``manage.py seed_demo``, ``manage.py simulate_labelers``)."""

    name = "demo"
