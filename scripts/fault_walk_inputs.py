"""Fault walk, part 2: hostile file names, decompression bombs, XSS payloads, formula cells in
exports, malicious model folders, broken databases, Host/Origin checks.

    UCLAB_HOME=/tmp/walk python scripts/fault_walk_inputs.py [part ...]

Prints one JSON document with the figures. Bombs are read in child processes so their peak
memory (ru_maxrss) and time are measured one by one.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
CSV = b"text,label\nI loved this film,pos\nDull and far too long,neg\nA fine cast,pos\n"


def names() -> dict:
    from core.data.ingest import display_name, read_upload
    from core.errors import DatasetError

    hostile = ["../../etc/passwd.csv", "..\\..\\win.ini.csv", "/abs/path.csv", "a\x00b.csv",
               "invoice\u202egpj.csv", "\u2066x\u2069.csv", "r\u200fl.csv", "x" * 300 + ".csv",
               "y" * 300 + ".exe", "con.csv", "nul", ".csv", "...", "a\nb.csv", "a\rb.csv",
               "<script>alert(1)</script>.csv", "=HYPERLINK(\"x\").csv", "日本語.csv", "e\u0301.csv",
               "a" * 5000, "\t.csv", "file.CSV"]
    out = {"names": len(hostile), "read_ok": 0, "refused_with_sentence": 0, "unsafe_chars_kept": 0,
           "path_kept": 0, "over_200": 0, "wrong_extension_error": 0}
    for name in hostile:
        shown = display_name(name)
        out["unsafe_chars_kept"] += bool(BIDI.search(shown) or re.search(r"[\x00-\x1f]", shown))
        out["path_kept"] += "/" in shown or "\\" in shown
        out["over_200"] += len(shown) > 200
        try:
            read_upload(CSV, name)
            out["read_ok"] += 1
        except DatasetError as exc:
            out["refused_with_sentence"] += 1
            if name.endswith(".csv") and "not supported" in str(exc):
                out["wrong_extension_error"] += 1
    return out


BOMB_CHILD = """
import io, resource, sys, time
sys.path[:0] = [{root!r}]
from core.data.ingest import read_upload
from core.errors import DatasetError
data = open({path!r}, "rb").read()
start = time.process_time()
try:
    parsed = read_upload(data, {name!r})
    verdict = f"read {{len(parsed.frame)}} rows"
