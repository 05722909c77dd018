"""Plot ``growth.py``'s JSON as a PNG beside it (needs only matplotlib; no TensorFlow, no tfckpt).

    python benchmarks/plot_growth.py benchmarks/results/<date>-growth.json
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    keys = [r["keys"] for r in data["keys"]]
    for field, label, style in (("list", "list", "-"), ("get_all", "get every tensor", "--")):
        left.plot(keys, [r["tf_" + field] for r in data["keys"]], "o" + style, color="tab:orange", label=f"TF {label}")
        left.plot(keys, [r["ours_" + field] for r in data["keys"]], "s" + style, color="tab:blue", label=f"tfckpt {label}")
    left.set(xscale="log", yscale="log", xlabel="keys in the checkpoint", ylabel="seconds (best)", title="cost vs keys")
    sizes = [r["bytes"] / (1 << 20) for r in data["bytes"]]
    for field, label, style in (("get", "get_tensor", "-"), ("save", "save", "--")):
        right.plot(sizes, [r["tf_" + field] for r in data["bytes"]], "o" + style, color="tab:orange", label=f"TF {label}")
        right.plot(sizes, [r["ours_" + field] for r in data["bytes"]], "s" + style, color="tab:blue", label=f"tfckpt {label}")
    right.set(xscale="log", yscale="log", xlabel="tensor size (MiB)", ylabel="seconds (best)", title="cost vs bytes")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    env = data["environment"]
    fig.suptitle(f"tfckpt {env['tfckpt']} vs TensorFlow {env['tensorflow']} — {env['ncpu']} CPUs, load {env['load']}",
                 fontsize=9)
    fig.tight_layout()
    out = path[: -len(".json")] + ".png"
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
