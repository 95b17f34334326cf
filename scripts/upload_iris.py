#!/usr/bin/env python
"""Train two iris classifiers, save them as skops and ONNX, upload them through the API and deploy them.

    .venv/bin/python scripts/upload_iris.py [--url http://127.0.0.1:8000] [--token rl_…] [--team demo]
                                            [--no-deploy] [--serve-url http://127.0.0.1:8080]

Without --token it uses the demo admin's token from var/demo-admin.json (written by `make up`). Deploying creates a
deployment per model; the worker reconciles it onto Ray, and the script waits until both answer over v1 and v2.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import skops.io
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent


def train(folder: Path) -> dict[str, Path]:
    features, labels = load_iris(return_X_y=True)
    logistic = LogisticRegression(max_iter=500).fit(features, labels)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(features, labels)
    skops.io.dump(logistic, folder / "iris.skops")
    onnx_model = to_onnx(forest, features[:1].astype(np.float32), options={id(forest): {"zipmap": False}})
    (folder / "iris.onnx").write_bytes(onnx_model.SerializeToString())
    return {"iris-skops": folder / "iris.skops", "iris-onnx": folder / "iris.onnx"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", default=None)
    parser.add_argument("--team", default="demo")
    parser.add_argument("--no-deploy", action="store_true", help="upload only")
    parser.add_argument("--serve-url", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    token = args.token or json.loads((ROOT / "var" / "demo-admin.json").read_text())["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    with tempfile.TemporaryDirectory() as folder:
        for name, path in train(Path(folder)).items():
            created = session.post(f"{args.url}/api/v1/models/", json={"name": name, "team": args.team})
            if created.status_code not in (201, 400):
                sys.exit(f"creating {name}: {created.status_code} {created.text}")
            with path.open("rb") as artifact:
                response = session.post(
                    f"{args.url}/api/v1/models/{name}/versions/",
                    files={"artifact": (path.name, artifact)},
                    data={"metadata": json.dumps({"dataset": "iris", "trained_by": "scripts/upload_iris.py"})},
                )
            if response.status_code != 201:
                sys.exit(f"uploading {path.name}: {response.status_code} {response.text}")
            version = response.json()
            print(
                f"{name} v{version['version']}: {version['format']} {version['validation_status']} "
                f"sha256={version['sha256'][:12]}… {version['size']} bytes"
            )
            if not args.no_deploy:
                deploy(session, args, name, version["version"])


def deploy(session: requests.Session, args: argparse.Namespace, name: str, number: int) -> None:
    existing = session.get(f"{args.url}/api/v1/deployments/", params={"model": name}).json()["results"]
    if existing:
        response = session.patch(f"{args.url}/api/v1/deployments/{existing[0]['id']}/", json={"stable_version": number})
    else:
        response = session.post(f"{args.url}/api/v1/deployments/", json={"model": name, "stable_version": number})
    if response.status_code not in (200, 201):
        sys.exit(f"deploying {name}: {response.status_code} {response.text}")
    v1 = f"{args.serve_url}/v1/models/{name}:predict"
    v2 = f"{args.serve_url}/v2/models/{name}/infer"
    row = [5.1, 3.5, 1.4, 0.2]
    tensor = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": row}]}
    started = time.monotonic()
    while time.monotonic() - started < 180:
        try:
            answers = requests.post(v1, json={"instances": [row]}, timeout=5), requests.post(v2, json=tensor, timeout=5)
            if all(answer.status_code == 200 for answer in answers):
                print(f"  serving after {time.monotonic() - started:.1f} s: v1 {answers[0].json()}")
                print(f"  curl -s {v1} -d '{json.dumps({'instances': [row]})}'")
                print(f"  curl -s {v2} -d '{json.dumps(tensor)}'")
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    sys.exit(f"{name} did not answer at {v1} within 180 s: is the worker running and Ray up? (make up)")


if __name__ == "__main__":
    main()
