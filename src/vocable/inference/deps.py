"""Request dependencies, as named ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vocable.inference.engines import InferenceEngines


def _engines(request: Request) -> InferenceEngines:
    engines: InferenceEngines = request.app.state.engines
    return engines


EnginesDep = Annotated[InferenceEngines, Depends(_engines)]
"""The process's engines (``app.state.engines``, set by ``create_inference_app``)."""
