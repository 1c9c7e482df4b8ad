"""What the scale benchmarks share: the demo LeRobot corpus at the size issue 13 measured, and how to build it.

The corpus is the demo robot at 640 x 480, 300-frame episodes, 30 fps (about 175 triplets per episode). It is written
once into a cache folder and reused by later runs (generating takes about 2.5 s per episode). The benchmarks build
with the default preset, as users do (``DEFAULT_PRESET``): every episode of the drawn robot starts from the same
picture, so some triplets recur across splits (2.7 % of 16.5 K), under v4's share-based gate (v3 refused any).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from remot_data.demo.lerobot import DemoLeRobotConfig, write_demo_lerobot
from remot_data.pipeline import BuildConfig

DEFAULT_PRESET = BuildConfig().preset


def lerobot_corpus(cache: Path, n_episodes: int) -> Path:
    """Return a demo LeRobot dataset of ``n_episodes`` at 640 x 480 under ``cache``, writing it if absent."""
    root = Path(cache) / f"lerobot_{n_episodes}ep_640x480"
    if not (root / "meta" / "info.json").exists():
        started = time.perf_counter()
        write_demo_lerobot(root, DemoLeRobotConfig(n_episodes=n_episodes, n_frames=300, fps=30, width=640, height=480))
        print(f"wrote {root} ({n_episodes} episodes) in {time.perf_counter() - started:.0f} s", flush=True)
    return root


def run_measured(code: str, env: dict[str, str | None] | None = None, **names: str) -> dict:
    """Run Python ``code`` in a fresh interpreter; return its ``RESULT`` dict (plus ``max_rss_gb``, its peak RSS).

    A fresh process per measurement: peak RSS is that process's own, and no run inherits another's caches. ``env``
    sets (or, with None, removes) environment variables; each of ``names`` becomes a string variable of the code.
    """
    code = "".join(f"{name} = {value!r}\n" for name, value in names.items()) + code
    code += (
        "\nimport json as _j, resource as _r"
        "\nprint(_j.dumps({**RESULT, 'max_rss_gb': _r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1e6}))"
    )
    started = time.perf_counter()
    merged = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=merged)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process_wall_s": wall}


BUILD = """
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from remot_data.pipeline import BuildConfig, SourceInput
inputs = [SourceInput(source='lerobot', path=Path(ROOT), lerobot_mapping='remot_demo')]
config = BuildConfig(preset=PRESET)
marks = {}
def timed(mapper):
    def run(fn, batches):
        marks['clips_start'] = time.perf_counter()
        out = list(mapper(fn, batches))
        marks['clips_end'] = time.perf_counter()
        return out
    return run
start = time.perf_counter()
if MODE == 'flow':
    import os
    os.environ.setdefault('PREFECT_LOGGING_LEVEL', 'WARNING')
    os.environ.setdefault('PREFECT_SERVER_ANALYTICS_ENABLED', 'false')
    from flows.build_dataset import build_dataset as flow
    manifest = flow(inputs, Path(OUT), config)
else:
    from remot_data.pipeline import build_dataset
    if MODE == 'library':
        mapper = map
    else:  # library_threads: the batches on one thread per CPU, as the flow's task runner runs them
        pool = ThreadPoolExecutor(max_workers=os.cpu_count())
        mapper = pool.map
    manifest = build_dataset(inputs, Path(OUT), config, map_batches=timed(mapper))
end = time.perf_counter()
RESULT = {'wall_s': end - start, 'triplets': manifest['counts']['triplets']}
if marks:
    RESULT.update(plan_s=marks['clips_start'] - start, clips_s=marks['clips_end'] - marks['clips_start'],
                  publish_s=end - marks['clips_end'])
"""


def build_in_child(
    root: Path, out: Path, preset: str | Path, mode: str, env: dict[str, str | None] | None = None
) -> dict:
    """Build ``root`` into ``out`` in a fresh process (``mode``: library, library_threads or flow); return timings.

    ``env`` adds environment variables (``PREFECT_API_URL`` of a running server for the flow).

    Returns:
        wall_s, triplets, max_rss_gb, and for the library modes the phases plan_s, clips_s, publish_s.
    """
    return run_measured(BUILD, env, ROOT=str(root), OUT=str(out), PRESET=str(preset), MODE=mode)
