#!/usr/bin/env python
"""Train two iris classifiers, save them as skops and ONNX, create the models and upload them through the API.

    .venv/bin/python scripts/upload_iris.py [--url http://127.0.0.1:8000] [--token rl_…] [--team demo]

Without --token it uses the demo admin's token from var/demo-admin.json (written by `make up`).
"""

import argparse
import json
import sys
import tempfile
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


if __name__ == "__main__":
    main()
