from django.apps import AppConfig


class ConnectConfig(AppConfig):
    name = "connect"

    def ready(self):
        from connect.webhook_events import OUTBOX
        from fleet.outbox import outbox_register

        outbox_register(OUTBOX)
