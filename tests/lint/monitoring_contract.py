#!/usr/bin/env python3
"""The checks of lint/monitoring_test.sh that promtool does not make.

    monitoring_contract.py alerts ALERTS.yml ALERTS_TEST.yml RUNBOOK.md
        Mixin style (CamelCase Qharden* names, a severity, a static summary
        ending in a period, a templated description, a runbook_url whose
        anchor is a heading of RUNBOOK.md, one section per alert), and every
        alert has a firing and a non-firing case in ALERTS_TEST.yml.
    monitoring_contract.py metrics FILE.prom EXIT_CODE
        The metric contract (packaging/monitoring/README.md) on a real
        `qharden audit --format prometheus` output: families, labels, the
        zero-filled 12 qharden_findings, no status label on qharden_finding,
        no duplicate series, no timestamps, the exit code as the gauge says.
    monitoring_contract.py alert-test ALERTS.yml OUT.yml NAME=FILE.prom...
        Writes a promtool test that feeds each real output, as node_exporter
        would serve it, to the shipped rules and expects exactly the
        QhardenFindingFailing and QhardenAuditErrors alerts it should raise.
"""

import itertools
import re
import sys

import yaml

RUNBOOK_BASE = "https://github.com/qharden/qharden/blob/main/packaging/monitoring/runbook.md#"
SEVERITIES = ("critical", "warning", "info")
STATUSES = ("pass", "fail", "error", "skip")
# family -> its label names (sorted); None: any value of the family is checked elsewhere
FAMILIES = {
    "qharden_finding": ("rule", "severity", "subject"),
    "qharden_findings": ("severity", "status"),
    "qharden_sockets": ("state",),
    "qharden_smtp_greeting_seconds": ("kind", "listener"),
    "qharden_smtp_greeting_max_seconds": ("listener",),
    "qharden_audit_timestamp_seconds": (),
    "qharden_audit_duration_seconds": (),
    "qharden_audit_exit_code": (),
    "qharden_build_info": ("version",),
}
ALWAYS = ("qharden_finding", "qharden_findings", "qharden_audit_timestamp_seconds",
          "qharden_audit_duration_seconds", "qharden_audit_exit_code", "qharden_build_info")

errors = []


def fail(message):
    errors.append(message)


