"""Public invoice pages (/i/{token}); filled in by the sending work."""

from fastapi import APIRouter

router = APIRouter()
