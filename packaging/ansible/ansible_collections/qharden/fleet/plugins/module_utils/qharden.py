# -*- coding: utf-8 -*-
# Copyright (c) 2026 The qharden authors
# MIT License (see LICENSE in the qharden source tree)
"""Shared code of the qharden.fleet modules: running the qharden CLI and
reading its schema-1 JSON. Only the JSON is trusted for decisions; text
output and exit codes alone never decide whether something changed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os

from ansible.module_utils.six.moves import shlex_quote

# The JSON schema this collection reads. A newer qharden with another schema
# must be refused, not half-understood.
SUPPORTED_SCHEMA = 1

# qharden's exit code for bad usage or a bad config file (stdout is then empty).
EXIT_USAGE = 3

# Options shared by both modules, in DOCUMENTATION and argument_spec.
COMMON_ARGUMENT_SPEC = dict(
    rules=dict(type='list', elements='str', default=[]),
    binary=dict(type='path', default='/usr/sbin/qharden'),
    config=dict(type='path'),
    root=dict(type='path'),
    offline=dict(type='bool', default=False),
)


def selection_args(params):
    """The qharden options that select what is audited or fixed, in the order
    the CLI documents them. An empty rule list means every rule."""
    args = []
    for rule in params.get('rules') or []:
        args.extend(['--rule', rule])
    if params.get('root'):
        args.extend(['--root', params['root']])
    if params.get('config'):
        args.extend(['--config', params['config']])
    if params.get('offline'):
        args.append('--offline')
    return args


def command_line(argv):
    """A shell-quoted rendering of argv, for messages only (nothing runs it)."""
    return ' '.join(shlex_quote(word) for word in argv)


def run_qharden(module, args):
    """Run qharden with args (a list: no shell is involved) and return
    (argv, rc, stdout, stderr)."""
    binary = module.params['binary']
    # A missing binary would otherwise surface as a bare "[Errno 2]".
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        module.fail_json(msg='qharden is not installed at %s: install the qharden package '
                             'or set the binary option' % binary)
    argv = [binary] + list(args)
    # The C locale keeps qharden's stderr messages in English, as the
    # documentation and the tests quote them.
    rc, out, err = module.run_command(argv, environ_update=dict(LANG='C', LC_ALL='C'),
                                      errors='surrogate_or_replace')
    return argv, rc, out, err


def load_json_object(text):
    """The one JSON object qharden printed on stdout, or None when stdout is
    empty or not such an object (bad usage, a crash)."""
    if not text or not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return data


def schema_problem(data, kind):
    """Why data is not a schema-1 document of this kind, or None when it is.
    The audit report predates the "kind" key, so a missing kind is accepted."""
    if data.get('schema') != SUPPORTED_SCHEMA:
        return ('qharden printed JSON schema %r; this collection reads schema %d only'
                % (data.get('schema'), SUPPORTED_SCHEMA))
    if 'kind' in data and data['kind'] != kind:
        return 'qharden printed a %r document where %r was expected' % (data['kind'], kind)
    return None


def stderr_text(err):
    """stderr for a message: stripped, or a placeholder so the message still
    reads as a sentence."""
    text = (err or '').strip()
    return text if text else '(nothing on stderr)'


def _content_text(change, field):
    """One side of a file change as text for Ansible's diff renderer. base64
    content is not UTF-8 by contract; backslash escapes keep every byte
    visible without breaking the module's own JSON result."""
    value = change.get(field)
    if value is None:
        return ''
    if change.get('encoding') == 'base64':
        return base64.b64decode(value).decode('utf-8', 'backslashreplace')
    return value


def change_diff(change):
    """One entry of the module's diff list for a planned change: before/after
    for a file (Ansible renders the unified diff), qharden's own diff text as
    "prepared" for a sysctl write or a command, which have no file to show."""
    if change.get('kind') == 'file' and 'after' in change:
        path = change.get('path', '')
        return dict(before_header=path, after_header=path,
                    before=_content_text(change, 'before'),
                    after=_content_text(change, 'after'))
    return dict(prepared=change.get('diff', ''))
