# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)
"""The role's defaults/main.yml and meta/argument_specs.yml name the same
variables with the same defaults: Ansible validates the arguments against
the spec but takes the values from defaults, so a drift between the two
would document one default and use another."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import unittest

import yaml

ROLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'roles', 'qharden')


def load(relative_path):
    with open(os.path.join(ROLE, relative_path)) as yaml_file:
        return yaml.safe_load(yaml_file)


class RoleDefaultsTest(unittest.TestCase):

    def test_defaults_and_argument_specs_agree(self):
        defaults = load('defaults/main.yml')
        options = load('meta/argument_specs.yml')['argument_specs']['main']['options']
        self.assertEqual(sorted(defaults), sorted(options))
        for name, spec in options.items():
            self.assertIn('default', spec, name)
            self.assertEqual(spec['default'], defaults[name], name)
            self.assertTrue(spec.get('description'), name)

    def test_every_default_variable_has_the_role_prefix(self):
        for name in load('defaults/main.yml'):
            self.assertTrue(name.startswith('qharden_'), name)

    def test_apply_is_off_by_default(self):
        self.assertEqual(load('defaults/main.yml')['qharden_apply_rules'], [])
        self.assertEqual(load('defaults/main.yml')['qharden_config'], {})


if __name__ == '__main__':
    unittest.main()
