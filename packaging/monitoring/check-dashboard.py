#!/usr/bin/env python3
"""Every query of the Grafana dashboard is tested, and only those are.

    check-dashboard.py [DASHBOARD.json [TEST.yml]]

(defaults: qharden-fleet.json and qharden-dashboard.test.yml beside this
script). `promtool test rules TEST.yml` evaluates each promql_expr_test; this
check makes sure that the expressions it evaluates are the dashboard's own, so
that a panel edited or added without a test fails here instead of drifting
unnoticed. It fails when a panel's expression has no promql_expr_test with at
least one expected sample (an empty result proves little), when the test file
holds an expression no panel uses (a test of an old version of a panel), when
an expression uses a variable that has no fixed substitute, or when a panel
or query does not read from the ${datasource} variable.

Template variables are replaced the way Grafana does when "All" is selected:
a query variable with includeAll and an allValue becomes that allValue, so
`instance=~"$instance"` is tested as `instance=~".*"`. Any other variable,
Grafana's own ($__interval, $__range, ...) included, has no value promtool
could use and is an error.

Expressions are compared with the whitespace outside string literals
removed, so the test file may lay a long expression out differently.
"""

import json
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:
    sys.exit("check-dashboard: python3-yaml is needed to read the test file")

DATASOURCE_UID = "${datasource}"
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")


def normalise(expr):
    """The expression without whitespace outside its string literals."""
    out = []
    quote = None
    index = 0
    while index < len(expr):
        char = expr[index]
        if quote:
            out.append(char)
            if char == "\\" and quote != "`" and index + 1 < len(expr):
                out.append(expr[index + 1])
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
            out.append(char)
        elif not char.isspace():
            out.append(char)
        index += 1
    return "".join(out)


def panels_of(container):
    """Every panel, including those inside collapsed rows."""
    for panel in container.get("panels", []):
        yield panel
        yield from panels_of(panel)


def substitutes_of(dashboard, errors):
    substitutes = {}
    names = set()
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable.get("name")
        names.add(name)
        if variable.get("type") == "datasource":
            if variable.get("query") != "prometheus":
                errors.append(f"variable ${name}: a datasource variable of another type than prometheus")
            continue
        if variable.get("includeAll") and variable.get("allValue"):
            substitutes[name] = variable["allValue"]
    if "datasource" not in names:
        errors.append("no ${datasource} template variable: the dashboard would be tied to one data source")
    return substitutes


def substitute(expr, substitutes, where, errors):
    def replace(match):
        name = next(group for group in match.groups() if group)
        if name not in substitutes:
            errors.append(f"{where}: ${name} has no fixed value to test with "
                          "(only query variables with includeAll and an allValue have one)")
            return match.group(0)
        return substitutes[name]

    return VARIABLE.sub(replace, expr)


def uses_datasource_variable(datasource):
    if isinstance(datasource, dict):
        return datasource.get("uid") == DATASOURCE_UID
    return datasource == DATASOURCE_UID


def dashboard_exprs(dashboard, errors):
    substitutes = substitutes_of(dashboard, errors)
    exprs = {}
    ids = set()
    for panel in panels_of(dashboard):
        title = panel.get("title", "?")
        if panel.get("id") in ids:
            errors.append(f"panel {title!r}: id {panel.get('id')} is used twice")
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        if not uses_datasource_variable(panel.get("datasource")):
            errors.append(f"panel {title!r}: datasource is not {DATASOURCE_UID}")
        targets = panel.get("targets", [])
        if not targets:
            errors.append(f"panel {title!r}: no query")
        for target in targets:
            where = f"panel {title!r} query {target.get('refId', '?')}"
            if "datasource" in target and not uses_datasource_variable(target["datasource"]):
                errors.append(f"{where}: datasource is not {DATASOURCE_UID}")
            expr = target.get("expr", "").strip()
            if not expr:
                errors.append(f"{where}: no expr")
                continue
            tested = substitute(expr, substitutes, where, errors)
            exprs.setdefault(normalise(tested), []).append((where, tested))
    return exprs


def test_exprs(tests):
    """Normalised expr -> number of its promql_expr_tests that expect samples."""
    exprs = {}
    for group in tests.get("tests") or []:
        for case in group.get("promql_expr_test") or []:
            key = normalise(case.get("expr", ""))
            expecting = 1 if case.get("exp_samples") else 0
            exprs[key] = exprs.get(key, 0) + expecting
    return exprs


def main(argv):
    here = Path(__file__).resolve().parent
    dashboard_path = Path(argv[1]) if len(argv) > 1 else here / "qharden-fleet.json"
    test_path = Path(argv[2]) if len(argv) > 2 else here / "qharden-dashboard.test.yml"
    errors = []
    with open(dashboard_path, encoding="utf-8") as file:
        dashboard = json.load(file)
    with open(test_path, encoding="utf-8") as file:
        tests = yaml.safe_load(file)
    # Schema 36 (Grafana 9.0) is where panels refer to their data source as a
    # {type, uid} object, as this dashboard does with ${datasource}.
    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < 36:
        errors.append(f"schemaVersion {dashboard.get('schemaVersion')!r}: 36 (Grafana 9) or newer expected")
    if not dashboard.get("uid"):
        errors.append("no uid: every import would make another copy instead of replacing the dashboard")
    panel_exprs = dashboard_exprs(dashboard, errors)
    tested = test_exprs(tests)
    for key, uses in sorted(panel_exprs.items()):
        where, expr = uses[0]
        if key not in tested:
            errors.append(f"{where}: no promql_expr_test in {test_path.name} for: {expr}")
        elif tested[key] == 0:
            errors.append(f"{where}: every promql_expr_test of this expr expects no sample: {expr}")
    for key in sorted(set(tested) - set(panel_exprs)):
        errors.append(f"{test_path.name}: no panel uses this tested expr (left from an old panel?): {key}")
    for error in errors:
        print(f"FAIL  {error}")
    if errors:
        return 1
    cases = sum(len(group.get("promql_expr_test") or []) for group in tests.get("tests") or [])
    print(f"ok    {dashboard_path.name}: {len(panel_exprs)} distinct panel expressions, each covered by "
          f"{test_path.name} ({cases} promql_expr_test cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
