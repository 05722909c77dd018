"""Start-up of the command line: CPU seconds of ``tfckpt --help``, ``tfckpt ls`` and ``tfckpt inspect``,
side by side with ``python -m tensorflow.python.tools.inspect_checkpoint`` on the same fixture.

Each command runs in a fresh interpreter ``REPEAT`` times; the report gives the median of
user+system CPU (from ``resource.getrusage(RUSAGE_CHILDREN)``), the ratio to TensorFlow's
tool, and the bare interpreter and ``import numpy`` for scale (numpy is the floor for any
command that reads a tensor).  ``python -X importtime -m tfckpt ...`` shows where time goes.

    PYTHONPATH=reference python benchmarks/startup.py [--no-tensorflow]
"""

import os
import resource
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = os.path.join(ROOT, "fixtures", "tf-2.21.0", "dtype-float32-rank2", "ckpt")
REPEAT = 5


def cpu_seconds(argv) -> float:
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "reference"), TF_CPP_MIN_LOG_LEVEL="3")
    samples = []
    for _ in range(REPEAT):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(samples)


def main() -> None:
    py = sys.executable
    rows = [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import numpy'", [py, "-c", "import numpy"]),
        ("tfckpt --help", [py, "-m", "tfckpt", "--help"]),
        ("tfckpt ls PREFIX", [py, "-m", "tfckpt", "ls", PREFIX]),
        ("tfckpt inspect --file_name=PREFIX", [py, "-m", "tfckpt", "inspect", f"--file_name={PREFIX}"]),
    ]
    tf_row = ("TF inspect_checkpoint --file_name=PREFIX",
              [py, "-m", "tensorflow.python.tools.inspect_checkpoint", f"--file_name={PREFIX}"])
    if "--no-tensorflow" not in sys.argv:
        rows.append(tf_row)
    results = [(name, cpu_seconds(argv)) for name, argv in rows]
    tf_time = results[-1][1] if "--no-tensorflow" not in sys.argv else None
    print(f"| command | CPU s (median of {REPEAT}) | ratio to TF's tool |")
    print("|---|---|---|")
    for name, seconds in results:
        ratio = f"{seconds / tf_time:.3f}" if tf_time else "-"
        print(f"| `{name}` | {seconds:.3f} | {ratio} |")


if __name__ == "__main__":
    main()
