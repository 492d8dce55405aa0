# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)
"""A stand-in for the qharden CLI, run through the fake-qharden script, for
the modules' unit tests and the playbook checks of
tests/lint/ansible_test.sh. It accepts the command lines
of the issue 13 contract only (anything else is bad usage, exit 3, as with
the real CLI), so a module that builds a wrong command line fails its test.

What it prints comes from DIR/scenario.json, where DIR is the --root given
or else $FAKE_QHARDEN_DIR:

  {"before": {"plan":  {"exit": 2, "json": {...}},
              "apply": {"exit": 0, "json": {...}, "mark_applied": true},
              "audit": {"exit": 2, "stdout": "raw text", "stderr": "..."}},
   "after":  {"plan": {...}, "audit": {...}}}

"after" is used once an apply with "mark_applied" ran (DIR/applied exists),
and falls back to "before" per command, so a test can model a host that a
fix made compliant. Every call is appended to DIR/calls.jsonl as its argv.
"config check FILE" needs no scenario: a file containing "bogus" is
invalid."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys

# The options each subcommand takes, per the contract: name -> takes a value.
COMMON_OPTIONS = {'--rule': True, '--root': True, '--config': True, '--offline': False}
SUBCOMMAND_OPTIONS = {
    'audit': dict(COMMON_OPTIONS, **{'--json': False}),
    'plan': dict(COMMON_OPTIONS, **{'--json': False, '--detailed-exitcode': False}),
    'apply': dict(COMMON_OPTIONS, **{'--json': False, '--no-reload': False}),
}
EXIT_USAGE = 3


def usage_error(message):
    sys.stderr.write('qharden: %s\n' % message)
    sys.exit(EXIT_USAGE)


def parse_options(subcommand, words):
    """The options as a dict (repeatable --rule as a list); bad usage exits 3."""
    known = SUBCOMMAND_OPTIONS[subcommand]
    options = {'--rule': []}
    index = 0
    while index < len(words):
        word = words[index]
        if word not in known:
            usage_error('%s: unknown option %s' % (subcommand, word))
        if known[word]:
            if index + 1 >= len(words):
                usage_error('%s: %s needs a value' % (subcommand, word))
            value = words[index + 1]
            if word == '--rule':
                options['--rule'].append(value)
            else:
                options[word] = value
            index += 2
        else:
            options[word] = True
            index += 1
    return options


def config_check(words):
    if len(words) != 1:
        usage_error('config check: exactly one FILE')
    path = words[0]
    try:
        with open(path) as config_file:
            text = config_file.read()
    except (IOError, OSError) as error:
        sys.stderr.write('%s: %s\n' % (path, error))
        return EXIT_USAGE
    if 'bogus' in text:
        sys.stderr.write('%s:1:1: unknown key "bogus"\n' % path)
        return EXIT_USAGE
    sys.stdout.write('%s: valid\n' % path)
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == 'config' and argv[1] == 'check':
        return config_check(argv[2:])
    if not argv or argv[0] not in SUBCOMMAND_OPTIONS:
        usage_error('unknown command %s' % (argv[0] if argv else '(none)'))
    subcommand = argv[0]
    options = parse_options(subcommand, argv[1:])
    # The JSON contract is all the modules may rely on; text output is not faked.
    if '--json' not in options:
        usage_error('%s: this stand-in speaks JSON only' % subcommand)

    scenario_dir = options.get('--root') or os.environ.get('FAKE_QHARDEN_DIR')
    if not scenario_dir:
        usage_error('no --root and no FAKE_QHARDEN_DIR')
    with open(os.path.join(scenario_dir, 'calls.jsonl'), 'a') as calls:
        calls.write(json.dumps(argv) + '\n')
    with open(os.path.join(scenario_dir, 'scenario.json')) as scenario_file:
        scenario = json.load(scenario_file)

    applied_marker = os.path.join(scenario_dir, 'applied')
    phase = 'after' if os.path.exists(applied_marker) else 'before'
    step = scenario.get(phase, {}).get(subcommand) or scenario.get('before', {}).get(subcommand)
    if step is None:
        usage_error('scenario has no %s step' % subcommand)

    if 'json' in step:
        sys.stdout.write(json.dumps(step['json']) + '\n')
    sys.stdout.write(step.get('stdout', ''))
    sys.stderr.write(step.get('stderr', ''))
    if step.get('mark_applied'):
        open(applied_marker, 'w').close()
    return step.get('exit', 0)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
