#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: qharden_apply
short_description: Apply qharden's fixes to a qmail/xinetd mail host
version_added: 0.2.0
description:
  - Runs C(qharden plan --json --detailed-exitcode) and, unless in check mode and when the plan has
    changes, C(qharden apply --json) with the same rule selection.
  - Whether something changed is read from qharden's JSON only (the plan's C(changes) in check mode,
    the C(changed) of apply's report otherwise), never from text output.
  - Fixes are atomic, journaled, verified and reversible (C(qharden rollback)); once applied, the
    qharden agent keeps them in place when Plesk rewrites a file.
  - Without I(rules), qharden fixes every fixable rule except C(rblsmtpd.sources), which it fixes only
    when named and otherwise reports as a refusal, so this module then fails on a host where
    C(rblsmtpd.sources) fails. Naming the rules is the safer way to roll out.
  - The module fails when the plan has a refusal (nothing is applied then), when apply reports a
    refused, failed, undone or rolled-back fix or a busy lock (exit code 1), and on bad usage or a bad
    config file (exit code 3), with qharden's reasons in I(msg).
author:
  - qharden engineers (@qharden)
options:
  rules:
    description:
      - The rule ids to fix, each passed as C(--rule ID), for example C(tcp-env.flags).
      - An empty list selects every fixable rule (see the description for C(rblsmtpd.sources)).
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
      - Work on the tree under this directory as if it were C(/) (C(--root)). Meant for tests on
        fixture trees.
    type: path
  offline:
    description:
      - Pass C(--offline) to plan and apply. Live probes (DNS, SMTP, runtime sysctl values) are not
        made, so the verification after each fix reads files only. Meant for tests.
    type: bool
    default: false
  reload:
    description:
      - Whether qharden reloads the services whose configuration it changed (xinetd, for example).
      - C(false) passes C(--no-reload) to apply.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Runs C(qharden plan) only and reports the changes it would make.
  diff_mode:
    support: full
    description:
      - One entry per planned change. A file shows its exact before and after content; a sysctl write
        or a firewall command shows qharden's own description of it.
  platform:
    support: full
    platforms: posix
    description: Debian 12 and 13 mail hosts with the qharden package installed.
notes:
  - Needs root on the managed host (for example C(become=true)) to apply fixes.
  - When the plan has no changes, apply is not run at all.
seealso:
  - module: qharden.fleet.qharden_audit_info
'''

EXAMPLES = r'''
- name: Fix the ident lookups that delay the SMTP greeting
  qharden.fleet.qharden_apply:
    rules:
      - tcp-env.flags
      - tcpserver.flags
      - firewall.ident-reject
  become: true
  register: qharden_fix

- name: Show what would change, without changing anything
  qharden.fleet.qharden_apply:
    rules: [tcp-env.flags]
  check_mode: true
  diff: true

- name: Fix the sysctl settings but leave xinetd running as it is
  qharden.fleet.qharden_apply:
    rules: [sysctl.tcp-fin-timeout, sysctl.tcp-keepalive]
    reload: false
  become: true
'''

RETURN = r'''
changed:
  description:
    - In check mode, whether the plan has changes; otherwise the C(changed) of apply's report (something
      on the host is now different).
  returned: always
  type: bool
  sample: true
change_id:
  description: The journal id of the change, for C(qharden rollback CHANGE_ID). Null when nothing was
    started, and always in check mode.
  returned: always
  type: str
  sample: 20261206T101500Z-1a2b
outcomes:
  description: One entry per rule and subject from apply's report. Empty in check mode and when the
    plan had nothing to do.
  returned: always
  type: list
  elements: dict
  contains:
    rule:
      description: The rule id.
      type: str
      sample: tcp-env.flags
    subject:
      description: What the rule checked, for example a file and service.
      type: str
      sample: /etc/xinetd.d/smtp_psa:smtp
    result:
      description: One of C(applied), C(unchanged), C(refused), C(failed), C(undone), C(rolled-back).
      type: str
      sample: applied
    reason:
      description: Why it was refused, failed, undone or rolled back; empty otherwise.
      type: str
      sample: ''
  sample:
    - rule: tcp-env.flags
      subject: /etc/xinetd.d/smtp_psa:smtp
      result: applied
      reason: ''
changes:
  description: The planned changes, exactly as C(qharden plan --json) lists them.
  returned: always
  type: list
  elements: dict
  contains:
    rule:
      description: The rule id.
      type: str
    subject:
      description: What the rule checked.
      type: str
    summary:
      description: One line saying what changes.
      type: str
    kind:
      description: C(file), C(sysctl) or C(command).
      type: str
    path:
      description: The file or C(/proc/sys) entry changed (file and sysctl changes).
      type: str
    encoding:
      description: C(utf-8), or C(base64) when I(before) and I(after) are base64 of the exact bytes.
      type: str
    before:
      description: The content or value before the change.
      type: str
    after:
      description: The content or value after the change.
      type: str
    diff:
      description: qharden's unified diff or description of the change.
      type: str
  sample:
    - rule: tcp-env.flags
      subject: /etc/xinetd.d/smtp_psa:smtp
      summary: "smtp (line 1): set tcp-env's options to -Rt0"
      kind: file
      path: /etc/xinetd.d/smtp_psa
      create: false
      encoding: utf-8
      before: "service smtp\n{\n  server_args = -c 100 /var/qmail/bin/tcp-env ...\n}\n"
      after: "service smtp\n{\n  server_args = -c 100 /var/qmail/bin/tcp-env -Rt0 ...\n}\n"
      diff: "--- a/etc/xinetd.d/smtp_psa\n+++ b/etc/xinetd.d/smtp_psa\n@@ ...\n"
