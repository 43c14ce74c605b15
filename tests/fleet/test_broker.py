"""The embedded default broker (fleet/broker.py) hands a worker only whole messages."""

import threading
import time
from queue import Empty

from kombu import Connection

from fleet import broker

SENT = 300


def _connection(folder, transport=broker.Transport):
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder),
        "store_processed": False,
    }
    return Connection("filesystem://", transport=transport, transport_options=options)


def test_the_app_uses_the_atomic_file_system_transport(settings):
    with Connection("filesystem://") as connection:
        assert isinstance(connection.transport, broker.Transport)


def test_a_worker_never_takes_a_message_still_being_written(tmp_path):
    """A worker looks into the folder again and again while another process sends: every message it takes is whole,
    none is lost. (kombu's own transport fails this: its worker takes files still being written.)"""
    body = "x" * 1_000_000  # large enough that writing one takes a while
    received, errors = [], []
    sending = threading.Event()

    def send():
        with _connection(tmp_path) as connection:
            channel = connection.default_channel
            sending.set()
            for number in range(SENT):
                channel._put("race", {"number": number, "body": body})

    def take():
        with _connection(tmp_path) as connection:
            channel = connection.default_channel
            sending.wait()
            deadline = time.monotonic() + 120
            while len(received) < SENT and time.monotonic() < deadline:
                try:
                    message = channel._get("race")  # as the worker's poll does, without its pause
                except Empty:
                    continue
                except Exception as exc:  # what the worker died of
                    errors.append(repr(exc)[:200])
                    return
                received.append(message["number"])

    threads = [threading.Thread(target=send), threading.Thread(target=take)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert sorted(received) == list(range(SENT))
