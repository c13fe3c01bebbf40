"""A local OpenAI-compatible inference server on Vocable's embedded engines.

Self-hosters point any OpenAI client (and agents with ``openai-compatible`` engines, through
``VOCABLE_OPENAI_BASE_URL=http://<host>:<port>/v1``) at it. Endpoints, in OpenAI's wire
format and error shape (``{"error": {"message", "type", "param", "code"}}``):

- ``GET /v1/models``: the ids below.
- ``POST /v1/chat/completions``: streamed (SSE, then ``data: [DONE]``) or whole; honours
  ``max_tokens``/``max_completion_tokens``, ``temperature`` and
  ``stream_options.include_usage``.
- ``POST /v1/audio/transcriptions``: multipart ``file``, ``model``, ``language``,
  ``response_format`` (``json``, ``text`` or ``verbose_json``).
- ``POST /v1/audio/speech``: ``pcm`` (streamed) or ``wav``, 24 kHz mono 16-bit; other
  formats are answered with WAV.
- ``GET /healthz``: liveness, never behind the key.

Model ids:

===================  ================================================================
``qwen2.5-0.5b``     Qwen2.5-Coder 0.5B Instruct on llama.cpp (chat)
``qwen2.5-1.5b``     Qwen2.5-Coder 1.5B Instruct on llama.cpp (chat)
``whisper-1``        Whisper tiny.en for English, Whisper base for other languages
``whisper-tiny-en``  Whisper tiny.en
``whisper-base``     Whisper base (multilingual)
``tts-1``            Piper en_US joe-medium; every OpenAI voice name gives this voice
``piper-en-us-joe``  the same Piper voice, by its catalogue name
``espeak-ng``        espeak-ng; ``voice`` is a language tag (``fr``, ``pt-BR``)
===================  ================================================================

Unknown ids get 404 (``code: model_not_found``), malformed bodies 400, a missing or wrong
key 401 (``code: invalid_api_key``) and an engine whose package is not installed 503.
Each engine loads on its first request and stays loaded. Each model serves one request at
a time, in a worker thread, never on the event loop; espeak-ng runs as one process per
request. Streamed replies carry SSE comments while the first token is awaited, so clients
with short read timeouts do not give up while a model loads.
"""

from vocable.inference.app import create_inference_app, run_inference_server

__all__ = ["create_inference_app", "run_inference_server"]
