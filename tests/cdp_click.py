#!/usr/bin/python3
"""cdp_click.py — a person opening an unsubscribe link and pressing the
button, played by headless Chromium driven over the DevTools protocol
(python3-websocket), for the integration tests.

    cdp_click.py CHROMIUM PROFILE_DIR URL SELECTOR WANT_TITLE WATCH_FILE

Starts CHROMIUM headless with a fresh PROFILE_DIR on URL, waits for the
page, checks that loading it left WATCH_FILE unchanged (a GET must not
unsubscribe), moves the mouse onto SELECTOR and clicks it (real input
events, not a script's click()), then waits for the page titled
WANT_TITLE.  Prints "ok: ..." / "FAIL: ..." lines; exits 1 on a failure,
2 when Chromium could not be driven at all.  Chromium is stopped by its
pid on the way out.
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

import websocket

TIMEOUT = 30


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=TIMEOUT,
                                              suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method,
                                 "params": params}))
        while True:  # events may come before the answer
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")

    def wait_for(self, expr, what):
        end = time.monotonic() + TIMEOUT
        while time.monotonic() < end:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")


def devtools_port(profile, proc):
    path = os.path.join(profile, "DevToolsActivePort")
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        try:
            with open(path) as f:
                return int(f.readline())
        except (FileNotFoundError, ValueError):
            time.sleep(0.1)
    raise RuntimeError("chromium did not open its DevTools port")


def page_target(port, url):
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            for t in json.load(r):
                if t.get("type") == "page" and t.get("url", "").startswith(url):
                    return t["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise RuntimeError("no page target for the URL")


def main():
    chromium, profile, url, selector, want, watch = sys.argv[1:7]
    failed = False

    def report(good, what):
        nonlocal failed
        print(("ok: " if good else "FAIL: ") + what)
        failed = failed or not good

    env = dict(os.environ, HOME=profile, XDG_CONFIG_HOME=profile,
               XDG_CACHE_HOME=profile)
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--no-default-browser-check",
         f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-allow-origins=*", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        before = open(watch, "rb").read()
        page = Page(page_target(devtools_port(profile, proc), url))
        page.call("Runtime.enable")
        page.wait_for("document.readyState === 'complete' && "
                      f"!!document.querySelector({json.dumps(selector)})",
                      "the page and its button")
        report(page.js("document.title") == "Unsubscribe",
               "Chromium shows the confirm page")
        time.sleep(0.5)  # anything a GET would do has been done
        report(open(watch, "rb").read() == before,
               "opening the page suppressed nobody")
        rect = page.js("JSON.stringify(document.querySelector("
                       f"{json.dumps(selector)}).getBoundingClientRect())")
        box = json.loads(rect)
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            page.call("Input.dispatchMouseEvent", type=kind, x=x, y=y,
                      button="left", buttons=1, clickCount=1)
        title = page.wait_for(f"document.title === {json.dumps(want)} && "
                              "document.title", f"the page '{want}'")
        report(title == want, f"after the click Chromium shows '{want}'")
        report(page.js("document.body.innerText").find("will get no more")
               >= 0, "the page says so")
    except Exception as e:  # noqa: BLE001 — any failure to drive it
        print(f"FAIL: driving Chromium: {type(e).__name__}: {e}")
        return 2
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
