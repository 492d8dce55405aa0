# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)
"""qharden_apply against fake_qharden.py: which commands run in check and
real mode, where changed comes from, the diff entries, and how failures
carry qharden's reasons."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import unittest

import harness
from harness import (FAKE_QHARDEN, ScenarioDir, apply_doc, base64_file_change, command_change,
                     file_change, outcome, plan_doc, plan_step, run_module, sysctl_change)

from ansible_collections.qharden.fleet.plugins.modules import qharden_apply

SMTP_SUBJECT = '/etc/xinetd.d/smtp_psa:smtp'


def applied_tcp_env(changed=True):
    return {'exit': 0, 'mark_applied': changed,
            'json': apply_doc([outcome('tcp-env.flags', SMTP_SUBJECT, 'applied' if changed else 'unchanged')],
                              changed=changed, change_id='20261206T101500Z-1a2b' if changed else None,
                              notes=['xinetd reloaded (pid 123)',
                                     'tcp-env.flags: verified, passes after the fix'])}


class QhardenApplyTest(unittest.TestCase):

    def setUp(self):
        self.scenarios = []

    def tearDown(self):
        for scenario in self.scenarios:
            scenario.remove()

    def scenario(self, before, after=None):
        scenario = ScenarioDir(before, after)
        self.scenarios.append(scenario)
        return scenario

    def run_apply(self, scenario, check_mode=False, diff=False, **params):
        params.setdefault('binary', FAKE_QHARDEN)
        params.setdefault('root', scenario.path)
        params.setdefault('rules', ['tcp-env.flags'])
        return run_module(qharden_apply.main, params, check_mode=check_mode, diff=diff)

    def test_check_mode_runs_the_plan_only_and_reports_its_changes(self):
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': applied_tcp_env()})
        failed, result = self.run_apply(scenario, check_mode=True)
        self.assertFalse(failed, result.get('msg'))
        self.assertTrue(result['changed'])
        self.assertEqual(scenario.calls(), [
            ['plan', '--json', '--detailed-exitcode', '--rule', 'tcp-env.flags', '--root', scenario.path]])
        self.assertEqual(result['plan_exit_code'], 2)
        self.assertEqual(result['changes'], [file_change()])
        self.assertIsNone(result['change_id'])
        self.assertEqual(result['outcomes'], [])
        self.assertNotIn('diff', result)

    def test_check_mode_without_changes_is_not_changed(self):
        scenario = self.scenario({'plan': plan_step([])})
        failed, result = self.run_apply(scenario, check_mode=True, diff=True)
        self.assertFalse(failed, result.get('msg'))
        self.assertFalse(result['changed'])
        self.assertEqual(result['plan_exit_code'], 0)
        self.assertNotIn('diff', result)

    def test_diff_has_one_entry_per_change(self):
        changes = [file_change(), base64_file_change(), sysctl_change(), command_change()]
        scenario = self.scenario({'plan': plan_step(changes)})
        failed, result = self.run_apply(scenario, check_mode=True, diff=True, rules=[])
        self.assertFalse(failed, result.get('msg'))
        file_diff, base64_diff, sysctl_diff, command_diff = result['diff']
        self.assertEqual(file_diff, {'before_header': '/etc/xinetd.d/smtp_psa',
                                     'after_header': '/etc/xinetd.d/smtp_psa',
                                     'before': harness.SMTP_PSA_BEFORE, 'after': harness.SMTP_PSA_AFTER})
        # The bytes are decoded; the one that is not UTF-8 stays visible as an escape.
        self.assertEqual(base64_diff['before_header'], '/service/smtp/run')
        self.assertEqual(base64_diff['before'], u'# r\\xe9seau\nexec tcpserver -v 0 smtp qmail-smtpd\n')
        self.assertEqual(base64_diff['after'], u'# r\\xe9seau\nexec tcpserver -R -v 0 smtp qmail-smtpd\n')
        self.assertEqual(sysctl_diff, {'prepared': sysctl_change()['diff']})
        self.assertEqual(command_diff, {'prepared': command_change()['diff']})

    def test_utf8_content_that_is_not_ascii_is_shown_as_is(self):
        change = file_change()
        change['after'] = change['after'].replace(u'service smtp', u'# r\u00e9seau\nservice smtp')
        scenario = self.scenario({'plan': plan_step([change])})
        failed, result = self.run_apply(scenario, check_mode=True, diff=True)
        self.assertFalse(failed, result.get('msg'))
        self.assertTrue(result['diff'][0]['after'].startswith(u'# r\u00e9seau\n'))

    def test_real_mode_plans_then_applies_and_changed_comes_from_apply(self):
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': applied_tcp_env()})
        failed, result = self.run_apply(scenario, diff=True)
        self.assertFalse(failed, result.get('msg'))
        self.assertTrue(result['changed'])
        self.assertEqual(scenario.calls(), [
            ['plan', '--json', '--detailed-exitcode', '--rule', 'tcp-env.flags', '--root', scenario.path],
            ['apply', '--json', '--rule', 'tcp-env.flags', '--root', scenario.path]])
        self.assertEqual(result['change_id'], '20261206T101500Z-1a2b')
        self.assertEqual(result['outcomes'], [outcome('tcp-env.flags', SMTP_SUBJECT, 'applied')])
        self.assertEqual(result['notes'][0], 'xinetd reloaded (pid 123)')
        self.assertEqual(result['changes'], [file_change()])
        self.assertEqual(len(result['diff']), 1)

    def test_second_run_is_idempotent_and_does_not_run_apply(self):
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': applied_tcp_env()},
                                 after={'plan': plan_step([])})
        failed, first = self.run_apply(scenario)
        self.assertFalse(failed, first.get('msg'))
        self.assertTrue(first['changed'])
        failed, second = self.run_apply(scenario, diff=True)
        self.assertFalse(failed, second.get('msg'))
        self.assertFalse(second['changed'])
        self.assertNotIn('diff', second)
        self.assertEqual(scenario.subcommands(), ['plan', 'apply', 'plan'])

    def test_apply_reporting_no_change_is_not_changed_even_with_planned_changes(self):
        # The host became compliant between plan and apply: apply's JSON decides.
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': applied_tcp_env(changed=False)})
        failed, result = self.run_apply(scenario, diff=True)
        self.assertFalse(failed, result.get('msg'))
        self.assertFalse(result['changed'])
        self.assertIsNone(result['change_id'])
        self.assertNotIn('diff', result)

    def test_reload_false_passes_no_reload_to_apply_only(self):
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': applied_tcp_env()})
        failed, result = self.run_apply(scenario, reload=False)
        self.assertFalse(failed, result.get('msg'))
        plan_call, apply_call = scenario.calls()
        self.assertNotIn('--no-reload', plan_call)
        self.assertEqual(apply_call[-1], '--no-reload')

    def test_selection_options_reach_both_commands(self):
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': applied_tcp_env()})
        failed, result = self.run_apply(scenario, rules=['tcp-env.flags', 'sysctl.tcp-fin-timeout'],
                                        config='/etc/qharden/test.toml', offline=True)
        self.assertFalse(failed, result.get('msg'))
        selection = ['--rule', 'tcp-env.flags', '--rule', 'sysctl.tcp-fin-timeout',
                     '--root', scenario.path, '--config', '/etc/qharden/test.toml', '--offline']
        self.assertEqual(scenario.calls(), [['plan', '--json', '--detailed-exitcode'] + selection,
                                            ['apply', '--json'] + selection])

    def test_no_rules_means_no_rule_option(self):
        scenario = self.scenario({'plan': plan_step([])})
        os.environ['FAKE_QHARDEN_DIR'] = scenario.path
        try:
            failed, result = run_module(qharden_apply.main, {'binary': FAKE_QHARDEN})
        finally:
            del os.environ['FAKE_QHARDEN_DIR']
        self.assertFalse(failed, result.get('msg'))
        self.assertEqual(scenario.calls(), [['plan', '--json', '--detailed-exitcode']])

    def test_plan_refusal_fails_before_anything_is_applied(self):
        refusal = {'rule': 'rblsmtpd.sources', 'reason': 'fixed only when named (--rule rblsmtpd.sources)'}
        plan = plan_step([file_change()], refusals=[refusal])
        for check_mode in (True, False):
            scenario = self.scenario({'plan': plan, 'apply': applied_tcp_env()})
            failed, result = self.run_apply(scenario, check_mode=check_mode, rules=[])
            self.assertTrue(failed)
            self.assertIn('rblsmtpd.sources: fixed only when named (--rule rblsmtpd.sources)', result['msg'])
            self.assertEqual(result['rc'], 1)
            self.assertEqual(result['plan'], plan['json'])
            self.assertEqual(result['refusals'], [refusal])
            self.assertFalse(result['changed'])
            self.assertEqual(scenario.subcommands(), ['plan'])

    def test_apply_refusal_fails_with_the_outcomes_reasons(self):
        report = apply_doc([
            outcome('tcp-env.flags', '/etc/xinetd.d/smtp_psa:smtp', 'undone',
                    'because /etc/xinetd.d/submission_psa:submission was refused'),
            outcome('tcp-env.flags', '/etc/xinetd.d/submission_psa:submission', 'refused',
                    'the file changed since the plan'),
            outcome('sysctl.tcp-fin-timeout', '/proc/sys/net/ipv4/tcp_fin_timeout', 'applied')],
            changed=True, exit_code=1)
        scenario = self.scenario({'plan': plan_step([file_change(), sysctl_change()]),
                                  'apply': {'exit': 1, 'json': report}})
        failed, result = self.run_apply(scenario, rules=['tcp-env.flags', 'sysctl.tcp-fin-timeout'])
        self.assertTrue(failed)
        self.assertIn('/etc/xinetd.d/submission_psa:submission: refused: the file changed since the plan',
                      result['msg'])
        self.assertIn('smtp_psa:smtp: undone: because /etc/xinetd.d/submission_psa:submission was refused',
                      result['msg'])
        self.assertNotIn('tcp_fin_timeout', result['msg'])
        self.assertEqual(result['rc'], 1)
        self.assertEqual(result['apply'], report)
        # What did happen is still reported.
        self.assertTrue(result['changed'])
        self.assertEqual(result['change_id'], report['change_id'])

    def test_rolled_back_fix_fails(self):
        report = apply_doc([outcome('tcp-env.flags', SMTP_SUBJECT, 'rolled-back',
                                    'still failing after the fix: tcp-env runs without -R')],
                           changed=False, exit_code=1, change_id=None)
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': {'exit': 1, 'json': report}})
        failed, result = self.run_apply(scenario)
        self.assertTrue(failed)
        self.assertIn('rolled-back: still failing after the fix', result['msg'])
        self.assertFalse(result['changed'])

    def test_busy_lock_fails_with_the_note(self):
        report = apply_doc([], changed=False, exit_code=1, change_id=None,
                           notes=['another qharden holds /var/lib/qharden/lock (waited 30 s)'])
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': {'exit': 1, 'json': report}})
        failed, result = self.run_apply(scenario)
        self.assertTrue(failed)
        self.assertIn('another qharden holds /var/lib/qharden/lock', result['msg'])

    def test_bad_config_fails_with_stderr(self):
        message = '/etc/qharden/qharden.toml:3:1: unknown key "bogus" in [paths]\n'
        scenario = self.scenario({'plan': {'exit': 3, 'stderr': message}})
        failed, result = self.run_apply(scenario, check_mode=True)
        self.assertTrue(failed)
        self.assertIn(message.strip(), result['msg'])
        self.assertEqual(result['rc'], 3)
        self.assertEqual(result['stderr'], message)

    def test_apply_usage_error_fails_with_stderr(self):
        message = 'qharden: apply: --rule nosuch.rule: no such rule\n'
        scenario = self.scenario({'plan': plan_step([file_change()]), 'apply': {'exit': 3, 'stderr': message}})
        failed, result = self.run_apply(scenario)
        self.assertTrue(failed)
        self.assertIn(message.strip(), result['msg'])
        self.assertEqual(result['rc'], 3)

    def test_text_instead_of_json_fails(self):
        scenario = self.scenario({'plan': {'exit': 0, 'stdout': '# tcp-env.flags  /etc/xinetd.d/smtp_psa\n'}})
        failed, result = self.run_apply(scenario, check_mode=True)
        self.assertTrue(failed)
        self.assertIn('exited with 0', result['msg'])

    def test_other_schema_is_refused(self):
        document = plan_doc([file_change()])
        document['schema'] = 2
        scenario = self.scenario({'plan': {'exit': 2, 'json': document}})
        failed, result = self.run_apply(scenario, check_mode=True)
        self.assertTrue(failed)
        self.assertIn('schema 2', result['msg'])

    def test_missing_binary_fails_with_a_clear_message(self):
        scenario = self.scenario({'plan': plan_step([])})
        failed, result = self.run_apply(scenario, binary=os.path.join(scenario.path, 'no-qharden'))
        self.assertTrue(failed)
        self.assertIn('qharden is not installed at', result['msg'])
        self.assertEqual(scenario.calls(), [])

    def test_wrong_option_type_is_rejected_by_ansible(self):
        scenario = self.scenario({'plan': plan_step([])})
        failed, result = self.run_apply(scenario, reload='perhaps')
        self.assertTrue(failed)
        self.assertIn('reload', result['msg'])


if __name__ == '__main__':
    unittest.main()
