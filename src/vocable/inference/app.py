"""The application factory, bearer-key check, model list and the uvicorn entry point."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header

from vocable import __version__
from vocable.inference import chat, speech, transcriptions
from vocable.inference.deps import EnginesDep
from vocable.inference.engines import MODEL_IDS, InferenceEngines, ModelId
from vocable.inference.errors import OpenAIError, install_error_handlers, model_not_found
from vocable.settings import Settings

log = logging.getLogger("vocable.inference")

models_router = APIRouter()


def _model(model: ModelId, created: int) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "created": created, "owned_by": "vocable"}


@models_router.get("/v1/models")
async def list_models(engines: EnginesDep) -> dict[str, Any]:
    """Every model id this server answers to (nothing is loaded to list them)."""
    return {"object": "list", "data": [_model(m, engines.created) for m in MODEL_IDS]}


@models_router.get("/v1/models/{model_id}")
async def retrieve_model(model_id: str, engines: EnginesDep) -> dict[str, Any]:
    """One model id, or 404."""
    for model in MODEL_IDS:
        if model.id == model_id:
            return _model(model, engines.created)
    raise model_not_found(model_id, "known")


def _bearer_key_check(api_key: str) -> Callable[..., None]:
    expected = api_key.encode()

    def check(authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        # compare_digest: the time taken must not tell how much of the key was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            raise OpenAIError(
                401,
                "Incorrect or missing API key: send 'Authorization: Bearer <key>'",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def create_inference_app(*, settings: Settings, api_key: str | None = None) -> FastAPI:
    """The OpenAI-compatible API on the embedded engines (see ``vocable.inference``).

    Args:
        settings: engines load from ``settings.cache_dir`` with ``settings.llm_threads``,
            ``stt_threads`` and ``tts_threads`` threads.
        api_key: when set (and not empty), every ``/v1`` request must carry
            ``Authorization: Bearer <api_key>``; ``/healthz`` stays open.
    """
    app = FastAPI(
        title="Vocable inference server",
        version=__version__,
        description="OpenAI-compatible chat, transcription and speech on embedded engines.",
    )
    app.state.engines = InferenceEngines(settings=settings)
    install_error_handlers(app)
    guard = [Depends(_bearer_key_check(api_key))] if api_key else []
    for router in (models_router, chat.router, transcriptions.router, speech.router):
        app.include_router(router, dependencies=guard)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def run_inference_server(settings: Settings, *, host: str, port: int, api_key: str | None) -> None:
    """Serve ``create_inference_app`` with uvicorn until interrupted."""
    if not api_key and host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("the inference server listens on %s without an API key", host)
    uvicorn.run(
        create_inference_app(settings=settings, api_key=api_key),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        # access logs would print paths and client addresses only; keep them off
        access_log=False,
    )
