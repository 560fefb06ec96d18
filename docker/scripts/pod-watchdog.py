#!/usr/bin/env python3
"""Stops (or terminates) the RunPod pod it runs in when ComfyUI has been idle, or the pod has lived, too long.

RunPod pods have no time-to-live, but every pod gets its own id (RUNPOD_POD_ID) and a pod-scoped API key
(RUNPOD_API_KEY). This watchdog polls ComfyUI's GET /queue and, when a limit is reached, sends
POST {api}/pods/{id}/action {"action": "stop"|"terminate"} with that key. The deployer's own key never
enters the pod. Python standard library only.

Environment:
  IDLE_STOP_MINUTES      stop after this many minutes without a running or pending prompt (0 or unset: off).
                         The idle clock starts at ComfyUI's first answer, so model downloads never count.
  MAX_LIFETIME_HOURS     stop this many hours after the watchdog started, busy or not (0 or unset: off).
  LIFETIME_ACTION        stop (default; the volume is kept, `pulumi up` starts the pod again) or terminate.
  RUNPOD_POD_ID, RUNPOD_API_KEY   set by RunPod in every pod.
  WATCHDOG_API_URL       RunPod REST v2 base (https://api.runpod.io/v2).
  WATCHDOG_COMFYUI_URL   ComfyUI as seen from inside the container (http://127.0.0.1:8188).
  WATCHDOG_POLL_SECONDS  seconds between queue polls (30).
  WATCHDOG_HTTP_TIMEOUT  seconds per HTTP request (10).
  WATCHDOG_RETRY_MAX_SECONDS  longest pause between retries of a failed action call (300).
Minutes and hours may be fractions (tests use second-scale limits). Exits 2 on a bad setting; with --check it
only validates the settings (exit 0 or 2) and returns.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

USER_AGENT = "steadydancer-pod-watchdog/0.1 (python urllib)"


def log(message):
    print("watchdog: " + message, flush=True)


class Settings:
    def __init__(self, env):
        problems = []

        def number(name, default):
            text = env.get(name, "").strip()
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                value = -1.0
            if not 0 <= value < float("inf"):
                problems.append("%s must be a number >= 0, got %r" % (name, text))
                return default
            return value

        self.idle_seconds = number("IDLE_STOP_MINUTES", 0.0) * 60
        self.lifetime_seconds = number("MAX_LIFETIME_HOURS", 0.0) * 3600
        self.poll_seconds = number("WATCHDOG_POLL_SECONDS", 30.0) or 30.0
        self.http_timeout = number("WATCHDOG_HTTP_TIMEOUT", 10.0) or 10.0
        self.retry_max = number("WATCHDOG_RETRY_MAX_SECONDS", 300.0) or 300.0
        self.action = env.get("LIFETIME_ACTION", "").strip() or "stop"
        if self.action not in ("stop", "terminate"):
            problems.append("LIFETIME_ACTION must be stop or terminate, got %r" % self.action)
        self.pod_id = env.get("RUNPOD_POD_ID", "").strip()
        self.api_key = env.get("RUNPOD_API_KEY", "").strip()
        self.api_url = (env.get("WATCHDOG_API_URL", "").strip() or "https://api.runpod.io/v2").rstrip("/")
        self.comfy_url = (env.get("WATCHDOG_COMFYUI_URL", "").strip() or "http://127.0.0.1:8188").rstrip("/")
        if self.idle_seconds or self.lifetime_seconds:
            if not self.pod_id:
                problems.append("RUNPOD_POD_ID is not set (RunPod sets it in every pod): cannot tell which pod to stop")
            if not self.api_key:
                problems.append("RUNPOD_API_KEY is not set (RunPod sets a pod-scoped key in every pod): cannot call the API")
        self.problems = problems

    def redact(self, text):
        return text.replace(self.api_key, "***") if self.api_key else text


def queue_busy(settings):
    """True/False for a busy/idle queue, None when ComfyUI did not answer."""
    request = urllib.request.Request(settings.comfy_url + "/queue", headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=settings.http_timeout) as response:
            body = json.loads(response.read().decode("utf-8"))
        running = body.get("queue_running") or []
        pending = body.get("queue_pending") or []
        return len(running) + len(pending) > 0
    except (OSError, ValueError, AttributeError, TypeError):
        return None


class ActionResult:
    def __init__(self, done, retry_after=None, why=""):
        self.done = done
        self.retry_after = retry_after
        self.why = why


def send_action(settings, action, earlier_attempt):
    url = "%s/pods/%s/action" % (settings.api_url, settings.pod_id)
    request = urllib.request.Request(
        url,
        data=json.dumps({"action": action}).encode("utf-8"),
        method="POST",
        headers={
            "Authorization": "Bearer " + settings.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.http_timeout) as response:
            status = response.status
            response.read()
        return ActionResult(True, why="HTTP %d" % status)
    except urllib.error.HTTPError as err:
        detail = ""
        try:
            detail = str(json.loads(err.read().decode("utf-8", "replace")).get("detail", ""))[:300]
        except (ValueError, AttributeError, OSError):
            pass
        detail = settings.redact(detail)
        why = "HTTP %d%s" % (err.code, ": " + detail if detail else "")
        if err.code == 404 and action == "terminate" and earlier_attempt:
            # An earlier terminate whose answer was lost may have worked: the pod is gone.
            return ActionResult(True, why=why + " (already terminated)")
        if err.code == 429:
            try:
                return ActionResult(False, float(err.headers.get("Retry-After", "")), why)
            except ValueError:
                return ActionResult(False, None, why)
        if err.code in (401, 403):
            why += " (the pod-scoped RUNPOD_API_KEY may not act on this pod; stop it yourself or `pulumi destroy`)"
        return ActionResult(False, None, why)
    except (OSError, ValueError) as err:
        return ActionResult(False, None, settings.redact("%s: %s" % (type(err).__name__, err)))


def act(settings, reason, sleep=time.sleep):
    """Sends the action until the API accepts it, with exponential backoff. Returns after success."""
    log("%s: asking RunPod to %s pod %s" % (reason, settings.action, settings.pod_id))
    pause = min(settings.poll_seconds, 5.0)
    attempt = 0
    while True:
        attempt += 1
        result = send_action(settings, settings.action, attempt > 1)
        if result.done:
            log("RunPod accepted %s (%s)" % (settings.action, result.why))
            return
        wait = result.retry_after if result.retry_after is not None else pause
        wait = max(0.0, min(wait, settings.retry_max))
        log("%s failed (attempt %d: %s); retrying in %.1f s" % (settings.action, attempt, result.why, wait))
        sleep(wait)
        pause = min(pause * 2, settings.retry_max)


def watch(settings, clock=time.monotonic, sleep=time.sleep):
    started = clock()
    idle_since = None
    seen = False
    last_state = None
    while True:
        now = clock()
        if settings.lifetime_seconds and now - started >= settings.lifetime_seconds:
            act(settings, "pod lifetime of %g h reached" % (settings.lifetime_seconds / 3600), sleep)
            return
        if settings.idle_seconds:
            busy = queue_busy(settings)
            state = {True: "busy", False: "idle", None: "unreachable"}[busy]
            if state != last_state:
                log("ComfyUI queue: %s" % state)
                last_state = state
            if busy is True:
                idle_since = None
                seen = True
            elif busy is False:
                seen = True
                if idle_since is None:
                    idle_since = now
            # Unreachable keeps the clock as it was: a hung ComfyUI after its first answer still times out.
            if seen and idle_since is not None and now - idle_since >= settings.idle_seconds:
                act(settings, "no queued or running prompt for %g min" % (settings.idle_seconds / 60), sleep)
                return
        sleep(settings.poll_seconds)


def main():
    settings = Settings(os.environ)
    if settings.problems:
        for problem in settings.problems:
            print("watchdog: ERROR: " + problem, file=sys.stderr, flush=True)
        return 2
    if "--check" in sys.argv[1:]:
        return 0
    if not settings.idle_seconds and not settings.lifetime_seconds:
        log("no limit set (IDLE_STOP_MINUTES, MAX_LIFETIME_HOURS): nothing to watch")
        return 0
    limits = []
    if settings.idle_seconds:
        limits.append("idle %g min (queue at %s)" % (settings.idle_seconds / 60, settings.comfy_url))
    if settings.lifetime_seconds:
        limits.append("lifetime %g h" % (settings.lifetime_seconds / 3600))
    log("watching pod %s: %s; then %s, polling every %g s" % (settings.pod_id, ", ".join(limits), settings.action, settings.poll_seconds))
    watch(settings)
    # The stop reaches this container as SIGTERM; until then there is nothing left to do.
    return 0


if __name__ == "__main__":
    sys.exit(main())
