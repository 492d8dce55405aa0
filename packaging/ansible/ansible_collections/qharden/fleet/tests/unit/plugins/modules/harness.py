# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)
"""What the module unit tests share: running a module's main() in-process
with given parameters, a scenario folder for fake_qharden.py, and JSON
documents shaped like the issue 13 contract. Plain unittest, so that the
tests run offline with Debian's python3 and ansible-core (ansible-test units
would build a pip venv)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# .../packaging/ansible/ansible_collections/qharden/fleet/tests/unit/plugins/modules
COLLECTIONS_ROOT = os.path.abspath(os.path.join(HERE, *(['..'] * 7)))
if COLLECTIONS_ROOT not in sys.path:
    # First, so that this tree's collection is the one imported.
    sys.path.insert(0, COLLECTIONS_ROOT)

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes  # noqa: E402

FAKE_QHARDEN = os.path.join(HERE, 'fake-qharden')


class ModuleExited(Exception):
    """exit_json was called; the result is in .result."""

    def __init__(self, result):
        super(ModuleExited, self).__init__(result)
        self.result = result


class ModuleFailed(Exception):
    """fail_json was called; the result is in .result."""

    def __init__(self, result):
        super(ModuleFailed, self).__init__(result)
        self.result = result


def _exit_json(module, **result):
    result.setdefault('changed', False)
    raise ModuleExited(result)


def _fail_json(module, **result):
    result['failed'] = True
    raise ModuleFailed(result)


def run_module(main, params, check_mode=False, diff=False):
    """Run main() with params as Ansible would pass them and return
    (failed, result). exit_json/fail_json raise instead of printing and
    exiting, so the result dict can be inspected."""
    arguments = dict(params)
    arguments['_ansible_check_mode'] = check_mode
    arguments['_ansible_diff'] = diff
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': arguments}))
    saved = (basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json)
    basic.AnsibleModule.exit_json = _exit_json
    basic.AnsibleModule.fail_json = _fail_json
    try:
        main()
    except ModuleExited as exited:
        return False, exited.result
    except ModuleFailed as failed:
        return True, failed.result
    finally:
        basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json = saved
        basic._ANSIBLE_ARGS = None
    raise AssertionError('the module returned without exit_json or fail_json')


class ScenarioDir(object):
    """A temporary folder with scenario.json for fake_qharden.py; it is also
    the --root the modules pass, which is how the fake finds it."""

    def __init__(self, before, after=None):
        self.path = tempfile.mkdtemp(prefix='qharden-fleet-test-')
        with open(os.path.join(self.path, 'scenario.json'), 'w') as scenario_file:
            json.dump({'before': before, 'after': after or {}}, scenario_file)

    def calls(self):
        """The argv of every fake qharden call, in order (binary not included)."""
        calls_path = os.path.join(self.path, 'calls.jsonl')
        if not os.path.exists(calls_path):
            return []
        with open(calls_path) as calls_file:
            return [json.loads(line) for line in calls_file if line.strip()]

    def subcommands(self):
        return [argv[0] for argv in self.calls()]

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


TOOL = {'name': 'qharden', 'version': '0.2.0'}

SMTP_PSA_BEFORE = (u'service smtp\n{\n\tserver_args = -u popuser /var/qmail/bin/tcp-env '
                   u'/var/qmail/bin/relaylock /var/qmail/bin/qmail-smtpd\n}\n')
SMTP_PSA_AFTER = SMTP_PSA_BEFORE.replace(u'tcp-env ', u'tcp-env -Rt0 ')
# Not UTF-8 (a Latin-1 comment), so the contract sends it as base64.
LATIN1_BEFORE = b'# r\xe9seau\nexec tcpserver -v 0 smtp qmail-smtpd\n'
LATIN1_AFTER = b'# r\xe9seau\nexec tcpserver -R -v 0 smtp qmail-smtpd\n'


def file_change():
    return {'rule': 'tcp-env.flags', 'subject': '/etc/xinetd.d/smtp_psa:smtp',
            'summary': "smtp (line 1): set tcp-env's options to -Rt0",
            'kind': 'file', 'path': '/etc/xinetd.d/smtp_psa', 'create': False,
            'encoding': 'utf-8', 'before': SMTP_PSA_BEFORE, 'after': SMTP_PSA_AFTER,
            'diff': '--- a/etc/xinetd.d/smtp_psa\n+++ b/etc/xinetd.d/smtp_psa\n@@ -3 +3 @@\n'}


def base64_file_change():
    return {'rule': 'tcpserver.flags', 'subject': '/service/smtp/run',
            'summary': 'tcpserver: add -R', 'kind': 'file', 'path': '/service/smtp/run',
            'create': False, 'encoding': 'base64',
            'before': base64.b64encode(LATIN1_BEFORE).decode('ascii'),
            'after': base64.b64encode(LATIN1_AFTER).decode('ascii'),
            'diff': '--- a/service/smtp/run\n+++ b/service/smtp/run\n'}


def sysctl_change():
    return {'rule': 'sysctl.tcp-fin-timeout', 'subject': '/proc/sys/net/ipv4/tcp_fin_timeout',
            'summary': 'set net.ipv4.tcp_fin_timeout to 30', 'kind': 'sysctl',
            'path': '/proc/sys/net/ipv4/tcp_fin_timeout', 'key': 'net.ipv4.tcp_fin_timeout',
            'encoding': 'utf-8', 'before': '60', 'after': '30',
            'diff': 'write /proc/sys/net/ipv4/tcp_fin_timeout: 60 -> 30\n'}


def command_change():
    return {'rule': 'firewall.ident-reject', 'subject': 'iptables:INPUT',
            'summary': 'reject ident (tcp/113) at once', 'kind': 'command',
            'argv': ['iptables', '-w', '-I', 'INPUT', '-p', 'tcp', '--dport', '113', '-j', 'REJECT'],
            'undo_argv': ['iptables', '-w', '-D', 'INPUT', '-p', 'tcp', '--dport', '113', '-j', 'REJECT'],
            'diff': 'run: iptables -w -I INPUT ...\nundo: iptables -w -D INPUT ...\n'}


def plan_doc(changes=(), refusals=(), unfixed=()):
    changes = list(changes)
    refusals = list(refusals)
    exit_code = 1 if refusals else (2 if changes else 0)
    return {'schema': 1, 'kind': 'plan', 'tool': TOOL, 'host': 'mx1', 'root': '/', 'offline': False,
            'changes': changes, 'refusals': refusals, 'unfixed': list(unfixed),
            'pending': len(changes), 'exit_code': exit_code}


def plan_step(changes=(), refusals=(), unfixed=()):
    """A plan step whose exit code is what --detailed-exitcode returns."""
    document = plan_doc(changes, refusals, unfixed)
    return {'exit': document['exit_code'], 'json': document}


def apply_doc(outcomes, changed, exit_code=0, notes=(), change_id='20261206T101500Z-1a2b'):
    return {'schema': 1, 'kind': 'apply', 'tool': TOOL, 'host': 'mx1', 'root': '/', 'offline': False,
            'change_id': change_id, 'changed': changed, 'outcomes': list(outcomes),
            'notes': list(notes), 'exit_code': exit_code}


def outcome(rule, subject, result, reason=''):
    return {'rule': rule, 'subject': subject, 'result': result, 'reason': reason}


def finding(rule, subject, status, severity='critical', message='', fixable=True):
    return {'rule': rule, 'subject': subject, 'status': status, 'severity': severity,
            'fixable': fixable, 'message': message or '%s %s' % (rule, status), 'evidence': {}}


def audit_doc(findings):
    """An audit report as rules/engine/report.cpp report_json writes it."""
    findings = list(findings)
    counts = dict((status, 0) for status in ('pass', 'fail', 'error', 'skip'))
    for entry in findings:
        counts[entry['status']] += 1
    failing = [entry for entry in findings if entry['status'] == 'fail']
    if any(entry['severity'] == 'critical' for entry in failing):
        exit_code = 2
    elif any(entry['severity'] == 'warning' for entry in failing):
        exit_code = 1
    elif counts['error']:
        exit_code = 3
    else:
        exit_code = 0
    return {'schema': 1, 'tool': TOOL, 'host': 'mx1', 'root': '/', 'offline': False,
            'started_at': '2026-12-06T10:15:00Z', 'duration_ms': 0.7,
            'status': 'fail' if failing else 'pass', 'exit_code': exit_code,
            'counts': counts, 'findings': findings}


def audit_step(findings, stderr=''):
    document = audit_doc(findings)
    return {'exit': document['exit_code'], 'json': document, 'stderr': stderr}
