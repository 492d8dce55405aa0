# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)
"""qharden_audit_info against fake_qharden.py: findings are results, not
failures; only an audit without a report fails the task."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import unittest

from harness import FAKE_QHARDEN, ScenarioDir, audit_doc, audit_step, finding, run_module

from ansible_collections.qharden.fleet.plugins.modules import qharden_audit_info

PASSING = finding('tcp-env.flags', '/etc/xinetd.d/smtps_psa:smtps', 'pass')
CRITICAL_FAIL = finding('tcp-env.flags', '/etc/xinetd.d/smtp_psa:smtp', 'fail', 'critical')
WARNING_FAIL = finding('sysctl.tcp-fin-timeout', 'sysctl.d:net.ipv4.tcp_fin_timeout', 'fail', 'warning')
DNS_ERROR = finding('resolv.nameservers', '/etc/resolv.conf:nameserver 10.0.0.53', 'error', 'critical',
                    message='no answer within 1500 ms')


class QhardenAuditInfoTest(unittest.TestCase):

    def setUp(self):
        self.scenarios = []

    def tearDown(self):
        for scenario in self.scenarios:
            scenario.remove()

    def audit(self, step, check_mode=False, **params):
        scenario = ScenarioDir({'audit': step})
        self.scenarios.append(scenario)
        params.setdefault('binary', FAKE_QHARDEN)
        params.setdefault('root', scenario.path)
        failed, result = run_module(qharden_audit_info.main, params, check_mode=check_mode)
        return scenario, failed, result

    def test_clean_audit_returns_the_report(self):
        step = audit_step([PASSING])
        scenario, failed, result = self.audit(step)
        self.assertFalse(failed, result.get('msg'))
        self.assertFalse(result['changed'])
        self.assertEqual(result['exit_code'], 0)
        self.assertEqual(result['report'], step['json'])
        self.assertEqual(scenario.calls(), [['audit', '--json', '--root', scenario.path]])

    def test_failing_findings_are_results_not_task_failures(self):
        for findings, exit_code in (([PASSING, CRITICAL_FAIL], 2), ([PASSING, WARNING_FAIL], 1)):
            scenario, failed, result = self.audit(audit_step(findings))
            self.assertFalse(failed, result.get('msg'))
            self.assertFalse(result['changed'])
            self.assertEqual(result['exit_code'], exit_code)
            self.assertEqual(result['report']['counts']['fail'], 1)

    def test_a_rule_that_could_not_check_is_returned_with_exit_code_3(self):
        scenario, failed, result = self.audit(audit_step([PASSING, DNS_ERROR],
                                                         stderr='resolv.nameservers: no DNS\n'))
        self.assertFalse(failed, result.get('msg'))
        self.assertEqual(result['exit_code'], 3)
        self.assertEqual(result['report']['findings'][1]['status'], 'error')

    def test_exit_3_without_report_fails_with_stderr(self):
        message = '/etc/qharden/qharden.toml:7:12: rules."smtp.greeting".max_ms: expected an integer\n'
        scenario, failed, result = self.audit({'exit': 3, 'stderr': message})
        self.assertTrue(failed)
        self.assertIn(message.strip(), result['msg'])
        self.assertEqual(result['rc'], 3)
        self.assertEqual(result['stderr'], message)

    def test_a_crash_fails_even_after_a_report(self):
        scenario, failed, result = self.audit({'exit': 134, 'json': audit_doc([PASSING]),
                                               'stderr': 'terminate called after throwing\n'})
        self.assertTrue(failed)
        self.assertIn('exited with 134', result['msg'])

    def test_check_mode_audits_as_well(self):
        scenario, failed, result = self.audit(audit_step([CRITICAL_FAIL]), check_mode=True)
        self.assertFalse(failed, result.get('msg'))
        self.assertFalse(result['changed'])
        self.assertEqual(result['exit_code'], 2)
        self.assertEqual(scenario.subcommands(), ['audit'])

    def test_selection_options_are_passed(self):
        scenario, failed, result = self.audit(audit_step([PASSING]), rules=['tcp-env.flags', 'smtp.greeting'],
                                              config='/tmp/q.toml', offline=True)
        self.assertFalse(failed, result.get('msg'))
        self.assertEqual(scenario.calls(), [[
            'audit', '--json', '--rule', 'tcp-env.flags', '--rule', 'smtp.greeting',
            '--root', scenario.path, '--config', '/tmp/q.toml', '--offline']])

    def test_a_plan_document_is_not_taken_for_a_report(self):
        document = audit_doc([PASSING])
        document['kind'] = 'plan'
        scenario, failed, result = self.audit({'exit': 0, 'json': document})
        self.assertTrue(failed)
        self.assertIn("'plan' document", result['msg'])


if __name__ == '__main__':
    unittest.main()
