"""A small WebDriver BiDi client for Debian's Firefox ESR (the standard library only).

Playwright's ``firefox`` needs Playwright's own patched Firefox (a download), so the Firefox
browser test drives the distribution's ``firefox-esr`` through the WebDriver BiDi protocol
built into Firefox: ``firefox --headless --remote-debugging-port 0`` prints the address of
its WebSocket, :class:`Firefox` opens a session there and :class:`Tab` opens one page at a
time in a fresh user context (like a private window: nothing cached, no cookies). Every
request of a tab is intercepted: requests to ``http://127.0.0.1`` and ``data:`` (``blob:``,
``about:``) URLs continue, every other one is recorded and failed (nothing leaves the machine).

Only what the test needs: commands (:meth:`Firefox.command`), events by browsing context,
JavaScript evaluated to JSON (:meth:`Tab.evaluate`) and real pointer and key input
(:meth:`Tab.click`, :meth:`Tab.press`) through ``input.performActions``.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import queue
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

#: Preferences of the fresh profile: no first-run pages and no background traffic (updates,
#: telemetry, safe browsing, connectivity checks, remote settings) while the book is driven.
PREFS = {
    "app.update.disabledForTesting": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.safebrowsing.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.ping-centre.telemetry": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "network.prefetch-next": False,
    "services.settings.server": "http://127.0.0.1:9/none",
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "app.normandy.enabled": False,
}

#: The events a :class:`Tab` records (subscribed once for the session).
EVENTS = ["log.entryAdded", "network.beforeRequestSent", "network.responseCompleted",
          "network.fetchError"]

#: WebDriver's code points for the keys the test presses.
KEYS = {"ArrowLeft": "\ue012", "ArrowUp": "\ue013", "ArrowRight": "\ue014",
        "ArrowDown": "\ue015", "Home": "\ue011", "End": "\ue010", "Enter": "\ue007",
        "Escape": "\ue00c", "Tab": "\ue004"}


class BiDiError(RuntimeError):
    """A command the browser answered with an error."""


class WebSocket:
    """A WebSocket client for a local server (RFC 6455): text messages, no extensions."""

    def __init__(self, url: str, timeout: float = 10):
        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        self.file = self.sock.makefile("rb")
        status = self.file.readline()
        while self.file.readline() not in (b"\r\n", b""):  # the rest of the headers
            pass
        if b" 101 " not in status:
            raise ConnectionError(f"{url}: {status!r}")
        self.sock.settimeout(None)
        self.lock = threading.Lock()

    def _frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        head = struct.pack("!B", 0x80 | opcode)
        head += (struct.pack("!B", 0x80 | n) if n < 126 else
                 struct.pack("!BH", 0x80 | 126, n) if n < 1 << 16 else
                 struct.pack("!BQ", 0x80 | 127, n))
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        with self.lock:
            self.sock.sendall(head + mask + masked)

    def send(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def recv(self) -> str | None:
        """The next text message; None once the connection is closed."""
        message = b""
        while True:
            head = self.file.read(2)
            if len(head) < 2:
                return None
            opcode, n = head[0] & 0x0F, head[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.file.read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.file.read(8))[0]
            payload = self.file.read(n)  # a server does not mask its frames
            if opcode == 0x8:
                return None
            if opcode == 0x9:
                self._frame(0xA, payload)  # ping: pong
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if head[0] & 0x80:
                    return message.decode()

    def close(self) -> None:
        try:
            self._frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Firefox:
    """Headless Firefox with a fresh profile, one WebDriver BiDi session over a WebSocket.

    Events are read on a thread and handed to the handlers of :meth:`on` for their browsing
    context; handlers run on that thread, so they may :meth:`send` but not wait for answers.
    """

    def __init__(self, executable: str, timeout: float = 30):
        self.profile = tempfile.TemporaryDirectory(prefix="firefox-bidi-")
        profile = Path(self.profile.name)
        (profile / "user.js").write_text("".join(
            f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
        self.log = profile / "firefox.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [executable, "--headless", "--no-remote", "--profile", str(profile),
                 "--remote-debugging-port", "0"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"})
        self.timeout, self.ws = timeout, None
        self.ids = itertools.count(1)
        self.answers: dict[int, queue.Queue] = {}
        self.handlers: dict[tuple[str, str], object] = {}
        try:
            self.ws = WebSocket(self._address(timeout) + "/session")
            threading.Thread(target=self._read, daemon=True).start()
            self.version = self.command("session.new", capabilities={})[
                "capabilities"]["browserVersion"]
            self.command("session.subscribe", events=EVENTS)
        except BaseException:
            self.close()
            raise

    def _address(self, timeout: float) -> str:
        """The WebSocket address Firefox prints once its remote agent listens."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"WebDriver BiDi listening on (ws://\S+)", self.log_tail(None))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"Firefox did not start its WebDriver BiDi agent: {self.log_tail()}")

    def log_tail(self, n: int | None = 2000) -> str:
        """The end of Firefox's output (all of it for ``n=None``)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-n:] if n else text

    def _read(self) -> None:
        while (text := self.ws.recv()) is not None:
            message = json.loads(text)
            if "id" in message:
                answer = self.answers.get(message["id"])
                if answer:
                    answer.put(message)
            elif message.get("type") == "event":
                params = message["params"]
                context = params.get("context") or params.get("source", {}).get("context")
                handler = self.handlers.get((message["method"], context))
                if handler:
                    handler(params)
        for answer in list(self.answers.values()):
            answer.put({"type": "error", "error": "closed", "message": "connection closed"})

    def send(self, method: str, **params) -> int:
        """Send a command without waiting for its answer (what event handlers may do)."""
        number = next(self.ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        return number

    def command(self, method: str, timeout: float | None = None, **params) -> dict:
        """Send a command and wait for its result; :class:`BiDiError` if it failed."""
        number = next(self.ids)
        self.answers[number] = answer = queue.Queue()
        try:
            self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
            message = answer.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise TimeoutError(f"{method}: no answer in {timeout or self.timeout} s") from None
        finally:
            del self.answers[number]
        if message.get("type") == "error":
            raise BiDiError(f"{method}: {message['error']}: {message.get('message')}")
        return message["result"]

    def on(self, event: str, context: str, handler) -> None:
        """Call ``handler(params)`` for every ``event`` of one browsing context."""
        self.handlers[(event, context)] = handler

    def forget(self, context: str) -> None:
        """Drop the handlers of a closed browsing context."""
        for key in [k for k in self.handlers if k[1] == context]:
            del self.handlers[key]

    def close(self) -> None:
        """End the session, stop Firefox and remove its profile."""
        if self.ws:
            try:
                self.command("session.end", timeout=5)
            except (BiDiError, OSError, TimeoutError):
                pass
            self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.profile.cleanup()


def _local(url: str) -> bool:
    """Whether a request stays on this machine: the book's server, or data in the page."""
    parts = urlparse(url)
    return parts.scheme in ("data", "blob", "about") or (
        parts.scheme == "http" and parts.hostname == "127.0.0.1")


class Tab:
    """One page in a new tab of a new user context at one width, recording console errors,
    outside requests (failed: blocked), failed or missing local requests and local URLs."""

    def __init__(self, firefox: Firefox, url: str, width: int, height: int = 900):
        self.firefox = firefox
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.requested: list[str] = []
        self.pending: set[str] = set()
        self.user_context = firefox.command("browser.createUserContext")["userContext"]
        self.context = firefox.command("browsingContext.create", type="tab",
                                       userContext=self.user_context)["context"]
        firefox.command("browsingContext.setViewport", context=self.context,
                        viewport={"width": width, "height": height})
        handlers = (self._log, self._request, self._response, self._failed)
        for event, handler in zip(EVENTS, handlers, strict=True):
            firefox.on(event, self.context, handler)
        self.intercept = firefox.command("network.addIntercept", phases=["beforeRequestSent"],
                                         contexts=[self.context])["intercept"]
        try:
            self.navigate(url)
        except BaseException:
            self.close()
            raise

    # Events (on the reader thread).
    def _log(self, params):
        if params.get("level") == "error":
            self.errors.append(params.get("text") or str(params))

    def _request(self, params):
        request = params["request"]
        url = request["url"]
        if _local(url):
            self.requested.append(url)
            self.pending.add(request["request"])
            if params.get("isBlocked"):
                self.firefox.send("network.continueRequest", request=request["request"])
        else:
            self.outside.append(url)
            if params.get("isBlocked"):
                self.firefox.send("network.failRequest", request=request["request"])

    def _response(self, params):
        self.pending.discard(params["request"]["request"])
        status = params["response"].get("status", 0)
        if status >= 400:
            self.errors.append(f"{status}: {params['request']['url']}")

    def _failed(self, params):
        self.pending.discard(params["request"]["request"])
        if _local(params["request"]["url"]):
            self.errors.append(f"failed: {params['request']['url']}: {params.get('errorText')}")

    # Commands.
    def navigate(self, url: str) -> None:
        """Load ``url`` and wait until it, its requests and MathJax are done."""
        self.firefox.command("browsingContext.navigate", context=self.context, url=url,
                             wait="complete")
        self.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        self.idle()

    def idle(self, quiet: float = 0.3, timeout: float = 15) -> None:
        """Wait until no request has been pending for ``quiet`` seconds."""
        deadline, since = time.monotonic() + timeout, time.monotonic()
        while time.monotonic() < deadline:
            if self.pending:
                since = time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)
        raise TimeoutError(f"requests still pending: {len(self.pending)}")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited if a promise), through JSON."""
        result = self.firefox.command(
            "script.evaluate", target={"context": self.context}, awaitPromise=True,
            userActivation=True,
            expression=f"(async () => JSON.stringify(await ({expression})))()")
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise BiDiError(f"{expression[:80]}: {details.get('text')}")
        value = result["result"]
        return json.loads(value["value"]) if value["type"] == "string" else None

    def wait_for(self, expression: str, timeout: float = 10, interval: float = 0.1):
        """Evaluate ``expression`` until it is truthy (also across a navigation); its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except BiDiError:
                value = None  # between two documents
            if value or time.monotonic() > deadline:
                return value
            time.sleep(interval)

    def box(self, selector: str) -> dict | None:
        """The viewport box of the first visible element matching ``selector`` (scrolled
        into view)."""
        return self.evaluate(f"""(() => {{
          const element = [...document.querySelectorAll({json.dumps(selector)})]
            .find(e => e.getClientRects().length && e.getBoundingClientRect().width > 0);
          if (!element) return null;
          element.scrollIntoView({{block: 'center', inline: 'center'}});
          const r = element.getBoundingClientRect();
          return {{x: r.left, y: r.top, width: r.width, height: r.height}};
        }})()""")

    def click_at(self, x: float, y: float) -> None:
        """A real mouse click at viewport coordinates."""
        self.firefox.command("input.performActions", context=self.context, actions=[{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "x": round(x), "y": round(y)},
                        {"type": "pointerDown", "button": 0},
                        {"type": "pointerUp", "button": 0}]}])

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the first visible element matching ``selector``."""
        box = self.box(selector)
        assert box and box["width"] > 0, f"nothing visible to click: {selector}"
        self.click_at(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    def press(self, *keys: str) -> None:
        """Press keys (names of :data:`KEYS`, or text typed one character at a time)."""
        actions = []
        for key in keys:
            for char in [KEYS[key]] if key in KEYS else key:
                actions += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        self.firefox.command("input.performActions", context=self.context, actions=[
            {"type": "key", "id": "keyboard", "actions": actions}])

    def screenshot(self, path: Path, whole: bool = False) -> None:
        """A PNG of what the window shows (of the whole document with ``whole``)."""
        data = self.firefox.command("browsingContext.captureScreenshot", context=self.context,
                                    origin="document" if whole else "viewport")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        """Close the tab and its user context."""
        for method, params in (("network.removeIntercept", {"intercept": self.intercept}),
                               ("browsingContext.close", {"context": self.context}),
                               ("browser.removeUserContext", {"userContext": self.user_context})):
            try:
                self.firefox.command(method, **params)
            except BiDiError:
                pass
        self.firefox.forget(self.context)
