"""``vidprov serve``: the HTTP API under uvicorn, and ``vidprov keys api-add`` for its keys."""

from __future__ import annotations

import copy
import ipaddress
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

import click

from vidprov.cli._util import PATH, OutputError, echo
from vidprov.errors import ConfigError

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addrs = {info[4][0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def check_listen(host: str, port: int) -> None:
    """Bind every address ``host`` names on ``port`` as uvicorn will (address reuse on, IPv6
    sockets IPv6-only), and let go at once: a port in use is one line, not uvicorn's log.

    Raises:
        ConfigError: ``host`` does not resolve, or ``host:port`` cannot be bound (in use, not
            an address of this machine, a privileged port).
    """
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in infos:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {shown} ({reason[:1].lower()}{reason[1:]})") from exc


def _log_config(level: str) -> dict[str, object]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    loggers = config["loggers"]
    assert isinstance(loggers, dict)
    loggers["vidprov"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (each runs its own jobs; they share the job store).",
)
@click.option(
    "--api-keys",
    "api_keys_file",
    type=PATH,
    help="API keys file (default: $VIDPROV_HOME/api_keys if present).",
)
@click.option("--max-upload-mb", type=float, help="Largest upload (default 512).")
@click.option("--max-duration", "max_duration_s", type=float, help="Longest clip, s (default 600).")
@click.option("--timeout", "request_timeout_s", type=float, help="Sync request wait, s (300).")
@click.option("--max-concurrent", type=int, help="Jobs run at once per worker (default 2).")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def serve(
    host: str,
    port: int,
    workers: int,
    api_keys_file: Path | None,
    max_upload_mb: float | None,
    max_duration_s: float | None,
    request_timeout_s: float | None,
    max_concurrent: int | None,
    log_level: str,
) -> None:
    """Run the HTTP API (OpenAPI at /docs) and the upload page (/).

    Without API keys the server is open, so it only listens on a loopback address.
    """
    import dataclasses

    import uvicorn

    from vidprov.api.auth import load_keyring
    from vidprov.api.protocol import HeaderDeadline
    from vidprov.api.settings import ApiSettings

    overrides = {
        "api_keys_file": api_keys_file,
        "max_upload_mb": max_upload_mb,
        "max_duration_s": max_duration_s,
        "request_timeout_s": request_timeout_s,
        "max_concurrent": max_concurrent,
    }
    settings = dataclasses.replace(
        ApiSettings.from_env(), **{k: v for k, v in overrides.items() if v is not None}
    )
    check_listen(host, port)  # before the keyring's warnings: one line if the port is taken
    keyring = load_keyring(settings.api_keys_file, settings.api_keys)
    if keyring.open and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without API keys: add keys with "
            "`vidprov keys api-add NAME --scope read` (or --api-keys FILE), or bind 127.0.0.1"
        )
    os.environ.update(settings.to_env())  # every worker process rebuilds the same settings
    # uvicorn stops the server on SIGINT and SIGTERM (letting running jobs finish), then raises
    # the signal again with the handler it found: this one, so a stopped server exits 0 (the
    # CLI's own handler would make it 143), and one that arrives before uvicorn has put in
    # its own handlers (while the app loads) still stops it. A hang-up stops it the same way:
    # uvicorn handles only those two in one process.
    signal.signal(signal.SIGTERM, _stopped)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, lambda signum, frame: signal.raise_signal(signal.SIGTERM))
    click.echo(f"vidprov API on http://{host}:{port}/ (docs at /docs)", err=True)
    uvicorn.run(
        "vidprov.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # the app logs one line per request, without query strings
        log_config=_log_config(log_level),
        log_level=log_level,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        server_header=False,
        http=HeaderDeadline,  # uvicorn waits for ever for a request's headers
    )


def _stopped(signum: int, frame: Any) -> None:
    raise SystemExit(0)


@click.command("api-add")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    type=click.Choice(["read", "generate"]),
    multiple=True,
    required=True,
    help="read (scan, verify, watermark detect, manifests and their lookups) and/or "
    "generate; repeatable.",
)
@click.option(
    "--file",
    "keys_file",
    type=PATH,
    help="Keys file (default: $VIDPROV_HOME/api_keys).",
)
def api_key_add(name: str, scopes: tuple[str, ...], keys_file: Path | None) -> None:
    """Create an API key NAME for `vidprov serve`; print it once (only its hash is kept)."""
    from vidprov.api.auth import KEYS_FILE, add_key, remove_key
    from vidprov.config import home_dir

    path = keys_file or home_dir() / KEYS_FILE
    token = add_key(path, name, tuple(dict.fromkeys(scopes)))
    try:
        echo(token)
    except OutputError:  # the token is shown only once: a key nobody saw must not stay
        remove_key(path, name)
        raise
    click.echo(f"added key {name!r} ({', '.join(dict.fromkeys(scopes))}) to {path}", err=True)


@click.command("api-remove")
@click.argument("name")
@click.option(
    "--file",
    "keys_file",
    type=PATH,
    help="Keys file (default: $VIDPROV_HOME/api_keys).",
)
def api_key_remove(name: str, keys_file: Path | None) -> None:
    """Remove the API key NAME (restart `vidprov serve` for it to take effect)."""
    from vidprov.api.auth import KEYS_FILE, remove_key
    from vidprov.config import home_dir

    path = keys_file or home_dir() / KEYS_FILE
    remove_key(path, name)
    click.echo(f"removed key {name!r} from {path}; a running server keeps it until restarted")
