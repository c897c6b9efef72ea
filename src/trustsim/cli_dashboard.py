"""``trustsim dashboard``: serve the live dashboard (a Solara app) on this machine.

Everything the page loads comes from the local server: Solara's front-end assets are
served from the ``solara-assets`` package (Solara's asset proxy), fonts included, and
the settings below switch off what would reach another host (telemetry, the version
check, fetching a missing asset from a CDN). See ``docs/dashboard.md``.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import threading
import time
import warnings
import webbrowser
from typing import Annotated

import typer

from trustsim.terminal import console, fail

APP = "trustsim.dashboard.app"
"""The Solara app module (its ``Page`` component)."""

SOLARA_SETTINGS = {
    "SOLARA_APP": APP,
    "SOLARA_KERNEL_CULL_TIMEOUT": "5m",  # a session whose page vanished without closing stops after 5 minutes
    "SOLARA_MODE": "production",  # no version check (an iframe to solara.dev) in the page
    "SOLARA_ASSETS_PROXY": "True",  # front-end assets from this server, out of solara-assets
    "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",  # an asset missing locally fails at once instead of being fetched
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_THEME_SHOW_BANNER": "False",
    "SOLARA_THEME_TITLE": "trustsim dashboard",
}
"""Environment for the Solara server: set before Solara is imported (it reads them once)."""


def configure_environment() -> None:
    """Put :data:`SOLARA_SETTINGS` in the environment (before Solara is first imported).

    A setting the user exported wins, except ``SOLARA_APP``: the server serves this dashboard.
    """
    for name, value in SOLARA_SETTINGS.items():
        os.environ.setdefault(name, value)
    os.environ["SOLARA_APP"] = APP


def exposure_warning(host: str) -> str | None:
    """A one-line warning when ``host`` lets other machines in (None for a loopback address)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (f"warning: --host {host} lets anyone who can reach it read files on this machine (through a "
            "scenario's network.path or extends) and write run directories here")  # fmt: skip


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (None if it can)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        return f"--host {host}: not an address of this machine ({getattr(err, 'strerror', None) or err})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return f"--port {port}: already in use on {host}; choose another port"
            return f"cannot listen on {host}:{port} ({err.strerror or err})"
    return None


def serve(host: str, port: int, open_browser: bool) -> None:
    """Run the Solara server for the dashboard until Ctrl-C."""
    configure_environment()
    import uvicorn

    # Solara warns on every page load that a plain-http, non-"localhost" host gets a samesite=lax cookie: as meant.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https", category=UserWarning)

    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    if open_browser:
        threading.Thread(target=_open_when_ready, args=(server, url), daemon=True).start()
    console.print(f"trustsim dashboard at {url} (Ctrl-C stops it)", highlight=False)
    server.run()


def _open_when_ready(server: object, url: str) -> None:
    """Open the page in the user's browser once the server accepts connections."""
    deadline = time.monotonic() + 60
    while not getattr(server, "started", False) and time.monotonic() < deadline:
        time.sleep(0.1)
    if getattr(server, "started", False):
        webbrowser.open(url)


def dashboard(
    host: Annotated[str, typer.Option(help="address to listen on (keep 127.0.0.1 unless you mean to share it)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8765,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="do not open a browser window")] = False,
) -> None:
    """Open the live dashboard: pick a scenario, move the policy levers, watch a run day by day.

    A local web app (Solara); it needs no internet connection. Ctrl-C stops it.
    """
    problem = port_problem(host, port)
    if problem is not None:
        fail(problem)
    warning = exposure_warning(host)
    if warning is not None:
        console.print(warning, highlight=False, style="yellow")
    with contextlib.suppress(KeyboardInterrupt):
        serve(host, port, open_browser=not no_browser)


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to the ``trustsim`` command line."""
    app.command("dashboard")(dashboard)