def github_anchor(heading):
    """The anchor GitHub gives a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def check_alerts(alerts_path, test_path, runbook_path):
    with open(alerts_path, encoding="utf-8") as file:
        rules = [rule for group in yaml.safe_load(file)["groups"] for rule in group["rules"]]
    with open(test_path, encoding="utf-8") as file:
        tests = yaml.safe_load(file)
    with open(runbook_path, encoding="utf-8") as file:
        headings = [line[3:].strip() for line in file if line.startswith("## ")]
    anchors = {github_anchor(heading): heading for heading in headings}
    names = []
    for rule in rules:
        name = rule.get("alert")
        if not name:
            fail(f"{alerts_path}: a recording rule ({rule.get('record')}); only alerts are shipped")
            continue
        names.append(name)
        if not re.fullmatch(r"Qharden(?:[A-Z][a-z0-9]+)+", name):
            fail(f"{name}: not CamelCase with the Qharden prefix")
        severity = rule.get("labels", {}).get("severity", "")
        if severity not in ("critical", "warning", "info") and "{{" not in severity:
            fail(f"{name}: labels.severity is {severity!r}")
        annotations = rule.get("annotations", {})
        summary = annotations.get("summary", "")
        if not summary.endswith(".") or "{{" in summary:
            fail(f"{name}: summary must be a static sentence ending in a period: {summary!r}")
        if "{{" not in annotations.get("description", ""):
            fail(f"{name}: description is missing or not templated")
        url = annotations.get("runbook_url", "")
        if not url.startswith(RUNBOOK_BASE):
            fail(f"{name}: runbook_url {url!r} does not start with {RUNBOOK_BASE}")
        elif url[len(RUNBOOK_BASE):] not in anchors:
            fail(f"{name}: runbook_url anchor #{url[len(RUNBOOK_BASE):]} is no heading of {runbook_path}")
    for anchor, heading in anchors.items():
        if heading not in names:
            fail(f"{runbook_path}: section {heading!r} is not an alert of {alerts_path}")
    if len(set(names)) != len(names):
        fail(f"{alerts_path}: an alert name is used twice")
    firing = set()
    quiet = set()
    for group in tests.get("tests") or []:
        for case in group.get("alert_rule_test") or []:
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    for name in names:
        if name not in firing:
            fail(f"{test_path}: no case where {name} fires")
        if name not in quiet:
            fail(f"{test_path}: no case where {name} must not fire")
    if not errors:
        print(f"ok    {len(names)} alerts: mixin annotations, runbook sections, firing and non-firing tests")


def parse_exposition(text):
    """[(name, {label: value}, value text, rest)] and {family: {'HELP', 'TYPE'}}."""
    samples = []
    metadata = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                metadata.setdefault(parts[2], {})[parts[1]] = parts[3] if len(parts) > 3 else ""
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if not match:
            fail(f"line {number}: not a sample: {line}")
            continue
        name = match.group(1)
        position = match.end()
        labels = {}
        if line[position:position + 1] == "{":
            position += 1
            label = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"\s*(,?)')
            while line[position:position + 1] != "}":
                match = label.match(line, position)
                if not match:
                    fail(f"line {number}: bad label set: {line}")
                    break
                if match.group(1) in labels:
                    fail(f"line {number}: label {match.group(1)} twice")
                labels[match.group(1)] = unescape(match.group(2))
                position = match.end()
                if not match.group(3) and line[position:position + 1] != "}":
                    fail(f"line {number}: bad label set: {line}")
                    break
            position += 1
        rest = line[position:].split()
        if not rest:
            fail(f"line {number}: no value: {line}")
            continue
        samples.append((name, labels, rest[0], rest[1:]))
    return samples, metadata


def check_metrics(path, exit_code):
    with open(path, encoding="utf-8") as file:
        samples, metadata = parse_exposition(file.read())
    by_family = {}
    seen = set()
    for name, labels, value, rest in samples:
        by_family.setdefault(name, []).append((labels, value))
        identity = (name, tuple(sorted(labels.items())))
        if identity in seen:
            fail(f"duplicate series {name}{labels}: node_exporter drops all but the first, "
                 "and its scrape error stays 0")
        seen.add(identity)
        if rest:
            fail(f"{name}{labels}: a timestamp ({rest[0]}); node_exporter refuses the whole file")
        try:
            float(value)
        except ValueError:
            fail(f"{name}{labels}: value {value!r} is not a number")
    for name, entries in by_family.items():
        if name not in FAMILIES:
            fail(f"{name}: not a family of the contract")
            continue
        meta = metadata.get(name, {})
        if not meta.get("HELP"):
            fail(f"{name}: no HELP")
        if meta.get("TYPE") != "gauge":
            fail(f"{name}: TYPE is {meta.get('TYPE')!r}, not gauge")
        for labels, _ in entries:
            if tuple(sorted(labels)) != FAMILIES[name]:
                fail(f"{name}{labels}: labels should be exactly {', '.join(FAMILIES[name]) or 'none'}")
    for name in ALWAYS:
        if name not in by_family:
            fail(f"{name}: missing")
    for name in ("qharden_audit_timestamp_seconds", "qharden_audit_duration_seconds",
                 "qharden_audit_exit_code", "qharden_build_info"):
        if len(by_family.get(name, [])) > 1:
            fail(f"{name}: {len(by_family[name])} series, not one")
    findings = by_family.get("qharden_finding", [])
    for labels, value in findings:
        if "status" in labels:
            fail(f"qharden_finding{labels}: has a status label (a pass/fail flip would start a new series)")
        if labels.get("severity") not in SEVERITIES:
            fail(f"qharden_finding{labels}: severity not one of {SEVERITIES}")
        if value not in ("0", "1"):
            fail(f"qharden_finding{labels}: value {value}, not 0 or 1")
    cells = {(labels.get("severity"), labels.get("status")): value
             for labels, value in by_family.get("qharden_findings", [])}
    expected = set(itertools.product(SEVERITIES, STATUSES))
    if set(cells) != expected or len(by_family.get("qharden_findings", [])) != 12:
        fail(f"qharden_findings: {len(by_family.get('qharden_findings', []))} series; expected the 12 of "
             f"severity x status, missing {sorted(expected - set(cells))}")
    failing = sum(1 for _, value in findings if value == "1")
    counted = sum(float(value) for (_, status), value in cells.items() if status == "fail")
    if failing != counted:
        fail(f"qharden_finding has {failing} failing, qharden_findings{{status=\"fail\"}} sums to {counted:g}")
    total = sum(float(value) for value in cells.values())
    if len(findings) != total:
        fail(f"{len(findings)} qharden_finding series, qharden_findings sums to {total:g}")
    if not any(value == "1" and labels.get("severity") in ("critical", "warning") for labels, value in findings):
        fail("no failing critical or warning finding: the fixture should have one")
    gauge = by_family.get("qharden_audit_exit_code", [({}, None)])[0][1]
    if gauge is not None and gauge != str(exit_code):
        fail(f"qharden_audit_exit_code is {gauge}, the audit exited {exit_code}")
    listeners = {labels.get("listener") for labels, _ in by_family.get("qharden_smtp_greeting_seconds", [])}
    limits = {labels.get("listener") for labels, _ in by_family.get("qharden_smtp_greeting_max_seconds", [])}
    if listeners != limits:
        fail(f"listeners with a greeting {sorted(listeners)} but with a maximum {sorted(limits)}")
    if "qharden_info" in by_family:
        fail("qharden_info is still written (replaced by qharden_build_info)")
    if not errors:
        print(f"ok    {path}: {len(samples)} series follow the contract "
              f"({len(findings)} findings, {failing} failing)")


def alert_test(alerts_path, out_path, pairs):
    input_series = []
    firing = []
    erring = []
    for pair in pairs:
        name, path = pair.split("=", 1)
        instance = f"{name}:9100"
        with open(path, encoding="utf-8") as file:
            samples, _ = parse_exposition(file.read())
        errors_total = 0.0
        # node_exporter is up, so QhardenNotReporting must stay quiet
        input_series.append({"series": f'up{{instance="{instance}",job="node"}}', "values": "1x15"})
        for metric, labels, value, _ in samples:
            labels = dict(labels, job="node", instance=instance)
            text = ",".join(f'{key}="{escape(val)}"' for key, val in sorted(labels.items()))
            input_series.append({"series": f"{metric}{{{text}}}", "values": f"{value}x15"})
            if metric == "qharden_finding" and value == "1" and labels["severity"] in ("critical", "warning"):
                firing.append(labels)
            if metric == "qharden_findings" and labels["status"] == "error":
                errors_total += float(value)
        if errors_total > 0:
            erring.append(({"instance": instance}, errors_total))

    def alerts_query(name):
        return f'ALERTS{{alertname="{name}",alertstate="firing"}}'

    def samples_of(name, label_sets, severity=None):
        result = []
        for labels in label_sets:
            labels = dict(labels, alertname=name, alertstate="firing")
            if severity:
                labels["severity"] = severity
            text = ",".join(f'{key}="{escape(val)}"' for key, val in sorted(labels.items()))
            result.append({"labels": f"ALERTS{{{text}}}", "value": 1})
        return result

    cases = [
        {"expr": alerts_query("QhardenFindingFailing"), "eval_time": "5m", "exp_samples": []},
        {"expr": alerts_query("QhardenFindingFailing"), "eval_time": "11m",
         "exp_samples": samples_of("QhardenFindingFailing", firing)},
        {"expr": alerts_query("QhardenAuditErrors"), "eval_time": "11m",
         "exp_samples": samples_of("QhardenAuditErrors", [labels for labels, _ in erring], "warning")},
        {"expr": alerts_query("QhardenNotReporting"), "eval_time": "11m", "exp_samples": []},
    ]
    document = {"rule_files": [alerts_path], "evaluation_interval": "1m",
                "tests": [{"name": "real qharden output", "interval": "1m",
                           "input_series": input_series, "promql_expr_test": cases}]}
    with open(out_path, "w", encoding="utf-8") as file:
        yaml.safe_dump(document, file, sort_keys=False, width=1000)
    print(f"ok    wrote {out_path}: {len(firing)} QhardenFindingFailing, {len(erring)} QhardenAuditErrors expected")


def unescape(value):
    return re.sub(r"\\(.)", lambda match: "\n" if match.group(1) == "n" else match.group(1), value)


def escape(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def main(argv):
    if len(argv) == 5 and argv[1] == "alerts":
        check_alerts(argv[2], argv[3], argv[4])
    elif len(argv) == 4 and argv[1] == "metrics":
        check_metrics(argv[2], int(argv[3]))
    elif len(argv) >= 5 and argv[1] == "alert-test":
        alert_test(argv[2], argv[3], argv[4:])
    else:
        sys.exit(__doc__)
    for error in errors:
        print(f"FAIL  {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
