"""posit-sdk, unchanged, against Offhost: each scenario calls the SDK's public functions and
prints one JSON object of what it saw, for test/compat/clients.test.ts to check.

Usage: python sdk_scenarios.py SCENARIO [ARGS...]; CONNECT_SERVER and CONNECT_API_KEY name the
server and the key, as posit-sdk reads them.
"""

import io
import json
import os
import sys
import tempfile

from posit.connect import Client
from posit.connect.errors import ClientError


def environments():
    client = Client()
    out = {"version": client.version}
    envs = client.environments
    created = envs.create(
        title="SDK env",
        name="ghcr.io/org/sdk:1",
        cluster_name="Kubernetes",
        matching="exact",
        description="made by posit-sdk",
        python={"installations": [{"version": "3.12.4", "path": "/opt/python/3.12.4/bin/python3"}]},
    )
    out["created"] = {"guid": created["guid"], "title": created["title"], "matching": created["matching"]}
    out["listed"] = sorted(e["name"] for e in envs)
    found = envs.find(created["guid"])
    out["found_title"] = found["title"]
    by = envs.find_by(name="ghcr.io/org/sdk:1")
    out["find_by_guid"] = by["guid"] if by else None
    # update() sends only the keys passed; the others must stay as they were
    found.update(title="SDK env, renamed")
    again = envs.find(created["guid"])
    out["updated"] = {"title": again["title"], "description": again["description"], "python": again["python"]}
    again.destroy()
    out["after_delete"] = sorted(e["name"] for e in envs)
    try:
        envs.find(created["guid"])
        out["find_deleted"] = "found"
    except ClientError as e:
        out["find_deleted"] = {"error_code": e.error_code, "http_status": e.http_status}
    return out


def content(bundle_path, bad_bundle_path):
    client = Client()
    out = {"me": {"username": client.me["username"], "user_role": client.me["user_role"]}}
    item = client.content.create(name="sdk-api", title="SDK API", cpu_limit=1.5, memory_limit=1073741824)
    out["created"] = {k: item[k] for k in ("name", "title", "cpu_limit", "memory_limit", "bundle_id", "app_mode")}
    out["find_name"] = [c["guid"] for c in client.content.find(name="sdk-api")]
    out["find_owner"] = [c["name"] for c in client.content.find(owner_guid=client.me["guid"], include=["owner", "tags"])]
    by = client.content.find_by(name="sdk-api")
    out["find_by"] = by["guid"] if by else None
    out["find_one"] = client.content.find_one(name="sdk-api")["guid"]
    got = client.content.get(item["guid"])
    out["get_owner"] = got["owner"]["username"]
    item.update(title="SDK API, renamed", cpu_request=0.5, init_timeout=120)
    out["updated"] = {k: item[k] for k in ("title", "cpu_request", "cpu_limit", "init_timeout")}
    try:
        item.update(cpu_request=4)
        out["bad_update"] = "accepted"
    except ClientError as e:
        out["bad_update"] = {"error_code": e.error_code, "http_status": e.http_status, "error_message": e.error_message}

    bundle = item.bundles.create(bundle_path)
    out["bundle"] = {"id": bundle["id"], "content_guid": bundle["content_guid"], "active": bundle["active"]}
    try:
        item.bundles.create(bad_bundle_path)
        out["bad_bundle"] = "accepted"
    except ClientError as e:
        out["bad_bundle"] = {"error_code": e.error_code, "http_status": e.http_status, "error_message": e.error_message}
    with open(bundle_path, "rb") as f:
        second = item.bundles.create(f.read())
    out["bundles"] = [b["id"] for b in item.bundles.find()]
    out["bundle_get"] = item.bundles.get(bundle["id"])["id"]
    buf = io.BytesIO()
    item.bundles.get(bundle["id"]).download(buf)
    with open(bundle_path, "rb") as f:
        out["download_identical"] = buf.getvalue() == f.read()
    with tempfile.TemporaryDirectory() as d:
        target = os.path.join(d, "b.tar.gz")
        second.download(target)
        out["download_file_size"] = os.path.getsize(target)

    task = bundle.deploy()
    out["task_id"] = task["id"]
    try:
        task.wait_for(wait=1, max_attempts=2)
        out["wait_for"] = "finished"
    except TimeoutError as e:
        out["wait_for"] = "TimeoutError: " + str(e)
    task.update(first=0, wait=1)
    out["task"] = {"finished": task.is_finished, "error_code": task.error_code, "output": task["output"], "last": task["last"]}
    fresh = client.content.get(item["guid"])
    out["deployed"] = {k: fresh[k] for k in ("bundle_id", "app_mode", "image_name", "py_version")}
    out["active"] = item.bundles.active()["id"]
    out["jobs"] = sorted((j["tag"], j["status"]) for j in item.jobs)
    key = next(iter(item.jobs))["key"]
    out["job_find"] = item.jobs.find(key)["key"] == key
    # content.deploy() sends bundle_id null: the newest bundle
    t2 = item.deploy()
    output = []
    for _ in range(20):  # until the deploy has queued its jobs (and made bundle 2 the active one)
        t2.update(first=len(output), wait=1)
        output += t2["output"]
        if any(line.startswith("Status: queued") for line in output):
            break
    out["redeploy_output"] = output[:1]
    bundle.delete()
    out["after_bundle_delete"] = [b["id"] for b in item.bundles.find()]
    item.delete()
    out["after_delete"] = [c["name"] for c in client.content.find(name="sdk-api")]
    return out


def users():
    client = Client()
    found = client.users.find()
    pat = client.users.find_one(prefix="pa")
    return {
        "me": {"username": client.me["username"], "user_role": client.me["user_role"]},
        "usernames": sorted(u["username"] for u in found),
        "count": client.users.count(),
        "find_one": pat["username"] if pat else None,
        "get": client.users.get(pat["guid"])["username"],
        "publishers": sorted(u["username"] for u in client.users.find(user_role="publisher")),
        "groups": list(client.groups.find()),
    }


def bad_key():
    client = Client(os.environ["CONNECT_SERVER"], "ohk_this-is-not-a-key")
    try:
        client.me
        return {"result": "accepted"}
    except ClientError as e:
        return {"error_code": e.error_code, "error_message": e.error_message, "http_status": e.http_status, "str": str(e)}


if __name__ == "__main__":
    scenario, args = sys.argv[1], sys.argv[2:]
    result = {"environments": environments, "content": content, "users": users, "bad_key": bad_key}[scenario](*args)
    print(json.dumps(result))
