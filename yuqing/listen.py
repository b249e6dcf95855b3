"""Where the dashboard listens: ``--host`` / ``--port`` of ``yuqing run``, ``yuqing api`` and ``yuqing demo``.

The dashboard speaks plain HTTP; docs/security.md puts TLS in a reverse proxy in front of it, which reaches yuqing
over the loopback interface. So the default, and anything on loopback, is accepted as is, and a non-loopback
address (``0.0.0.0``, a LAN address) is refused unless the operator says ``--allow-remote``: session cookies and
sign-in passwords would otherwise cross the network in clear text without anyone having decided that.
"""

from __future__ import annotations

import ipaddress

from yuqing.errors import ConfigError
from yuqing.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual names of the local host."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def listen_settings(settings: Settings, *, host: str | None, port: int | None, allow_remote: bool) -> Settings:
    """``settings`` with the command line's host and port (else ``YUQING_API_HOST`` / ``YUQING_API_PORT``);
    a ``ConfigError`` when the host is not loopback and ``allow_remote`` is False."""
    chosen_host = host if host is not None else settings.api_host
    chosen_port = port if port is not None else settings.api_port
    if not is_loopback(chosen_host) and not allow_remote:
        raise ConfigError("--host / YUQING_API_HOST", [("", (
            f"仪表盘将监听非本机地址 {chosen_host}：会话 Cookie 和登录密码会以明文 HTTP 经过网络。"
            "请让仪表盘只监听 127.0.0.1，由终止 TLS 的反向代理对外提供服务（见 docs/security.md）；"
            "确需直接对外监听时加 --allow-remote"))])
    return settings.model_copy(update={"api_host": chosen_host, "api_port": chosen_port})


def dashboard_url(host: str, port: int) -> str:
    """The address to open in a browser: a wildcard bind is reached on 127.0.0.1 from this machine."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"
