"""Protocol servers that misbehave on purpose, for tests of the runner (run as scripts).

    python fake_servers.py hang|die|garbage|ok
"""

import json
import sys
import time


def main(mode: str) -> None:
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "hello":
            reply = {"id": req["id"], "status": "ok", "name": f"fake-{mode}", "version": "0",
                     "operations": ["read", "list"], "features": ["dtype:float32"]}
        elif req["op"] == "list" and mode == "hang":
            time.sleep(60)
            continue
        elif req["op"] == "list" and mode == "die":
            sys.exit(3)
        elif req["op"] == "list" and mode == "garbage":
            sys.stdout.write("this is not JSON\n")
            sys.stdout.flush()
            continue
        elif req["op"] == "list":
            reply = {"id": req["id"], "status": "ok", "tensors": [{"key": "w", "dtype": "float32", "shape": [2]}]}
        elif req["op"] == "read":
            reply = {"id": req["id"], "status": "error", "category": "DATA_LOSS", "message": "bad"}
        else:
            reply = {"id": req["id"], "status": "unsupported"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if req["op"] == "shutdown":
            break


if __name__ == "__main__":
    main(sys.argv[1])
