#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: qharden_audit_info
short_description: Audit a qmail/xinetd mail host with qharden and return the report
version_added: 0.2.0
description:
  - Runs C(qharden audit --json) and returns its schema-1 report. Changes nothing on the host.
  - Failing findings are not a task failure. The audit's exit code (2 a critical finding fails, 1 a
    warning finding fails, 3 a rule could not check, 0 otherwise) is returned in I(exit_code); judge the
    findings with M(ansible.builtin.assert).
  - The task fails only when qharden prints no report, which happens on bad usage or a bad config file
    (exit code 3, the reason on stderr).
author:
  - qharden engineers (@qharden)
options:
  rules:
    description:
      - The rule ids to audit, each passed as C(--rule ID). An empty list audits every rule.
    type: list
    elements: str
    default: []
  binary:
    description:
      - Path of the qharden executable on the managed host.
    type: path
    default: /usr/sbin/qharden
  config:
    description:
      - A qharden configuration file to use instead of C(/etc/qharden/qharden.toml) (C(--config)).
    type: path
  root:
    description:
      - Audit the tree under this directory as if it were C(/) (C(--root)). Meant for tests on fixture
        trees.
    type: path
  offline:
    description:
      - Pass C(--offline), which makes no live probe (DNS, SMTP, runtime sysctl values); the findings
        that need one are skipped.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The audit only reads, so it runs in check mode as it does otherwise.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
  platform:
    support: full
    platforms: posix
    description: Debian 12 and 13 mail hosts with the qharden package installed.
notes:
  - Some rules read netfilter or other users' processes; run as root (for example C(become=true)) for a
    complete audit.
seealso:
  - module: qharden.fleet.qharden_apply
'''

EXAMPLES = r'''
- name: Audit the rules that delay the SMTP greeting
  qharden.fleet.qharden_audit_info:
    rules:
      - tcp-env.flags
      - tcpserver.flags
  become: true
  register: qharden_audit

- name: No critical finding fails
  ansible.builtin.assert:
    that:
      - qharden_audit.exit_code != 2
    fail_msg: >-
      {{ qharden_audit.report.findings | selectattr('status', 'equalto', 'fail')
         | map(attribute='message') | list }}

- name: Audit files only, without DNS or SMTP probes
  qharden.fleet.qharden_audit_info:
    offline: true
  register: qharden_offline_audit
'''

RETURN = r'''
report:
  description: The report of C(qharden audit --json), schema 1.
  returned: always
  type: dict
  contains:
    schema:
      description: The schema version, 1.
      type: int
      sample: 1
    tool:
      description: C(name) and C(version) of qharden.
      type: dict
      sample: {name: qharden, version: 0.2.0}
    host:
      description: The host name.
      type: str
      sample: mx1
    root:
      description: The audited root.
      type: str
      sample: /
    offline:
      description: Whether live probes were left out.
      type: bool
      sample: false
    status:
      description: The overall status.
      type: str
      sample: fail
    exit_code:
      description: The audit's exit code, as I(exit_code).
      type: int
      sample: 2
    counts:
      description: The number of findings by status (C(pass), C(fail), C(error), C(skip)).
      type: dict
      sample: {pass: 1, fail: 3, error: 0, skip: 2}
    findings:
      description: One entry per rule and subject.
      type: list
      elements: dict
      contains:
        rule:
          description: The rule id.
          type: str
          sample: tcp-env.flags
        subject:
          description: What was checked.
          type: str
          sample: /etc/xinetd.d/smtp_psa:smtp
        status:
          description: C(pass), C(fail), C(error) or C(skip).
          type: str
          sample: fail
        severity:
          description: The rule's severity, C(critical), C(warning) or C(info).
          type: str
          sample: critical
        fixable:
          description: Whether C(qharden apply) can fix it.
          type: bool
          sample: true
        message:
          description: The finding in one line.
          type: str
        evidence:
          description: The rule's data behind the finding.
          type: dict
exit_code:
  description: qharden audit's exit code, 0 all pass, 1 a warning fails, 2 a critical finding fails,
    3 a rule could not check.
  returned: always
  type: int
  sample: 2
changed:
  description: Always false.
  returned: always
  type: bool
  sample: false
rc:
  description: The exit code of qharden when it printed no report.
  returned: on failure
  type: int
  sample: 3
stderr:
  description: What qharden printed on stderr when it printed no report.
  returned: on failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.qharden.fleet.plugins.module_utils.qharden import (
    COMMON_ARGUMENT_SPEC,
    command_line,
    load_json_object,
    run_qharden,
    schema_problem,
    selection_args,
    stderr_text,
)

# audit's exit codes: 1 and 2 are failing findings, 3 is a rule that could
# not check (with a report) or bad usage (without one).
AUDIT_EXIT_CODES = (0, 1, 2, 3)


def main():
    module = AnsibleModule(argument_spec=dict(COMMON_ARGUMENT_SPEC), supports_check_mode=True)

    argv, rc, out, err = run_qharden(module, ['audit', '--json'] + selection_args(module.params))
    report = load_json_object(out)
    if report is None or rc not in AUDIT_EXIT_CODES:
        module.fail_json(msg='%s exited with %d: %s' % (command_line(argv), rc, stderr_text(err)),
                         rc=rc, stdout=out, stderr=err, cmd=argv)
    problem = schema_problem(report, 'audit')
    if problem:
        module.fail_json(msg=problem, rc=rc, stdout=out, stderr=err, cmd=argv)

    module.exit_json(changed=False, report=report, exit_code=rc)


if __name__ == '__main__':
    main()