except DatasetError as exc:
    verdict = "refused: " + str(exc)[:160]
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(repr((verdict, round(time.process_time() - start, 2), int(hwm) // 1024)))
"""


def _bomb_files(folder: Path) -> dict[str, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    names = {"parquet 20M rows": "rows.parquet", "xlsx declaring A1:XFD1048576": "dims.xlsx",
             "xlsx 6M cells, no dimension": "cells.xlsx", "csv with a 3 MB cell": "bigcell.csv"}
    if all((folder / n).exists() for n in names.values()):  # made by an earlier walk
        return {what: folder / n for what, n in names.items()}
    files = {}
    pq.write_table(pa.table({"text": pa.array(np.zeros(20_000_000, dtype=np.int8)),
                             "label": pa.array(np.ones(20_000_000, dtype=np.int8))}), folder / "rows.parquet")
    files["parquet 20M rows"] = folder / "rows.parquet"
    book = Workbook()
    for r in range(50):
        book.active.append([f"r{r}", "pos" if r % 2 else "neg"])
    buffer = io.BytesIO()
    book.save(buffer)
    src = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))

    def rewritten(change) -> bytes:  # noqa: ANN001
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                body = src.read(info)
                sheet = info.filename == "xl/worksheets/sheet1.xml"
                dst.writestr(info.filename, change(body) if sheet else body)
        return out.getvalue()

    (folder / "dims.xlsx").write_bytes(rewritten(lambda b: re.sub(rb'<dimension ref="[^"]*"',
                                                                 b'<dimension ref="A1:XFD1048576"', b)))
    files["xlsx declaring A1:XFD1048576"] = folder / "dims.xlsx"
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c>'
                    b'<c r="B%d" t="inlineStr"><is><t>y</t></is></c></row>' % (i, i, i)
                    for i in range(1, 3_000_001))
    (folder / "cells.xlsx").write_bytes(rewritten(lambda b: re.sub(
        rb"<sheetData>.*</sheetData>", b"<sheetData>" + rows + b"</sheetData>",
        re.sub(rb'<dimension ref="[^"]*"/>', b"", b), flags=re.S)))
    files["xlsx 6M cells, no dimension"] = folder / "cells.xlsx"
    big = "x" * (3 * 2**20)
    (folder / "bigcell.csv").write_bytes(f'text,label\n"{big}",pos\nshort,neg\n'.encode())
    files["csv with a 3 MB cell"] = folder / "bigcell.csv"
    return files


def bombs() -> dict:
    out = {}
    for what, path in _bomb_files(Path(os.environ["UCLAB_HOME"]) / "bombs").items():
        code = BOMB_CHILD.format(root=str(ROOT), path=str(path), name=path.name)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        verdict, cpu, rss = eval(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else (
            done.stderr[-300:], None, None)
        out[what] = {"file_mb": round(path.stat().st_size / 2**20, 2), "verdict": verdict,
                     "cpu_s": cpu, "peak_rss_mb": rss}
    out["token check on a 40 MB cell"] = _token_bomb()
    return out


def _token_bomb() -> dict:
    code = (f"import sys, time, resource; sys.path[:0] = [{str(ROOT)!r}]\n"
            "import pandas as pd\nfrom core.models.tokenlength import measure_token_lengths\n"
            "texts = pd.Series(['short', 'word ' * 8_000_000])\nt = time.process_time()\n"
            "out = measure_token_lengths(texts, model_key='minilm-l6', max_length=128)\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
            "print(repr((out['truncated_share'], round(time.process_time() - t, 2), int(hwm) // 1024)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    share, cpu, rss = eval(done.stdout.strip().splitlines()[-1])
    return {"truncated_share": share, "cpu_s": cpu, "peak_rss_mb": rss}


PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "![a](http://evil.example/x.png)",
            "[click](javascript:alert(1))", "http://evil.example/p", "www.evil.example", "a@evil.example",
            "<iframe src=//evil.example>", "**bold** _it_ `code`", "$$\\frac{1}{0}$$", ":red[red]",
            "<a href=//evil.example>x</a>", "javascript:alert(1)", "&lt;b&gt;", "\u202eevil"]


def xss() -> dict:
    from core.store import runs
    from core.training import queue
    from tests.pages.conftest import open_app_page
    from tests.pages.seed import NoLauncher, save_reviews

    queue.set_launcher(NoLauncher())
    dataset = save_reviews()
    states = errors = shown = 0
    leaks = []
    autolink = re.compile(r"(?i)https?://|\bwww\.|[\w.+-]@[\w-]+\.")
    for payload in PAYLOADS:
        run = runs.create_run(dataset_id=dataset.id, model_key="minilm-l6", task="classification",
                              config={}, seed=1, name=payload)
        runs.add_log(run.id, payload)
        for page, query in (("finetune", {"run": str(run.id)}), ("evaluation", {"run": str(run.id)})):
            at = open_app_page(page, query, timeout=60)
            states += 1
            errors += bool(at.exception)
            shown += sum(payload[:12] in e.value.replace("\\", "").replace("\u2060", "")
                         for e in list(at.markdown) + list(at.caption) + list(at.code))
            for element in list(at.markdown) + list(at.caption) + list(at.error) + list(at.info):
                plain = element.value.replace("\\", "")
                raw_html = "<" in element.value.replace("\\<", "")
                if raw_html or autolink.search(plain) or "](" in element.value.replace("\\]\\(", ""):
                    leaks.append((page, payload, element.value[:80]))
    return {"payloads": len(PAYLOADS), "page_states": states, "page_exceptions": errors,
            "elements_showing_a_payload": shown, "unescaped": len(leaks), "examples": leaks[:5]}


def exports() -> dict:
    import pandas as pd

    from core.cli import main as cli
    from core.inference import predict
    from core.store.db import session_scope
    from core.store.orm import Generation
    from core.text.spreadsheet import FORMULA_PREFIXES

    cells = ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"http://e\",\"x\")"]
    with session_scope(write=True) as s:
        for c in cells:
            s.add(Generation(model_ref=c, run_id=None, mode="prompt", prompt={"text": c}, settings={},
                             outputs=[c], time_to_first_token=0.1, tokens_per_second=1.0))
    path = Path(os.environ["UCLAB_HOME"]) / "history.csv"
    cli(["generate", "--history", "--export", str(path), "--json"])
    written = {"cli generate --history --export": path.read_text(encoding="utf-8"),
               "playground downloads": predict.to_csv_bytes(pd.DataFrame({"t": cells})).decode()}
    out = {}
    for where, text in written.items():
        import csv as csvmod

        values = [v for row in csvmod.reader(io.StringIO(text)) for v in row]
        out[where] = {"cells": len(values), "formula_cells_unescaped":
                      sum(v.startswith(FORMULA_PREFIXES) for v in values)}
    return out


def model_folders() -> dict:
    from tiny_models import build_tiny_encoder

    from core.errors import UserError
    from core.models import catalog

    base = Path(os.environ["UCLAB_HOME"]) / "evil-src"
    build_tiny_encoder(base / "tiny")
    config = json.loads((base / "tiny" / "config.json").read_text())

    def folder(name: str, files: dict[str, bytes | str]) -> Path:
        path = base / name
        path.mkdir(parents=True, exist_ok=True)
        for f, body in files.items():
            (path / f).write_bytes(body if isinstance(body, bytes) else body.encode())
        return path

    weights = (base / "tiny" / "model.safetensors").read_bytes()
    evil = {
        "auto_map in config.json": folder("automap", {"config.json": json.dumps({**config, "auto_map": {
            "AutoModel": "m.M"}}), "model.safetensors": weights, "m.py": "import os"}),
        "auto_map in tokenizer_config.json": folder("tokmap", {
            "config.json": json.dumps(config), "model.safetensors": weights,
            "tokenizer_config.json": json.dumps({"auto_map": {"AutoTokenizer": ["t.T", None]}})}),
        "pickle weights only": folder("pickle", {"config.json": json.dumps(config),
                                                 "pytorch_model.bin": b"\x80\x04N."}),
        "no weights": folder("noweights", {"config.json": json.dumps(config)}),
        "no model_type": folder("notype", {"config.json": json.dumps({"hidden_size": 8}),
                                          "model.safetensors": weights}),
        "config.json not JSON": folder("badjson", {"config.json": "{not json", "model.safetensors": weights}),
        "not a folder": base / "does-not-exist",
    }
    out = {}
    for what, path in evil.items():
        try:
            catalog.add_local_model(str(path))
            out[what] = "ACCEPTED"
        except UserError as exc:
            out[what] = "refused: " + str(exc)[:110]
        except Exception as exc:  # noqa: BLE001
            out[what] = f"CRASH {type(exc).__name__}: {exc}"[:140]
    return out


def hosts() -> dict:
    out = {}
    for script in ("serve_app.py", "app.py"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", script, "--server.headless",
                                 "true", "--server.port", str(port), "--server.fileWatcherType", "none"],
                                cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.5)
            time.sleep(2)
            out[script] = {f"{what} Host {host}": _status(port, path, host, ws)
                           for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"evil.example:{port}",
                                        "127.0.0.1.nip.io", "")
                           for what, path, ws in (("GET /", "/", False),
                                                  ("WebSocket (Origin = Host)", "/_stcore/stream", True))}
            head = _head(port, "/", f"127.0.0.1:{port}")
            out[script]["X-Frame-Options"] = "x-frame-options: sameorigin" in head
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out


def _head(port: int, path: str, host: str, ws: bool = False) -> str:
    extra = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: streamlit\r\n"
             f"Origin: http://{host}\r\n") if ws else "Connection: close\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
        data = sock.recv(8192)
    return data.decode("latin-1").lower()


def _status(port: int, path: str, host: str, ws: bool) -> int:
    return int(_head(port, path, host, ws).split(" ", 2)[1])


def databases() -> dict:
    from core.errors import DatabaseFileError
    from core.store import db

    home = Path(os.environ["UCLAB_HOME"]) / "dbs"
    out = {}
    for damage in ("zero bytes", "not SQLite", "bad header", "truncated", "another program's"):
        case = home / damage.replace(" ", "-").replace("'", "")
        case.mkdir(parents=True, exist_ok=True)
        os.environ["UCLAB_HOME"] = str(case)
        db.reset_engines()
        with db.session_scope(write=True) as s:
            s.execute(db.text("SELECT 1"))
        db.reset_engines()
        path = case / "uclab.db"
        good = path.read_bytes()
        for extra in ("-wal", "-shm"):
            Path(str(path) + extra).unlink(missing_ok=True)
        damaged = {"zero bytes": b"", "not SQLite": b"a,b\n" * 100,
                   "bad header": b"SQLite format 2\x00" + good[16:], "truncated": good[: len(good) // 2]}
        if damage in damaged:
            path.write_bytes(damaged[damage])
        else:
            path.unlink()
            import sqlite3

            with sqlite3.connect(path) as con:
                con.execute("CREATE TABLE notes (x)")
        before = path.read_bytes()
        done = subprocess.run([sys.executable, "-m", "core", "runs", "list"], cwd=ROOT, capture_output=True,
                              text=True, env={**os.environ, "UCLAB_HOME": str(case)})
        out[damage] = {"exit": done.returncode, "stderr": done.stderr.strip()[:150],
                       "unchanged": path.read_bytes() == before}
        try:
            db.get_engine()
        except DatabaseFileError:
            pass
    return out


PARTS = {"names": names, "bombs": bombs, "xss": xss, "exports": exports, "models": model_folders,
         "hosts": hosts, "databases": databases}

if __name__ == "__main__":
    wanted = sys.argv[1:] or list(PARTS)
    figures = {}
    for part in wanted:
        start = time.monotonic()
        figures[part] = PARTS[part]()
        figures[part + "_seconds"] = round(time.monotonic() - start, 1)
    print(json.dumps(figures, indent=1, default=str, ensure_ascii=False))
