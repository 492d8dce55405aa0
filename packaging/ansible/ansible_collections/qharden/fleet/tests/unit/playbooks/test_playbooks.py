# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)
"""The roll-out playbook and the role's config template, run by the real
ansible-playbook on this machine (local connection) against
fake_qharden.py: batches stop at the first host whose apply fails or whose
applied rule still fails, and qharden_config renders to the TOML it means.
The lead's end-to-end test runs the same playbooks against real qharden in
containers; this checks the playbook logic in seconds and offline."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'plugins', 'modules'))

from harness import (COLLECTIONS_ROOT, FAKE_QHARDEN, ScenarioDir, apply_doc,  # noqa: E402
                     audit_step, file_change, finding, outcome, plan_step)

COLLECTION = os.path.join(COLLECTIONS_ROOT, 'ansible_collections', 'qharden', 'fleet')
ROLLOUT = os.path.join(COLLECTION, 'playbooks', 'rollout.yml')
CONFIG_TEMPLATE = os.path.join(COLLECTION, 'roles', 'qharden', 'templates', 'qharden.toml.j2')
ANSIBLE_PLAYBOOK = shutil.which('ansible-playbook')
RECAP_LINE = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)

TCP_ENV = 'tcp-env.flags'
SMTP = '/etc/xinetd.d/smtp_psa:smtp'


def good_host():
    """A host that tcp-env.flags fixes: fails before, passes after."""
    return ScenarioDir(
        before={'audit': audit_step([finding(TCP_ENV, SMTP, 'fail')]),
                'plan': plan_step([file_change()]),
                'apply': {'exit': 0, 'mark_applied': True,
                          'json': apply_doc([outcome(TCP_ENV, SMTP, 'applied')], changed=True)}},
        after={'audit': audit_step([finding(TCP_ENV, SMTP, 'pass')]), 'plan': plan_step([])})


@unittest.skipIf(ANSIBLE_PLAYBOOK is None, 'ansible-playbook is not installed')
class PlaybookTest(unittest.TestCase):

    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix='qharden-fleet-playbook-')
        self.hosts = {}

    def tearDown(self):
        for scenario in self.hosts.values():
            scenario.remove()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def environment(self):
        env = dict(os.environ)
        env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT,
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.scratch, 'tmp'),
                   ANSIBLE_REMOTE_TEMP=os.path.join(self.scratch, 'tmp'),
                   ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
                   ANSIBLE_STDOUT_CALLBACK='default', ANSIBLE_PIPELINING='1',
                   FAKE_QHARDEN_PYTHON=sys.executable)
        return env

    def write_inventory(self):
        path = os.path.join(self.scratch, 'inventory.ini')
        with open(path, 'w') as inventory:
            inventory.write('[qharden_hosts]\n')
            for name, scenario in self.hosts.items():
                inventory.write('%s ansible_connection=local ansible_python_interpreter=%s qharden_root=%s\n'
                                % (name, sys.executable, scenario.path))
        return path

    def run_playbook(self, playbook, extra_vars, *options):
        argv = [ANSIBLE_PLAYBOOK, '-i', self.write_inventory(), playbook,
                '-e', json.dumps(extra_vars)] + list(options)
        process = subprocess.run(argv, env=self.environment(), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        recap = dict((match.group(1), {'ok': int(match.group(2)), 'changed': int(match.group(3)),
                                       'failed': int(match.group(5))})
                     for match in RECAP_LINE.finditer(process.stdout))
        return process.returncode, process.stdout, recap

    def rollout(self, apply_rules, *options):
        return self.run_playbook(ROLLOUT, {'qharden_apply_rules': apply_rules,
                                           'qharden_binary': FAKE_QHARDEN}, *options)

    def test_rollout_applies_on_every_host_in_batches(self):
        self.hosts = dict((name, good_host()) for name in ('mx1', 'mx2', 'mx3'))
        rc, output, recap = self.rollout([TCP_ENV])
        self.assertEqual(rc, 0, output)
        for name, scenario in self.hosts.items():
            self.assertEqual(recap[name]['failed'], 0, output)
            self.assertEqual(recap[name]['changed'], 1, output)
            self.assertEqual(scenario.subcommands(), ['audit', 'plan', 'apply', 'audit'])
            self.assertEqual(scenario.calls()[-1][:4], ['audit', '--json', '--rule', TCP_ENV])
        # serial [1, "10%", "100%"] on three hosts: three plays, one host each.
        self.assertEqual(output.count('PLAY [Roll out qharden fixes]'), 3, output)

    def test_refused_apply_on_the_first_host_stops_the_rollout(self):
        self.hosts = dict((name, good_host()) for name in ('mx1', 'mx2', 'mx3'))
        refused = apply_doc([outcome(TCP_ENV, SMTP, 'refused', 'the file changed since the plan')],
                            changed=False, exit_code=1, change_id=None)
        with open(os.path.join(self.hosts['mx1'].path, 'scenario.json')) as scenario_file:
            scenario = json.load(scenario_file)
        scenario['before']['apply'] = {'exit': 1, 'json': refused}
        with open(os.path.join(self.hosts['mx1'].path, 'scenario.json'), 'w') as scenario_file:
            json.dump(scenario, scenario_file)
        rc, output, recap = self.rollout([TCP_ENV])
        self.assertNotEqual(rc, 0, output)
        self.assertIn('refused: the file changed since the plan', output)
        self.assertEqual(recap['mx1']['failed'], 1, output)
        self.assertEqual(self.hosts['mx2'].calls(), [])
        self.assertEqual(self.hosts['mx3'].calls(), [])

    def test_applied_rule_still_failing_stops_the_rollout(self):
        self.hosts = dict((name, good_host()) for name in ('mx1', 'mx2'))
        still_failing = ScenarioDir(
            before={'audit': audit_step([finding(TCP_ENV, SMTP, 'fail')]),
                    'plan': plan_step([file_change()]),
                    'apply': {'exit': 0, 'mark_applied': True,
                              'json': apply_doc([outcome(TCP_ENV, SMTP, 'applied')], changed=True)}},
            after={'audit': audit_step([finding(TCP_ENV, SMTP, 'fail', message='tcp-env runs without -R')])})
        self.hosts = {'mx1': still_failing, 'mx2': self.hosts['mx2']}
        rc, output, recap = self.rollout([TCP_ENV])
        self.assertNotEqual(rc, 0, output)
        self.assertIn('still not passing: tcp-env.flags /etc/xinetd.d/smtp_psa:smtp (fail): '
                      'tcp-env runs without -R', output)
        self.assertEqual(self.hosts['mx2'].calls(), [])

    def test_rules_that_apply_did_not_change_do_not_stop_the_rollout(self):
        # A container without DNS: resolv.nameservers cannot check, and apply left it alone.
        dns_error = finding('resolv.nameservers', '/etc/resolv.conf:nameserver 10.0.0.53', 'error',
                            message='no answer within 1500 ms')
        skipped = finding(TCP_ENV, '/etc/xinetd.d/smtp_psa_old:smtp', 'skip')
        self.hosts = {}
        for name in ('mx1', 'mx2'):
            self.hosts[name] = ScenarioDir(
                before={'audit': audit_step([finding(TCP_ENV, SMTP, 'fail'), dns_error]),
                        'plan': plan_step([file_change()]),
                        'apply': {'exit': 0, 'mark_applied': True, 'json': apply_doc(
                            [outcome(TCP_ENV, SMTP, 'applied'),
                             outcome('resolv.nameservers', '/etc/resolv.conf', 'unchanged')], changed=True)}},
                after={'audit': audit_step([finding(TCP_ENV, SMTP, 'pass'), skipped, dns_error])})
        rc, output, recap = self.rollout([TCP_ENV, 'resolv.nameservers'])
        self.assertEqual(rc, 0, output)
        self.assertEqual(self.hosts['mx2'].subcommands(), ['audit', 'plan', 'apply', 'audit'])

    def test_check_mode_plans_only(self):
        self.hosts = dict((name, good_host()) for name in ('mx1', 'mx2'))
        rc, output, recap = self.rollout([TCP_ENV], '--check', '--diff')
        self.assertEqual(rc, 0, output)
        for name, scenario in self.hosts.items():
            self.assertEqual(scenario.subcommands(), ['audit', 'plan', 'audit'])
            self.assertEqual(recap[name]['changed'], 1, output)
            self.assertFalse(os.path.exists(os.path.join(scenario.path, 'applied')))
        # The default callback renders the file's before/after as a diff.
        self.assertIn('--- before: /etc/xinetd.d/smtp_psa', output)
        self.assertIn('+\tserver_args = -u popuser /var/qmail/bin/tcp-env -Rt0', output)

    def test_rollout_without_rules_stops_at_once(self):
        self.hosts = dict((name, good_host()) for name in ('mx1', 'mx2'))
        rc, output, recap = self.rollout([])
        self.assertNotEqual(rc, 0, output)
        self.assertIn('Set qharden_apply_rules', output)
        self.assertEqual(self.hosts['mx1'].calls(), [])
        self.assertEqual(self.hosts['mx2'].calls(), [])

    def render_config(self, variables):
        """Render the role's template the way the role does, with validate
        through the fake's "config check"; return (rc, output, TOML text)."""
        destination = os.path.join(self.scratch, 'qharden.toml')
        playbook = os.path.join(self.scratch, 'render.yml')
        with open(playbook, 'w') as playbook_file:
            json.dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [{
                'ansible.builtin.template': {'src': CONFIG_TEMPLATE, 'dest': destination,
                                             'validate': FAKE_QHARDEN + ' config check %s'}}]}],
                      playbook_file)
        argv = [ANSIBLE_PLAYBOOK, '-i', 'localhost,', '-c', 'local', playbook,
                '-e', json.dumps(dict(variables, ansible_python_interpreter=sys.executable))]
        process = subprocess.run(argv, env=self.environment(), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        text = None
        if os.path.exists(destination):
            with open(destination, encoding='utf-8') as toml_file:
                text = toml_file.read()
        return process.returncode, process.stdout, text

    def test_config_template_renders_nested_dicts_as_toml_tables(self):
        config = {'paths': {'resolv_conf': '/etc/resolv.conf', 'lock_wait_s': 10,
                            'run_scripts': ['/service/*/run', u'/srv/r\u00e9seau "q"/run']},
                  'rules': {'smtp.greeting': {'ports': [25, 587], 'max_ms': 3000},
                            'tcp-env.flags': {'options': '-Rt0'}},
                  'agent': {'watch': False, 'reapply': []}}
        rc, output, text = self.render_config({'qharden_config': config,
                                               'qharden_prometheus_textfile': True,
                                               'qharden_prometheus_textfile_dir': '/srv/node-exporter'})
        self.assertEqual(rc, 0, output)
        self.assertIn('\n[rules."smtp.greeting"]\nports = [25, 587]\nmax_ms = 3000\n', text)
        self.assertNotIn('[rules]\n', text)
        try:
            import tomllib
        except ImportError:  # Python before 3.11: the text checks above must do
            return
        expected = json.loads(json.dumps(config))
        expected['paths']['prometheus_textfile_dir'] = '/srv/node-exporter'
        self.assertEqual(tomllib.loads(text), expected)

    def test_config_template_without_textfile_keeps_only_the_config(self):
        rc, output, text = self.render_config({'qharden_config': {'paths': {'lock_wait_s': 5}},
                                               'qharden_prometheus_textfile': False,
                                               'qharden_prometheus_textfile_dir': '/x'})
        self.assertEqual(rc, 0, output)
        self.assertNotIn('prometheus_textfile_dir', text)
        self.assertIn('[paths]\nlock_wait_s = 5\n', text)

    def test_config_that_qharden_rejects_is_not_installed(self):
        rc, output, text = self.render_config({'qharden_config': {'paths': {'bogus': 1}},
                                               'qharden_prometheus_textfile': False,
                                               'qharden_prometheus_textfile_dir': '/x'})
        self.assertNotEqual(rc, 0, output)
        self.assertIn('failed to validate', output)
        self.assertIn(':1:1: unknown key \\"bogus\\"', output)  # as JSON in the task result
        self.assertIsNone(text)


if __name__ == '__main__':
    unittest.main()
