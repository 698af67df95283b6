"""A stand-in for a user's editor saving a notebook, run as its own process.

Reads one JSON command per line on stdin: ``{"path": ..., "saves": [[delay_ms, style], ...]}``.
For each save it sleeps ``delay_ms``, then writes the notebook with one more cell whose source is
``# save <n>`` (n counts up across the process's life), in one of three ways editors use:
``jupyter`` (jupyter_server's own ``atomic_writing``: a backup copy, then a write in place),
``inplace`` (truncate and write, in two pieces), ``rename`` (a temporary file renamed over).
Like an editor, it loads the notebook once per command and saves its own model from then on
(every cell a previous save wrote is in each later save). Prints ``done <n>`` after each command.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _read(path: Path) -> dict:
    while True:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, FileNotFoundError):  # caught envkit mid-swap: read again
            time.sleep(0.0005)


def _save(path: Path, text: str, style: str) -> None:
    if style == "jupyter":
        from jupyter_server.services.contents.fileio import atomic_writing

        with atomic_writing(str(path)) as fh:
            fh.write(text)
    elif style == "inplace":
        half = len(text) // 2
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text[:half])
            fh.flush()
            time.sleep(0.0002)
            fh.write(text[half:])
    else:
        tmp = path.with_name(f".{path.name}.editor-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def main() -> None:
    n = 0
    for line in sys.stdin:
        command = json.loads(line)
        path = Path(command["path"])
        nb = _read(path)  # an editor loads the notebook once and saves its own model from then on
        for delay_ms, style in command["saves"]:
            time.sleep(delay_ms / 1000)
            n += 1
            nb["cells"].append({"cell_type": "code", "execution_count": None, "id": f"save-{n}",
                                "metadata": {}, "outputs": [], "source": f"# save {n}"})
            _save(path, json.dumps(nb, indent=1, sort_keys=True) + "\n", style)
        print(f"done {n}", flush=True)


if __name__ == "__main__":
    main()