refusals:
  description: The plan's refusals (rule and reason). The module fails when there is one.
  returned: always
  type: list
  elements: dict
  sample:
    - rule: rblsmtpd.sources
      reason: fixed only when named (--rule rblsmtpd.sources)
unfixed:
  description: Failing findings that no fix addresses, from the plan (rule, subject, severity, message).
  returned: always
  type: list
  elements: dict
  sample: []
notes:
  description: apply's notes, for example which service was reloaded and which rules were verified.
  returned: always
  type: list
  elements: str
  sample:
    - xinetd reloaded (pid 123)
    - "tcp-env.flags: verified, passes after the fix"
plan_exit_code:
  description: The exit code of C(qharden plan --detailed-exitcode) (0 nothing to do, 2 changes pending,
    1 a refusal).
  returned: always
  type: int
  sample: 2
plan:
  description: The parsed JSON of C(qharden plan --json).
  returned: on failure, when qharden printed it
  type: dict
apply:
  description: The parsed JSON of C(qharden apply --json).
  returned: on failure, when qharden printed it
  type: dict
rc:
  description: The exit code of the qharden command that failed.
  returned: on failure
  type: int
  sample: 1
stderr:
  description: What the failed qharden command printed on stderr.
  returned: on failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.qharden.fleet.plugins.module_utils.qharden import (
    COMMON_ARGUMENT_SPEC,
    change_diff,
    command_line,
    load_json_object,
    run_qharden,
    schema_problem,
    selection_args,
    stderr_text,
)

# apply outcomes that mean a fix did not end up on the host as planned.
UNSUCCESSFUL_RESULTS = ('refused', 'failed', 'undone', 'rolled-back')


def run_json_command(module, args, kind, accepted_exit_codes):
    """Run qharden and return (rc, stderr, document); fail the task when
    qharden printed no usable document or exited with an unexpected code
    (bad usage or config is exit 3 with an empty stdout)."""
    argv, rc, out, err = run_qharden(module, args)
    document = load_json_object(out)
    if document is None or rc not in accepted_exit_codes:
        module.fail_json(msg='%s exited with %d: %s' % (command_line(argv), rc, stderr_text(err)),
                         rc=rc, stdout=out, stderr=err, cmd=argv)
    problem = schema_problem(document, kind)
    if problem:
        module.fail_json(msg=problem, rc=rc, stdout=out, stderr=err, cmd=argv)
    return rc, err, document


def refusal_message(refusals):
    return 'qharden plan refuses, nothing was applied: ' + '; '.join(
        '%s: %s' % (refusal.get('rule', '?'), refusal.get('reason', '')) for refusal in refusals)


def apply_failure_message(report, rc):
    """qharden's own reasons for an unsuccessful apply: the outcomes that did
    not succeed, else its notes (a busy lock is reported as a note)."""
    reasons = []
    for outcome in report.get('outcomes') or []:
        if outcome.get('result') in UNSUCCESSFUL_RESULTS:
            line = '%s %s: %s' % (outcome.get('rule', '?'), outcome.get('subject', ''),
                                  outcome.get('result'))
            if outcome.get('reason'):
                line += ': ' + outcome['reason']
            reasons.append(line)
    if not reasons:
        reasons = list(report.get('notes') or [])
    if not reasons:
        reasons = ['exit code %d' % rc]
    return 'qharden apply did not complete: ' + '; '.join(reasons)


def main():
    argument_spec = dict(COMMON_ARGUMENT_SPEC)
    argument_spec.update(reload=dict(type='bool', default=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    selection = selection_args(module.params)
    plan_rc, plan_err, plan = run_json_command(
        module, ['plan', '--json', '--detailed-exitcode'] + selection, 'plan', (0, 1, 2))

    changes = plan.get('changes') or []
    refusals = plan.get('refusals') or []
    result = dict(
        changed=False,
        change_id=None,
        outcomes=[],
        notes=[],
        changes=changes,
        refusals=refusals,
        unfixed=plan.get('unfixed') or [],
        plan_exit_code=plan_rc,
    )

    # A refusal fails the check run too, so that --check predicts the real run.
    if refusals or plan_rc == 1:
        module.fail_json(msg=refusal_message(refusals), rc=plan_rc, plan=plan, stderr=plan_err, **result)

    if module._diff and changes:
        result['diff'] = [change_diff(change) for change in changes]

    if module.check_mode or not changes:
        # Without changes there is nothing for apply to do; not running it
        # keeps a compliant host's run short and takes no journal lock.
        result['changed'] = bool(changes)
        module.exit_json(**result)

    apply_args = ['apply', '--json'] + selection
    if not module.params['reload']:
        apply_args.append('--no-reload')
    # Exit 1 still carries the JSON with the reasons, so it is read, not failed on here.
    apply_rc, apply_err, report = run_json_command(module, apply_args, 'apply', (0, 1))

    result.update(
        changed=bool(report.get('changed')),
        change_id=report.get('change_id'),
        outcomes=report.get('outcomes') or [],
        notes=report.get('notes') or [],
    )
    if not result['changed']:
        # Ansible prints any returned diff; a diff of what did not happen misleads.
        result.pop('diff', None)

    if apply_rc != 0 or report.get('exit_code', 0) != 0:
        module.fail_json(msg=apply_failure_message(report, apply_rc), rc=apply_rc, apply=report,
                         stderr=apply_err, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
