"""Speed probes of catalogue models: what each model measured on this machine, and when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.store.db import session_scope
from core.store.orm import ModelProbe


def latest_speeds() -> dict[str, dict[str, Any]]:
    """For each model key, its latest probe: the first figure's fields plus every figure."""
    with session_scope() as session:
        rows = session.scalars(select(ModelProbe).order_by(ModelProbe.model_key,
                                                           ModelProbe.measured_at.desc(),
                                                           ModelProbe.id)).all()
        speeds: dict[str, dict[str, Any]] = {}
        for row in rows:
            speed = speeds.get(row.model_key)
            if speed is None:
                speeds[row.model_key] = speed = {
                    "measure": row.measure, "value": row.value, "unit": row.unit,
                    "measured_at": row.measured_at.isoformat(timespec="seconds"),
                    "device": row.device, "figures": [], "_at": row.measured_at}
            if row.measured_at == speed["_at"]:
                speed["figures"].append({"measure": row.measure, "value": row.value, "unit": row.unit})
    for speed in speeds.values():
        speed.pop("_at")
    return speeds


def save_probe(key: str, device: str, figures: list[dict[str, Any]]) -> None:
    """Store one probe's figures with a shared timestamp so they read back as one measurement."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with session_scope(write=True) as session:
        for fig in figures:
            session.add(ModelProbe(model_key=key, measure=fig["measure"], value=float(fig["value"]),
                                   unit=fig["unit"], device=device, details=fig.get("details", {}),
                                   measured_at=now))
