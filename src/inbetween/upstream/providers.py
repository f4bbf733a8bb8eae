"""The upstream providers of the real Veo 3.1: Google (Gemini API), fal.ai, and the hosted
API itself — each spoken over plain HTTP, as ../shared/docs/UPSTREAMS.md describes."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from inbetween.errors import ContentFiltered, UpstreamEmptyResult, UpstreamError, UpstreamFailure
from inbetween.jobs.models import GenerationRequest, JobWarning
from inbetween.media.sniff import image_mime
from inbetween.settings import Settings
from inbetween.upstream.http import Caller, host_of

__all__ = ["Poll", "Provider", "build_providers", "mime_of"]


@dataclass(frozen=True)
class Poll:
    """One look at an upstream job."""

    state: str  # "queued" | "running" | "done"
    queue_position: int | None = None
    logs: tuple[tuple[str, str], ...] = ()  # every (level, message) so far
    video_url: str | None = None


class Provider(Protocol):
    name: str
    honours_seed: bool

    def model(self, fast: bool) -> str: ...

    def warnings(self, request: GenerationRequest) -> tuple[JobWarning, ...]: ...

    def submit(self, request: GenerationRequest, model: str, first: bytes,
               last: bytes) -> dict[str, str]:
        """Start the job; its handle (JSON-able) to poll, resume and cancel it."""

    def poll(self, handle: dict[str, str]) -> Poll: ...

    def cancel(self, handle: dict[str, str]) -> bool:
        """Cancel upstream; False when the provider cannot cancel."""

    def download_headers(self, url: str) -> dict[str, str]:
        """Headers for fetching the video from ``url`` (the key only on its own hosts)."""


def mime_of(data: bytes) -> str:
    mime = image_mime(data)
    if mime is None:
        raise UpstreamError("an input image is neither JPEG, PNG nor WebP")
    return mime


def _png(data: bytes) -> bytes:
    """WebP → PNG, losslessly (Google takes JPEG and PNG only)."""
    from PIL import Image

    buffer = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def _json(response: httpx.Response, provider: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UpstreamError(f"{provider} answered with something that is not a JSON object: "
                            f"{response.text[:200]!r}")
    return body


# -- Google ------------------------------------------------------------------------------------

@dataclass
class Google:
    base: str
    key: str
    models: tuple[str, str]
    name: str = "google"
    honours_seed: bool = False
    caller: Caller = field(init=False)

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        self.caller = Caller("google", {"x-goog-api-key": self.key},
                             frozenset({host_of(self.base)}), classify=self._classify)

    def model(self, fast: bool) -> str:
        return self.models[fast]

    def warnings(self, request: GenerationRequest) -> tuple[JobWarning, ...]:
        found = []
        if request.seed is not None:
            found.append(JobWarning("seed_ignored", "Google's Veo API takes no seed; the "
                                    "video is not reproducible (meta.seed is null)."))
        if not request.generate_audio:
            found.append(JobWarning(
                "audio_removed", "Google's Veo API always makes a sound track (and bills it "
                "at the with-audio price); inbetween removed it from the stored video."))
        return tuple(found)

    def submit(self, request: GenerationRequest, model: str, first: bytes,
               last: bytes) -> dict[str, str]:
        def image(data: bytes) -> dict[str, str]:
            if mime_of(data) == "image/webp":
                data = _png(data)
            return {"bytesBase64Encoded": base64.b64encode(data).decode(),
                    "mimeType": mime_of(data)}

        parameters: dict[str, object] = {
            "sampleCount": 1, "durationSeconds": request.duration,
            "aspectRatio": request.aspect_ratio, "resolution": request.resolution,
            "personGeneration": "allow_adult"}
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        body = {"instances": [{"prompt": request.prompt, "image": image(first),
                               "lastFrame": image(last)}], "parameters": parameters}
        response = self.caller.request(
            "POST", f"{self.base}/v1beta/models/{model}:predictLongRunning", json=body,
            submit=True)
        name = _json(response, self.name).get("name")
        if not isinstance(name, str) or not name:
            raise UpstreamError("google answered without an operation name")
        return {"operation": name}

    def poll(self, handle: dict[str, str]) -> Poll:
        operation = _json(self.caller.request(
            "GET", f"{self.base}/v1beta/{handle['operation']}"), self.name)
        if not operation.get("done"):
            return Poll("running")
        error = operation.get("error")
        if isinstance(error, dict):
            raise UpstreamError(f"google: {error.get('status', '')} {error.get('message', '')}"
                                .strip(), http_status=None)
        response = operation.get("response")
        video = response.get("generateVideoResponse") if isinstance(response, dict) else None
        if not isinstance(video, dict):
            raise UpstreamEmptyResult("google finished the operation without a video")
        samples = video.get("generatedSamples") or []
        if not samples and video.get("raiMediaFilteredCount"):
            reasons = "; ".join(str(r) for r in video.get("raiMediaFilteredReasons") or [])
            raise ContentFiltered(f"google blocked the video under its content policy: "
                                  f"{reasons or 'no reason given'}")
        uri = samples[0].get("video", {}).get("uri") if samples else None
        if not uri:
            raise UpstreamEmptyResult("google finished the operation without a video")
        return Poll("done", video_url=str(uri))

    def cancel(self, handle: dict[str, str]) -> bool:
        return False  # the Gemini API cannot cancel a Veo operation

    def download_headers(self, url: str) -> dict[str, str]:
        return self.caller.headers_for(url)  # the key, but only on Google's own host

    @staticmethod
    def _classify(response: httpx.Response) -> UpstreamFailure | None:
        text = response.text.lower()
        if "safety" in text or "responsible ai" in text or "blocked" in text:
            return ContentFiltered(f"google refused the input under its content policy: "
                                   f"{response.text[:300]}")
        return None


# -- fal.ai -----------------------------------------------------------------------------------

@dataclass
class Fal:
    queue: str
    rest: str
    key: str
    models: tuple[str, str]
    name: str = "fal"
    honours_seed: bool = True
    caller: Caller = field(init=False)

    def __post_init__(self) -> None:
        self.queue, self.rest = self.queue.rstrip("/"), self.rest.rstrip("/")
        self.caller = Caller("fal", {"Authorization": f"Key {self.key}"},
                             frozenset({host_of(self.queue), host_of(self.rest)}),
                             classify=self._classify)

    def model(self, fast: bool) -> str:
        return self.models[fast]

    def warnings(self, request: GenerationRequest) -> tuple[JobWarning, ...]:
        return ()

    def _token(self) -> dict[str, Any]:
        token = _json(self.caller.request(
            "POST", f"{self.rest}/storage/auth/token",
            params={"storage_type": "fal-cdn-v3"}, json={}), self.name)
        base = str(token.get("base_url", "")).rstrip("/")
        if not base.startswith(("http://", "https://")) or not token.get("token"):
            raise UpstreamError("fal's storage token answer lacks base_url or token")
        return token

    def _upload(self, token: dict[str, Any], data: bytes) -> str:
        base = str(token["base_url"]).rstrip("/")
        uploaded = _json(self.caller.request(
            "POST", f"{base}/files/upload", content=data,
            headers={"Authorization": f"{token.get('token_type', 'Bearer')} {token['token']}",
                     "Content-Type": mime_of(data)}), self.name)
        url = uploaded.get("access_url")
        if not isinstance(url, str):
            raise UpstreamError("fal's storage upload answer lacks access_url")
        return url

    def submit(self, request: GenerationRequest, model: str, first: bytes,
               last: bytes) -> dict[str, str]:
        token = self._token()  # the images go to fal's storage first (its URLs, its token)
        body: dict[str, object] = {
            "prompt": request.prompt, "first_frame_url": self._upload(token, first),
            "last_frame_url": self._upload(token, last), "aspect_ratio": request.aspect_ratio,
            "duration": f"{request.duration}s", "resolution": request.resolution,
            "generate_audio": request.generate_audio}
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            body["seed"] = request.seed
        answer = _json(self.caller.request("POST", f"{self.queue}/{model}", json=body,
                                           submit=True), self.name)
        handle = {k: answer.get(k) for k in ("request_id", "status_url", "response_url",
                                             "cancel_url")}
        if not all(isinstance(v, str) and v for v in handle.values()):
            missing = sorted(k for k, v in handle.items() if not v)
            raise UpstreamError(f"fal's submit answer lacks {missing}")
        return {k: str(v) for k, v in handle.items()}

    def poll(self, handle: dict[str, str]) -> Poll:
        response = self.caller.request("GET", handle["status_url"], params={"logs": 1})
        status = _json(response, self.name)
        logs = tuple((str(entry.get("level", "info")).lower(), str(entry.get("message", "")))
                     for entry in status.get("logs") or () if isinstance(entry, dict))
        state = status.get("status")
        if state == "IN_QUEUE":
            position = status.get("queue_position")
            return Poll("queued", queue_position=position if isinstance(position, int) else None,
                        logs=logs)
        if state == "IN_PROGRESS":
            return Poll("running", logs=logs)
        if state != "COMPLETED":
            raise UpstreamError(f"fal reported the unknown status {state!r}")
        if status.get("error"):
            if status.get("error_type") == "content_policy_violation":
                raise ContentFiltered(f"fal blocked the video under its content policy: "
                                      f"{status['error']}")
            raise UpstreamError(f"fal: {status.get('error_type') or 'error'}: {status['error']}")
        result = _json(self.caller.request("GET", handle["response_url"]), self.name)
        video = result.get("video")
        url = video.get("url") if isinstance(video, dict) else None
        if not isinstance(url, str) or not url:
            raise UpstreamEmptyResult("fal finished the job without a video")
        return Poll("done", logs=logs, video_url=url)

    def cancel(self, handle: dict[str, str]) -> bool:
        answer = _json(self.caller.request("PUT", handle["cancel_url"]), self.name)
        return answer.get("status") in ("OK", "CANCELLATION_REQUESTED")

    def download_headers(self, url: str) -> dict[str, str]:
        return {}  # fal's CDN URLs need no key: it is never sent there

    @staticmethod
    def _classify(response: httpx.Response) -> UpstreamFailure | None:
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            return None
        items = detail if isinstance(detail, list) else []
        blocked = [d for d in items if isinstance(d, dict)
                   and d.get("type") == "content_policy_violation"]
        if blocked:
            return ContentFiltered("fal blocked the request under its content policy: "
                                   + "; ".join(str(d.get("msg", "")) for d in blocked))
        if items:
            return UpstreamError("fal refused the request: " + "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}"
                for d in items if isinstance(d, dict)))
        return None


# -- the hosted API itself ---------------------------------------------------------------------

@dataclass
class AimlApi:
    base: str
    key: str
    name: str = "aimlapi"
    honours_seed: bool = False
    caller: Caller = field(init=False)

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        self.caller = Caller("aimlapi", {"Authorization": f"Bearer {self.key}"},
                             frozenset({host_of(self.base)}))

    def model(self, fast: bool) -> str:
        return ("google/veo-3.1-first-last-image-to-video-fast" if fast
                else "google/veo-3.1-first-last-image-to-video")

    def warnings(self, request: GenerationRequest) -> tuple[JobWarning, ...]:
        if request.seed is not None:
            return (JobWarning("seed_ignored", "the hosted API takes no seed; the video is "
                               "not reproducible (meta.seed is null)."),)
        return ()

    def submit(self, request: GenerationRequest, model: str, first: bytes,
               last: bytes) -> dict[str, str]:
        def data_url(data: bytes) -> str:
            return f"data:{mime_of(data)};base64,{base64.b64encode(data).decode()}"

        body = {"model": model, "prompt": request.prompt, "image_url": data_url(first),
                "last_image_url": data_url(last), "aspect_ratio": request.aspect_ratio,
                "duration": request.duration, "resolution": request.resolution,
                "generate_audio": request.generate_audio}
        answer = _json(self.caller.request("POST", f"{self.base}/v2/video/generations",
                                           json=body, submit=True), self.name)
        if not isinstance(answer.get("id"), str):
            raise UpstreamError("the hosted API answered without a generation id")
        return {"generation_id": str(answer["id"])}

    def poll(self, handle: dict[str, str]) -> Poll:
        body = _json(self.caller.request("GET", f"{self.base}/v2/video/generations",
                                         params={"generation_id": handle["generation_id"]}),
                     self.name)
        status = body.get("status")
        if status == "queued":
            return Poll("queued")
        if status == "generating":
            return Poll("running")
        if status == "error":
            error = body.get("error") if isinstance(body.get("error"), dict) else {}
            assert isinstance(error, dict)
            raise UpstreamError(f"the hosted API: {error.get('name', 'error')}: "
                                f"{error.get('message', '')}")
        if status != "completed":
            raise UpstreamError(f"the hosted API reported the unknown status {status!r}")
        video = body.get("video")
        url = video.get("url") if isinstance(video, dict) else None
        if not isinstance(url, str) or not url:
            raise UpstreamEmptyResult("the hosted API completed the generation without a video")
        return Poll("done", video_url=url)

    def cancel(self, handle: dict[str, str]) -> bool:
        return False  # the hosted API documents no cancel

    def download_headers(self, url: str) -> dict[str, str]:
        return {}


def build_providers(settings: Settings) -> dict[str, Provider]:
    """The configured providers (those with a key), by name."""
    found: dict[str, Provider] = {}
    if settings.google_api_key is not None:
        found["google"] = Google(settings.google_base_url,
                                 settings.google_api_key.get_secret_value(),
                                 (settings.google_model, settings.google_model_fast))
    if settings.fal_key is not None:
        found["fal"] = Fal(settings.fal_queue_url, settings.fal_rest_url,
                           settings.fal_key.get_secret_value(),
                           (settings.fal_model, settings.fal_model_fast))
    if settings.aimlapi_key is not None:
        found["aimlapi"] = AimlApi(settings.aimlapi_base_url,
                                   settings.aimlapi_key.get_secret_value())
    return found

