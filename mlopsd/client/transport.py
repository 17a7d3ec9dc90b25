"""The client's plumbing: finding a home's daemon, one keep-alive HTTP connection, turning
error replies into `ApiError` and listings into pages. The calls themselves live in one
module per area of the API (`*_calls.py`), joined into `Client`."""

from __future__ import annotations

import getpass
import os
from contextlib import AbstractContextManager
from typing import Any, Self, TypeVar

import httpx
import orjson
from pydantic import BaseModel

from mlopsd.client.errors import ApiError, BadPathName, MlopsError
from mlopsd.client.pages import PagedList
from mlopsd.home import Home, resolve_home

Model = TypeVar("Model", bound=BaseModel)


class DaemonNotRunning(MlopsError):
    def __init__(self, home: Home, detail: str = "") -> None:
        self.home = home
        super().__init__(
            f"no daemon is running for {home.root}; start it with `mlopsd --home {home.root}`"
            + (f" ({detail})" if detail else "")
        )


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


TOKEN_ENV = "MLOPS_TOKEN"


def locate(home: Home) -> tuple[str, str | None]:
    """The base URL of the home's daemon (from run/daemon.json) and the token to send:
    $MLOPS_TOKEN when set (one made with `mlops tokens create`), else the home's own."""
    try:
        info = orjson.loads(home.daemon_json.read_bytes())
    except FileNotFoundError:
        raise DaemonNotRunning(home) from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DaemonNotRunning(home, f"unreadable {home.daemon_json}: {exc}") from None
    host = info.get("host", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    token = os.environ.get(TOKEN_ENV) or None  # a token of one's own, with its role
    if token is None:
        try:
            token = home.read_token()
        except OSError:
            token = None
    return f"http://{host}:{info['port']}", token


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        actor: str | None = None,
        timeout: float = 30.0,
        home: Home | None = None,
    ) -> None:
        headers = {"X-Mlops-Actor": actor or default_actor()}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.home = home
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    @classmethod
    def from_home(cls, home: str | os.PathLike[str] | Home | None = None, **kwargs: Any
                  ) -> Self:
        """A client for the daemon of `home` (default: $MLOPS_HOME or ./mlops-home)."""
        h = home if isinstance(home, Home) else resolve_home(home)
        base_url, token = locate(h)
        return cls(base_url, token=token, home=h, **kwargs)

    def rediscover(self) -> bool:
        """Read the home's daemon.json again (a restarted daemon may listen on another
        port); True when the address changed. Without a home, nothing to read."""
        if self.home is None:
            return False
        base_url, token = locate(self.home)
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        if base_url == self.base_url:
            return False
        self.base_url = base_url
        self._http.base_url = httpx.URL(base_url)
        return True

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- requests ------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._response(method, path, **kwargs)
        return orjson.loads(response.content) if response.content else None

    def _response(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "json" in kwargs:  # orjson: several times faster than the stdlib on big batches
            kwargs["content"] = orjson.dumps(kwargs.pop("json"))
            kwargs["headers"] = {**kwargs.get("headers", {}),
                                 "content-type": "application/json"}
        try:
            response = self._http.request(method, checked_path(path), **kwargs)
        except httpx.ConnectError as exc:
            raise self.unreachable(exc) from exc
        except httpx.HTTPError as exc:
            raise MlopsError(f"{method} {path} failed: {exc}") from exc
        if response.status_code >= 400:
            raise api_error(response)
        return response

    def stream(self, method: str, path: str, **kwargs: Any
               ) -> AbstractContextManager[httpx.Response]:
        """A response read as it arrives (the caller checks its status)."""
        return self._http.stream(method, checked_path(path), **kwargs)

    def unreachable(self, exc: Exception) -> MlopsError:
        if self.home is not None:
            return DaemonNotRunning(self.home, f"nothing answers at {self.base_url}")
        return MlopsError(f"cannot reach the daemon at {self.base_url}: {exc}")

    def _one(self, model: type[Model], method: str, path: str, **kwargs: Any) -> Model:
        return model.model_validate(self._request(method, path, **kwargs))

    def _many(self, model: type[Model], path: str, params: dict[str, Any] | None = None
              ) -> list[Model]:
        return [model.model_validate(item)
                for item in self._request("GET", path, params=clean(params or {}))]

    def _page(self, model: type[Model], path: str, params: dict[str, Any]) -> PagedList[Model]:
        """One page of a listing (see `mlopsd.client.pages`)."""
        body = self._request("GET", path, params=clean(params))
        return PagedList([model.model_validate(item) for item in body["items"]], body["next"])


_CHANGES_A_PATH = frozenset("?#%\\")
"""Characters that would end a path or change its meaning if a name held them."""


def checked_path(path: str) -> str:
    """The calls put names and ids into paths as they are (`/api/v1/models/{name}`): a part
    that would make the path another one ('riders?x=1' asks for 'riders', '..' climbs) is
    refused here, naming it, for every call alike."""
    for part in path.split("/")[1:]:
        if part in ("", ".", "..") or not part.isprintable() or not _CHANGES_A_PATH.isdisjoint(
                part):
            shown = "an empty name" if not part else repr(part)
            raise BadPathName(f"{shown} cannot be a name or id: names hold no '?', '#', '%', "
                              "'\\' or control characters and are not '.' or '..'")
    return path


def clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def api_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()["error"]
        return ApiError(response.status_code, body.get("code", "error"), body.get("message", ""),
                        body.get("field"))
    except (ValueError, KeyError, TypeError):
        message = response.text[:500] or response.reason_phrase
        return ApiError(response.status_code, "error", message)
