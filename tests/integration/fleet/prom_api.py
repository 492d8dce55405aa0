#!/usr/bin/env python3
"""Small reader of Prometheus's HTTP API for fleet_e2e_test.sh.

  prom_api.py URL ready                      exit 0 once /-/ready answers
  prom_api.py URL query EXPR                 one line per sample: labels as k=v, then the value
  prom_api.py URL alerts                     one line per alert: name state then labels as k=v
  prom_api.py URL targets                    one line per active target: scrapeUrl health lastError

Lines are sorted, so the test can compare them as text.
"""
import json
import sys
import urllib.parse
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def api(base, path, **params):
    query = urllib.parse.urlencode(params)
    document = json.loads(get(base + path + ("?" + query if query else "")))
    if document.get("status") != "success":
        raise SystemExit(f"{path}: {document}")
    return document["data"]


def labels(mapping):
    return " ".join(f"{key}={mapping[key]}" for key in sorted(mapping))


def main():
    base, command, *rest = sys.argv[1:]
    base = base.rstrip("/")
    lines = []
    if command == "ready":
        get(base + "/-/ready")
        return
    if command == "query":
        for sample in api(base, "/api/v1/query", query=rest[0])["result"]:
            lines.append(f"{labels(sample['metric'])} {sample['value'][1]}")
    elif command == "alerts":
        for alert in api(base, "/api/v1/alerts")["alerts"]:
            lines.append(f"{alert['labels'].get('alertname', '?')} {alert['state']} {labels(alert['labels'])}")
    elif command == "targets":
        for target in api(base, "/api/v1/targets")["activeTargets"]:
            lines.append(f"{target['scrapeUrl']} {target['health']} {target.get('lastError', '')}")
    else:
        raise SystemExit(f"unknown command {command}")
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
