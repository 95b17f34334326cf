"""Opening the console's websockets in tests: a logged-in session cookie and an allowed Origin."""

from channels.testing import WebsocketCommunicator
from django.test import Client

from controlplane.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1")


def cookie_for(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def connect(path: str, *headers: tuple[bytes, bytes]):
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, code = await communicator.connect()
    return communicator, connected, code
