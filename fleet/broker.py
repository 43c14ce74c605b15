"""The embedded default broker: kombu's file-system transport, each message written whole before a worker sees it.

kombu writes a message file in place, so a worker listing the folder at that moment can take the file while it is
still empty and die on the JSON it cannot read (celery/kombu#1551): `make run` then stopped within minutes. Here a
message is written under a name no queue matches and renamed into place, which is atomic on one file system.
Redis and RabbitMQ (CELERY_BROKER_URL) are untouched.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # The name kombu gives, so that workers take messages in the order they were sent.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.partial"  # "….celery.msg.partial" is no queue's name: _get passes it by
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES["filesystem"] = "fleet.broker:Transport"
