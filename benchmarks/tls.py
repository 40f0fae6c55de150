"""A local HTTPS endpoint in front of a plain-HTTP server, with a throwaway self-signed CA.

:func:`make_ca` writes a CA certificate (give it to clients through ``SSL_CERT_FILE``)
and a server certificate for ``127.0.0.1``/``localhost`` signed by it;
:class:`TLSProxy` terminates TLS on a free loopback port and forwards the bytes to the
upstream server (like a TLS load balancer in front of the SuperTokens core).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA certificate (PEM): what SSL_CERT_FILE names
    cert: Path  # the server's certificate (PEM), signed by the CA
    key: Path  # the server's private key (PEM)


def make_ca(directory: Path, *, name: str = "st-twofactor test CA") -> Certificates:
    """A new CA and a server certificate for 127.0.0.1 and localhost, written to ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@contextlib.contextmanager
def https_endpoints(cores: dict[bool, Any]) -> Iterator[dict[bool, Callable[[str], str]]]:
    """A TLS endpoint in front of each core; ``SSL_CERT_FILE`` names a bundle that trusts it.

    The bundle is certifi's CA bundle plus the throwaway CA, so a client that builds a
    TLS context loads as many certificates as it would by default. ``REQUESTS_CA_BUNDLE``
    names it too: the SDK fetches the core's JWKS with ``requests``, which does not read
    ``SSL_CERT_FILE``. Yields, per key of ``cores``, a function from an app's plain-HTTP
    connection URI to the same app over HTTPS.
    """
    import certifi

    with tempfile.TemporaryDirectory(prefix="st2fa-tls-") as directory:
        certificates = make_ca(Path(directory))
        bundle = Path(directory) / "bundle.pem"
        bundle.write_bytes(Path(certifi.where()).read_bytes() + certificates.ca.read_bytes())
        saved = {name: os.environ.get(name) for name in _CA_VARIABLES}
        os.environ.update(dict.fromkeys(_CA_VARIABLES, str(bundle)))
        try:
            with contextlib.ExitStack() as stack:
                proxies = {
                    key: stack.enter_context(TLSProxy(core.url, certificates))
                    for key, core in cores.items()
                }
                yield {key: proxy.url_for for key, proxy in proxies.items()}
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


_CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


class TLSProxy:
    """HTTPS on ``https://127.0.0.1:<port>``, forwarded as plain bytes to ``upstream``.

    Without ``certificates`` it forwards plain HTTP (``http://``): a way to count the
    connections a client opens (:attr:`connections`).

    The path of ``upstream`` (e.g. a core app's ``/appid-x``) is kept: :meth:`url_for`
    maps an upstream URL to the same URL through the proxy. Runs its own event loop in
    a daemon thread; use it as a context manager.
    """

    def __init__(self, upstream: str, certificates: Certificates | None) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._context: ssl.SSLContext | None = None
        if certificates is not None:
            self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._context.load_cert_chain(certificates.cert, certificates.key)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tls-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0
        self.connections = 0

    def url_for(self, upstream_url: str) -> str:
        path = urlsplit(upstream_url).path
        scheme = "http" if self._context is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> TLSProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the TLS proxy did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._context)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
