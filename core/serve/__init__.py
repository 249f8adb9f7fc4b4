"""The OpenAI-compatible HTTP server over one loaded model (``uclab serve``): FastAPI on uvicorn."""
